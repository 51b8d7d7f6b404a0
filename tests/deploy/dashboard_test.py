"""deploy/grafana: the dashboard is well formed, points at the provisioned
datasource, its PromQL parses, and every metric it reads is exported by a
real quantd after ordinary quantctl traffic and documented in docs/METRICS.md.

Run by ctest (tests/deploy/CMakeLists.txt) with /usr/bin/python3; needs
Debian's prometheus (promtool) and dataset-fashion-mnist.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing: apt-get install python3-yaml (scripts/install_deps.sh)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_queries as dq  # noqa: E402
import quantd_process  # noqa: E402

SOURCE_DIR = quantd_process.required_env("QUANTD_SOURCE_DIR")
DEPLOY_DIR = os.path.join(SOURCE_DIR, "deploy")
DASHBOARD = os.path.join(DEPLOY_DIR, "grafana", "dashboards", "quantd.json")
PROVISIONING = os.path.join(DEPLOY_DIR, "grafana", "provisioning")
DATASOURCES = os.path.join(PROVISIONING, "datasources", "prometheus.yml")
DASHBOARD_PROVIDERS = os.path.join(PROVISIONING, "dashboards", "quantd.yml")
COMPOSE = os.path.join(DEPLOY_DIR, "docker-compose.yml")


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def provisioned_datasource():
    (datasource,) = [d for d in load_yaml(DATASOURCES)["datasources"] if d["type"] == "prometheus"]
    return datasource


class MetricNameExtractionTest(unittest.TestCase):
    """The lexer in dashboard_queries.py on the shapes the dashboard uses."""

    def test_histogram_quantile(self):
        self.assertEqual(
            dq.metric_names('histogram_quantile(0.99, sum by (precision, le) '
                            '(rate(quantd_infer_latency_seconds_bucket{model=~"$model"}'
                            '[$__rate_interval])))'),
            {"quantd_infer_latency_seconds_bucket"})

    def test_binary_expressions_strings_and_offsets(self):
        self.assertEqual(
            dq.metric_names('a_total{code!="OK", x="b_total"} / on (model) group_left(version) '
                            'sum without (le) (b_seconds_sum offset 5m) > bool 1e3 and '
                            'c:recorded[5m:1m] or {__name__="d_gauge"}'),
            {"a_total", "b_seconds_sum", "c:recorded", "d_gauge"})

    def test_family_of_strips_only_histogram_suffixes(self):
        types = {"h_seconds": "histogram", "jobs_count": "counter", "s": "summary"}
        self.assertEqual(dq.family_of("h_seconds_bucket", types), "h_seconds")
        self.assertEqual(dq.family_of("h_seconds_count", types), "h_seconds")
        self.assertEqual(dq.family_of("jobs_count", types), "jobs_count")
        self.assertEqual(dq.family_of("s_sum", types), "s")
        self.assertEqual(dq.family_of("s_bucket", types), "s_bucket")

    def test_template_queries(self):
        self.assertEqual(dq.template_query_expr("label_values(up{job=\"q\"}, model)"),
                         'up{job="q"}')
        self.assertIsNone(dq.template_query_expr("label_values(model)"))


class DashboardStructureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dashboard = dq.load_dashboard(DASHBOARD)
        cls.variables = {v["name"]: v for v in cls.dashboard["templating"]["list"]}

    def test_top_level(self):
        d = self.dashboard
        self.assertGreaterEqual(d["schemaVersion"], 36)
        self.assertTrue(d.get("uid") and d.get("title"))
        self.assertNotIn("__inputs", d, "file provisioning does not resolve __inputs")

    def test_panel_ids_unique_and_panels_have_targets(self):
        ids = [p["id"] for p in dq.iter_panels(self.dashboard)]
        self.assertEqual(len(ids), len(set(ids)), f"duplicate panel ids in {ids}")
        for panel in dq.iter_panels(self.dashboard):
            self.assertIn("gridPos", panel, panel.get("title"))
            if panel["type"] == "row":
                continue
            self.assertTrue(panel.get("title"), f"panel {panel['id']} has no title")
            self.assertTrue(panel.get("targets"), f"panel '{panel['title']}' has no targets")
            ref_ids = [t["refId"] for t in panel["targets"]]
            self.assertEqual(len(ref_ids), len(set(ref_ids)), panel["title"])
            for target in panel["targets"]:
                self.assertTrue(target.get("expr", "").strip(),
                                f"panel '{panel['title']}' target {target['refId']} has no expr")

    def test_expected_panels(self):
        exprs = " ".join(expr for _, expr in dq.dashboard_queries(self.dashboard))
        for needle in ("histogram_quantile(0.5", "histogram_quantile(0.99",
                       "quantd_infer_latency_seconds_bucket", "rate(quantd_infer_requests_total",
                       "quantd_model_int8_speedup", "quantd_model_fp32_top1",
                       "quantd_model_int8_top1", "quantd_model_int8_mac_share",
                       "quantd_job_queue_depth",
                       "quantd_job_duration_seconds_bucket", "quantd_jobs_total",
                       "rate(nv_inference_exec_count", "rate(nv_inference_queue_duration_us"):
            self.assertIn(needle, exprs)

    def datasource_refs(self):
        """(where, ref) of every datasource reference in panels, targets, variables."""
        refs = []
        for panel in dq.iter_panels(self.dashboard):
            if panel["type"] == "row":
                continue
            refs.append((f"panel '{panel['title']}'", panel.get("datasource")))
            for target in panel["targets"]:
                refs.append((f"panel '{panel['title']}' target {target['refId']}",
                             target.get("datasource", panel.get("datasource"))))
        for variable in self.variables.values():
            if variable["type"] == "query":
                refs.append((f"variable {variable['name']}", variable.get("datasource")))
        return refs

    def test_datasource_refs_resolve_to_the_provisioned_datasource(self):
        provisioned = provisioned_datasource()
        ds_variable = self.variables.get("DS_PROMETHEUS")
        self.assertIsNotNone(ds_variable, "no DS_PROMETHEUS variable")
        self.assertEqual(ds_variable["type"], "datasource")
        self.assertEqual(ds_variable["query"], "prometheus")
        # Its default must be the provisioned datasource (by uid, or by name).
        self.assertIn(ds_variable["current"]["value"], (provisioned["uid"], provisioned["name"]))
        for where, ref in self.datasource_refs():
            self.assertIsInstance(ref, dict, f"{where}: datasource {ref!r} is not {{type, uid}}")
            self.assertEqual(ref.get("type"), "prometheus", where)
            self.assertIn(ref.get("uid"), ("${DS_PROMETHEUS}", provisioned["uid"]), where)

    def test_every_variable_used_is_defined(self):
        defined = set(self.variables) | set(dq.GRAFANA_BUILTINS)
        for where, expr in dq.dashboard_queries(self.dashboard):
            self.assertLessEqual(dq.used_variables(expr), defined, f"{where}: {expr}")

    def test_provisioning_points_at_the_dashboard(self):
        (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
        self.assertEqual(provider["type"], "file")
        grafana = load_yaml(COMPOSE)["services"]["grafana"]
        mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
        self.assertIn(provider["options"]["path"], mounts.values(),
                      "compose does not mount anything where the dashboard provider looks")
        source = [s for s, t in mounts.items() if t == provider["options"]["path"]][0]
        self.assertTrue(os.path.samefile(os.path.join(DEPLOY_DIR, source),
                                         os.path.dirname(DASHBOARD)))
        self.assertIn("/etc/grafana/provisioning", mounts.values())
        datasource_host = re.match(r"https?://([^:/]+)", provisioned_datasource()["url"]).group(1)
        self.assertIn(datasource_host, load_yaml(COMPOSE)["services"],
                      "the datasource URL names no compose service")

    def test_promql_parses(self):
        """promtool (Prometheus' own parser) accepts every expression."""
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool is missing: apt-get install prometheus "
                             "(scripts/install_deps.sh installs it)")
        values = {"model": ".*"}
        rules = [{"record": f"dashboard:query_{i}", "expr": dq.substitute_variables(expr, values)}
                 for i, (_, expr) in enumerate(dq.dashboard_queries(self.dashboard))]
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        try:
            done = subprocess.run([promtool, "check", "rules", f.name],
                                  capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(f.name)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


class DashboardMetricsExportedTest(unittest.TestCase):
    """Starts quantd, drives upload/quantize/infer traffic with quantctl, and
    checks /metrics against every metric name the dashboard reads."""

    @classmethod
    def setUpClass(cls):
        cls.server = quantd_process.QuantdProcess(quantd_process.required_env("QUANTD_BINARY"))
        try:
            quantctl = quantd_process.Quantctl(quantd_process.required_env("QUANTCTL_BINARY"),
                                               cls.server.grpc_address)
            model_id = quantd_process.upload_and_quantize(quantctl, SOURCE_DIR)
            quantd_process.infer_both_precisions(quantctl, model_id)
            cls.exposition = cls.server.metrics_text()
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def dashboard_metric_names(self):
        names = set()
        for _, expr in dq.dashboard_queries(dq.load_dashboard(DASHBOARD)):
            names |= dq.metric_names(expr)
        return names

    def test_dashboard_reads_only_quantd_metrics(self):
        # quantd's own families, and the Triton-compatible counters it exports.
        names = self.dashboard_metric_names()
        self.assertTrue(names)
        for name in names:
            self.assertTrue(name.startswith(("quantd_", "nv_inference_")), name)

    def test_every_dashboard_metric_is_exported(self):
        types, samples = dq.parse_exposition(self.exposition)
        missing = []
        for name in sorted(self.dashboard_metric_names()):
            family = dq.family_of(name, types)
            if family not in types:
                missing.append(f"{name}: no '# TYPE {family}' in /metrics")
            elif name not in samples:
                missing.append(f"{name}: family {family} ({types[family]}) has no {name} sample")
        self.assertEqual(missing, [], "/metrics declares: " + ", ".join(sorted(types)))

    def test_every_dashboard_metric_is_documented(self):
        with open(os.path.join(SOURCE_DIR, "docs", "METRICS.md"), encoding="utf-8") as f:
            documented = set(re.findall(r"^\| `((?:quantd|nv_inference)_\w+)`", f.read(), re.M))
        types, _ = dq.parse_exposition(self.exposition)
        families = {dq.family_of(n, types) for n in self.dashboard_metric_names()}
        self.assertEqual(families - documented, set(),
                         "metrics the dashboard reads but docs/METRICS.md does not list")


if __name__ == "__main__":
    unittest.main(verbosity=2)
