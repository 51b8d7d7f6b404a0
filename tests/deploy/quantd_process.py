"""A real quantd on ephemeral loopback ports, and quantctl traffic against it.

The binaries come from CMake ($<TARGET_FILE:...>) through the environment:
QUANTD_BINARY, QUANTCTL_BINARY and QUANTD_SOURCE_DIR (the repository root).
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_LISTENING = re.compile(
    r"quantd listening on ([0-9.]+):(\d+), metrics on ([0-9.]+):(\d+)")


def die_with_parent():
    """preexec_fn: the child gets SIGTERM when this test process dies, even by
    SIGKILL (a ctest timeout), so no quantd or prometheus outlives a test."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def required_env(name):
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(
            f"{name} is not set; run this test through ctest (tests/deploy/CMakeLists.txt)")
    return value


def fashion_mnist_file(name):
    path = os.path.join(FASHION_MNIST_DIR, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: install Debian's dataset-fashion-mnist "
            "(scripts/install_deps.sh)")
    return path


class QuantdProcess:
    """quantd --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 in a temp data dir."""

    def __init__(self, binary):
        self.data_dir = tempfile.mkdtemp(prefix="quantd-deploy-test-")
        self.log_lines = []
        self._proc = subprocess.Popen(
            [binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
             f"--data_dir={self.data_dir}", "--workers=1", "--insecure_no_auth"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=die_with_parent)
        try:
            first = self._read_first_line(timeout_s=30)
            match = _LISTENING.search(first)
            if not match:
                raise RuntimeError(f"unexpected first line from quantd: {first!r}")
            self.grpc_address = f"127.0.0.1:{match.group(2)}"
            self.metrics_address = f"127.0.0.1:{match.group(4)}"
        except BaseException:
            self.stop()
            raise
        # Keep stdout drained so the server never blocks on a full pipe.
        self._drain = threading.Thread(target=self._drain_output, daemon=True)
        self._drain.start()

    def _read_first_line(self, timeout_s):
        result = {}

        def read():
            result["line"] = self._proc.stdout.readline()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout_s)
        line = result.get("line")
        if line is None:
            raise TimeoutError(f"quantd printed no 'quantd listening on' line in {timeout_s} s")
        if not line:
            raise RuntimeError(f"quantd exited with {self._proc.wait()} before listening")
        return line.strip()

    def _drain_output(self):
        for line in self._proc.stdout:
            self.log_lines.append(line.rstrip())

    @property
    def pid(self):
        return self._proc.pid

    def exited(self):
        return self._proc.poll() is not None

    def metrics_text(self):
        with urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=10) as r:
            return r.read().decode()

    def stop(self):
        """SIGTERM, 15 s grace, then SIGKILL; removes the data directory."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Quantctl:
    def __init__(self, binary, server_address):
        self.binary = binary
        self.server_address = server_address

    def run(self, *args, timeout_s=120):
        """Runs `quantctl ARGS --server=...`; returns stdout, raises on a non-zero exit."""
        cmd = [self.binary, *args, f"--server={self.server_address}"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout


def upload_and_quantize(quantctl, source_dir):
    """Uploads the ResNet fixture and two small Fashion-MNIST sets, quantizes
    (with an evaluation set, so the top-1 gauges are set) and waits for the
    job; returns the model id."""
    model = os.path.join(source_dir, "fixtures", "resnet_fmnist.onnx")
    if not os.path.isfile(model):
        raise FileNotFoundError(f"{model} is missing (see fixtures/README.md)")
    model_id = quantctl.run("upload-model", model, "--name=resnet-deploy-test").split()[0]
    calibration = quantctl.run(
        "upload-dataset", "--samples=" + fashion_mnist_file("train-images-idx3-ubyte.gz"),
        "--labels=" + fashion_mnist_file("train-labels-idx1-ubyte.gz"), "--limit=200").split()[0]
    evaluation = quantctl.run(
        "upload-dataset", "--samples=" + fashion_mnist_file("t10k-images-idx3-ubyte.gz"),
        "--labels=" + fashion_mnist_file("t10k-labels-idx1-ubyte.gz"), "--limit=300").split()[0]
    job_output = quantctl.run("quantize", model_id, f"--calibration={calibration}",
                              f"--evaluation={evaluation}", "--wait", timeout_s=300)
    if "SUCCEEDED" not in job_output:
        raise RuntimeError(f"the quantization job did not succeed:\n{job_output}")
    return model_id


def infer_both_precisions(quantctl, model_id, samples=256):
    """Sends `samples` test images through fp32 and int8 in batches of 64."""
    for precision in ("fp32", "int8"):
        quantctl.run(
            "evaluate", model_id,
            "--dataset_samples=" + fashion_mnist_file("t10k-images-idx3-ubyte.gz"),
            "--dataset_labels=" + fashion_mnist_file("t10k-labels-idx1-ubyte.gz"),
            f"--precision={precision}", f"--limit={samples}")


def wait_until(predicate, timeout_s, interval_s=0.5):
    """Calls predicate() until it returns something truthy; returns it or None."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval_s)
