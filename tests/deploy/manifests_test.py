"""deploy/docker-compose.yml, deploy/k8s/ and the Dockerfile agree with each
other: ports, names, paths, the non-root uid. No docker or kubectl is needed
(nor available on the development machines); this checks what a review would.
"""

import glob
import os
import re
import sys
import unittest

try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing: apt-get install python3-yaml (scripts/install_deps.sh)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quantd_process  # noqa: E402

SOURCE_DIR = quantd_process.required_env("QUANTD_SOURCE_DIR")
DEPLOY_DIR = os.path.join(SOURCE_DIR, "deploy")
K8S_DIR = os.path.join(DEPLOY_DIR, "k8s")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def dockerfile_runtime_stage():
    """Lines of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", read(os.path.join(SOURCE_DIR, "Dockerfile")))
    stage = text[text.rfind("\nFROM "):]
    return [line.strip() for line in stage.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def entrypoint_flag(name):
    (entrypoint,) = [l for l in dockerfile_runtime_stage() if l.startswith("ENTRYPOINT")]
    return re.search(rf"--{name}=([^\"]+)", entrypoint).group(1)


class DockerfileTest(unittest.TestCase):
    def test_runs_as_numeric_non_root_user(self):
        (user,) = [l.split()[1] for l in dockerfile_runtime_stage() if l.startswith("USER")]
        uid = user.split(":")[0]
        self.assertTrue(uid.isdigit() and int(uid) != 0,
                        f"USER {user}: Kubernetes' runAsNonRoot needs a numeric non-zero uid")

    def test_exposes_the_ports_quantd_listens_on(self):
        exposed = set()
        for line in dockerfile_runtime_stage():
            if line.startswith("EXPOSE"):
                exposed |= set(line.split()[1:])
        for flag in ("listen", "metrics_listen"):
            self.assertIn(entrypoint_flag(flag).rsplit(":", 1)[1], exposed, flag)
            self.assertTrue(entrypoint_flag(flag).startswith("0.0.0.0:"), flag)

    def test_healthcheck_uses_a_program_in_the_image(self):
        (check,) = [l for l in dockerfile_runtime_stage() if l.startswith("HEALTHCHECK")]
        program = re.search(r'CMD \["([^"]+)"', check).group(1)
        copied = " ".join(l for l in dockerfile_runtime_stage() if l.startswith("COPY"))
        self.assertIn(os.path.basename(program), copied)
        self.assertTrue(program.startswith("/usr/local/bin/"))

    def test_copied_source_folders_exist(self):
        text = read(os.path.join(SOURCE_DIR, "Dockerfile"))
        for source in re.findall(r"^COPY (?!--from)(\S+) ", text, re.M):
            self.assertTrue(os.path.exists(os.path.join(SOURCE_DIR, source)), source)

    def test_copies_every_folder_the_build_always_needs(self):
        """The build stage copies source folders one by one (to keep build-*/
        and node_modules out): a new unconditional add_subdirectory() in the
        top-level CMakeLists.txt must be copied too."""
        copied = set(re.findall(r"^COPY (?!--from)(\S+) ",
                                read(os.path.join(SOURCE_DIR, "Dockerfile")), re.M))
        depth, needed = 0, []
        for line in read(os.path.join(SOURCE_DIR, "CMakeLists.txt")).splitlines():
            line = line.split("#", 1)[0].strip()
            if re.match(r"if\s*\(", line):
                depth += 1
            elif re.match(r"endif\s*\(", line):
                depth -= 1
            match = re.match(r"add_subdirectory\s*\(\s*(\S+?)\s*\)", line)
            if match and depth == 0:
                needed.append(match.group(1))
        self.assertTrue(needed)
        self.assertEqual([d for d in needed if d not in copied], [])


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.compose = load_yaml(os.path.join(DEPLOY_DIR, "docker-compose.yml"))
        cls.services = cls.compose["services"]

    def test_quantd_built_from_the_repository_dockerfile(self):
        build = self.services["quantd"]["build"]
        context = os.path.join(DEPLOY_DIR, build["context"])
        self.assertTrue(os.path.samefile(context, SOURCE_DIR))
        self.assertTrue(os.path.isfile(os.path.join(context, build["dockerfile"])))

    def test_quantd_data_dir_is_a_volume(self):
        data_dir = entrypoint_flag("data_dir")
        targets = {v.split(":")[1]: v.split(":")[0] for v in self.services["quantd"]["volumes"]}
        self.assertIn(data_dir, targets)
        self.assertIn(targets[data_dir], self.compose["volumes"])

    def test_quantd_healthcheck(self):
        test = self.services["quantd"]["healthcheck"]["test"]
        self.assertEqual(test[0], "CMD")
        grpc_port = entrypoint_flag("listen").rsplit(":", 1)[1]
        self.assertIn(f"--server=127.0.0.1:{grpc_port}", test)

    def test_quantd_gets_its_token_file(self):
        targets = {v.split(":")[1]: v.split(":")[0] for v in self.services["quantd"]["volumes"]}
        self.assertIn(entrypoint_flag("token_file"), targets)

    def test_quantd_publishes_grpc_on_loopback_only(self):
        for port in self.services["quantd"]["ports"]:
            self.assertTrue(str(port).startswith("127.0.0.1:"), port)

    def test_prometheus_scrapes_the_quantd_service(self):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in self.services["prometheus"]["volumes"]}
        config_flag = [c for c in self.services["prometheus"]["command"]
                       if c.startswith("--config.file=")][0].split("=", 1)[1]
        config_path = os.path.join(DEPLOY_DIR, mounts[config_flag])
        self.assertTrue(os.path.samefile(config_path, os.path.join(DEPLOY_DIR, "prometheus.yml")))
        targets = [t for job in load_yaml(config_path)["scrape_configs"]
                   for sc in job.get("static_configs", []) for t in sc["targets"]]
        metrics_port = entrypoint_flag("metrics_listen").rsplit(":", 1)[1]
        self.assertIn(f"quantd:{metrics_port}", targets)

    def test_grafana_mounts_exist(self):
        for volume in self.services["grafana"]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                self.assertTrue(os.path.isdir(os.path.join(DEPLOY_DIR, source)), source)


class KubernetesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = {}
        for path in sorted(glob.glob(os.path.join(K8S_DIR, "*.yaml"))):
            for doc in yaml.safe_load_all(read(path)):
                if doc and "kind" in doc and doc["kind"] != "Kustomization":
                    cls.objects[doc["kind"]] = doc
        cls.deployment = cls.objects["Deployment"]
        cls.pod = cls.deployment["spec"]["template"]
        (cls.container,) = cls.pod["spec"]["containers"]
        cls.ports = {p["name"]: p["containerPort"] for p in cls.container["ports"]}

    def test_all_kinds_present(self):
        self.assertLessEqual({"Deployment", "Service", "PersistentVolumeClaim",
                              "HorizontalPodAutoscaler"}, set(self.objects))

    def test_kustomization_lists_every_manifest(self):
        kustomization = load_yaml(os.path.join(K8S_DIR, "kustomization.yaml"))
        manifests = {os.path.basename(p) for p in glob.glob(os.path.join(K8S_DIR, "*.yaml"))}
        self.assertEqual(set(kustomization["resources"]), manifests - {"kustomization.yaml"})

    def test_ports_match_the_image(self):
        self.assertEqual(str(self.ports["grpc"]), entrypoint_flag("listen").rsplit(":", 1)[1])
        self.assertEqual(str(self.ports["metrics"]),
                         entrypoint_flag("metrics_listen").rsplit(":", 1)[1])

    def test_grpc_health_probes(self):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            self.assertEqual(self.container[probe]["grpc"]["port"], self.ports["grpc"], probe)

    def test_data_dir_on_the_claim(self):
        claim = self.objects["PersistentVolumeClaim"]["metadata"]["name"]
        volumes = {v["name"]: v for v in self.pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in self.container["volumeMounts"]}
        data_volume = volumes[mounts[entrypoint_flag("data_dir")]]
        self.assertEqual(data_volume["persistentVolumeClaim"]["claimName"], claim)
        # One writer per SQLite data directory (deploy/README.md).
        self.assertEqual(self.deployment["spec"]["replicas"], 1)
        self.assertEqual(self.deployment["spec"]["strategy"]["type"], "Recreate")
        self.assertEqual(self.objects["PersistentVolumeClaim"]["spec"]["accessModes"],
                         ["ReadWriteOnce"])

    def test_token_file_from_a_secret(self):
        volumes = {v["name"]: v for v in self.pod["spec"]["volumes"]}
        mounts = {m["mountPath"]: m for m in self.container["volumeMounts"]}
        mount = mounts[os.path.dirname(entrypoint_flag("token_file"))]
        self.assertTrue(mount["readOnly"])
        self.assertIn("secretName", volumes[mount["name"]]["secret"])

    def test_runs_as_the_image_user(self):
        (user,) = [l.split()[1] for l in dockerfile_runtime_stage() if l.startswith("USER")]
        security = self.pod["spec"]["securityContext"]
        self.assertTrue(security["runAsNonRoot"])
        self.assertEqual(str(security["runAsUser"]), user.split(":")[0])

    def test_service_selects_the_pod_and_names_its_ports(self):
        service = self.objects["Service"]
        labels = self.pod["metadata"]["labels"]
        self.assertLessEqual(service["spec"]["selector"].items(), labels.items())
        for port in service["spec"]["ports"]:
            self.assertIn(port["targetPort"], self.ports)
        annotations = service["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        self.assertEqual(int(annotations["prometheus.io/port"]), self.ports["metrics"])

    def test_hpa_scales_the_deployment_on_cpu(self):
        hpa = self.objects["HorizontalPodAutoscaler"]
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"],
                         self.deployment["metadata"]["name"])
        (metric,) = hpa["spec"]["metrics"]
        self.assertEqual(metric["resource"]["name"], "cpu")
        # CPU utilization is measured against requests: they must be set.
        self.assertIn("cpu", self.container["resources"]["requests"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
