"""A real Prometheus (Debian's `prometheus`) scrapes a real quantd every second;
the dashboard's key queries then return data through Prometheus' HTTP API.

Run by ctest (tests/deploy/CMakeLists.txt) with /usr/bin/python3. Fails (does
not skip) when prometheus is missing: apt-get install prometheus, or
scripts/install_deps.sh.
"""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_queries as dq  # noqa: E402
import quantd_process  # noqa: E402

SOURCE_DIR = quantd_process.required_env("QUANTD_SOURCE_DIR")
DASHBOARD = os.path.join(SOURCE_DIR, "deploy", "grafana", "dashboards", "quantd.json")
P99_LATENCY = ("histogram_quantile(0.99, sum by (le) "
               "(rate(quantd_infer_latency_seconds_bucket[1m])))")


def free_port():
    # Prometheus cannot report a port it picked itself (":0"), so pick one;
    # the short race with other processes is retried in PrometheusProcess.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusProcess:
    """`prometheus` on 127.0.0.1:<free port>, scraping `target` every 1 s."""

    def __init__(self, target):
        binary = shutil.which("prometheus")
        if binary is None:
            raise FileNotFoundError("prometheus is missing: apt-get install prometheus "
                                    "(scripts/install_deps.sh installs it)")
        self.dir = tempfile.mkdtemp(prefix="quantd-prometheus-test-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: quantd\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.proc = None
        try:
            for _ in range(3):
                self.port = free_port()
                self._start(binary, config)
                if quantd_process.wait_until(self._ready_or_exited, timeout_s=30) == "ready":
                    return
                self._stop_process()
            raise RuntimeError("prometheus did not become ready:\n" + self.log())
        except BaseException:
            self.stop()
            raise

    def _start(self, binary, config):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}",
                 f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=quantd_process.die_with_parent)

    def _ready_or_exited(self):
        if self.proc.poll() is not None:
            return "exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return "ready" if r.status == 200 else None
        except (urllib.error.URLError, OSError):
            return None

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:  # 400/422 carry a JSON error body
            return json.load(e)

    def query(self, expr):
        """The instant-query result vector; raises if Prometheus refused the query."""
        answer = self.api("query", query=expr)
        if answer.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {answer}")
        return answer["data"]["result"]

    def _stop_process(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self._stop_process()
        shutil.rmtree(self.dir, ignore_errors=True)


def values(result):
    return [float(sample["value"][1]) for sample in result]


class PrometheusScrapeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = quantd_process.QuantdProcess(quantd_process.required_env("QUANTD_BINARY"))
        cls.prometheus = None
        try:
            cls.prometheus = PrometheusProcess(cls.server.metrics_address)
            up = quantd_process.wait_until(
                lambda: [v for v in values(cls.prometheus.query('up{job="quantd"}')) if v == 1],
                timeout_s=20)
            if not up:
                raise AssertionError("Prometheus never saw the quantd target up: "
                                     f"{cls.prometheus.api('targets')}\n{cls.prometheus.log()}")
            # Traffic after the first scrapes, so rate() over the window sees it grow.
            quantctl = quantd_process.Quantctl(quantd_process.required_env("QUANTCTL_BINARY"),
                                               cls.server.grpc_address)
            cls.model_id = quantd_process.upload_and_quantize(quantctl, SOURCE_DIR)
            # quantd creates the latency series at their first Infer, and rate()
            # ignores what a series held when first scraped: let Prometheus see
            # them once, then send the traffic that rate() will measure.
            quantd_process.infer_both_precisions(quantctl, cls.model_id, samples=64)
            seen = quantd_process.wait_until(
                lambda: len(cls.prometheus.query("quantd_infer_latency_seconds_count")) == 2,
                timeout_s=20)
            if not seen:
                raise AssertionError("Prometheus did not scrape the fp32 and int8 latency series")
            quantd_process.infer_both_precisions(quantctl, cls.model_id)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus is not None:
            cls.prometheus.stop()
        cls.server.stop()

    def wait_for(self, expr, predicate=lambda v: True, timeout_s=15):
        """Polls `expr` until it returns samples that all satisfy predicate."""
        last = []

        def check():
            nonlocal last
            last = values(self.prometheus.query(expr))
            return last and all(predicate(v) for v in last)

        ok = quantd_process.wait_until(check, timeout_s)
        self.assertTrue(ok, f"{expr!r} gave {last} after {timeout_s} s")
        return last

    def test_p99_infer_latency_is_finite(self):
        (p99,) = self.wait_for(P99_LATENCY, lambda v: math.isfinite(v) and v > 0)
        self.assertLess(p99, 5.0)  # the largest finite bucket bound

    def test_p99_infer_latency_by_precision(self):
        expr = ("histogram_quantile(0.99, sum by (precision, le) "
                "(rate(quantd_infer_latency_seconds_bucket[1m])))")
        self.wait_for(expr, lambda v: math.isfinite(v) and v > 0)
        precisions = {s["metric"]["precision"] for s in self.prometheus.query(expr)}
        self.assertEqual(precisions, {"fp32", "int8"})

    def test_throughput_by_precision(self):
        expr = 'sum by (precision) (rate(quantd_infer_requests_total{code="OK"}[1m]))'
        self.wait_for(expr, lambda v: v > 0)
        precisions = {s["metric"]["precision"] for s in self.prometheus.query(expr)}
        self.assertEqual(precisions, {"fp32", "int8"})

    def test_triton_counters_per_version(self):
        # nv_inference_*{model,version}: Triton's counters, fed by quantd.v1
        # Infer calls too; each version ran, and every run served >= 1 sample.
        expr = (f'sum by (version) (rate(nv_inference_request_success{{model="{self.model_id}"}}'
                '[1m]))')
        self.wait_for(expr, lambda v: v > 0)
        self.assertEqual({s["metric"]["version"] for s in self.prometheus.query(expr)},
                         {"1", "2"})
        self.wait_for(f'nv_inference_count{{model="{self.model_id}"}} / '
                      f'nv_inference_exec_count{{model="{self.model_id}"}}', lambda v: v >= 1)
        self.wait_for(f'nv_inference_compute_infer_duration_us{{model="{self.model_id}"}}',
                      lambda v: v > 0)

    def test_int8_speedup_gauge_is_positive(self):
        # quantd_model_int8_speedup{model,version}: measured int8/fp32 throughput
        # of each int8 version, set when its job succeeds.
        self.wait_for(f'quantd_model_int8_speedup{{model="{self.model_id}"}}', lambda v: v > 0)

    def test_int8_mac_share_gauge(self):
        # quantd_model_int8_mac_share{model,version}: every MAC of the ResNet
        # fixture runs in int8.
        self.wait_for(f'quantd_model_int8_mac_share{{model="{self.model_id}"}}',
                      lambda v: v == 1.0)

    def test_top1_gauges(self):
        for precision in ("int8", "fp32"):
            self.wait_for(f'quantd_model_{precision}_top1{{model="{self.model_id}"}}',
                          lambda v: 0.5 < v <= 1.0)

    def test_every_dashboard_query_is_accepted(self):
        """Prometheus accepts every dashboard expression (with $model = .*)."""
        for where, expr in dq.dashboard_queries(dq.load_dashboard(DASHBOARD)):
            with self.subTest(where=where):
                self.prometheus.query(dq.substitute_variables(expr, {"model": ".*"}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
