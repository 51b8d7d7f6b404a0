"""Soak: a real quantd under mixed traffic from concurrent clients for some
minutes, its memory sampled. scripts/soak.sh builds quantd and runs this.

Traffic, each kind in its own threads until the time is up:
  infer    Infer and KServe ModelInfer, fp32 and int8, batches of 1 to 32
  jobs     QuantizeModel, some cancelled while they run, the version of
           each that succeeds deleted again
  churn    upload a model and a dataset, infer, download, list, delete both
  hostile  requests that must be refused (bad shapes, unknown ids, oversized
           messages, corrupt and amplifying models, undecodable images), each
           with the status code it must get

Prints the RSS curve (mean per minute), calls and errors by kind and code,
and exits 1 on any unexpected status or when a minute's mean RSS after the
warm-up strays more than --rss_tolerance from the first minute after it.
"""

import argparse
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict

import grpc
import numpy as np

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("QUANTD_SOURCE_DIR", SOURCE_DIR)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "deploy"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "e2e"))
import quantd_process  # noqa: E402
from kserve_grpcio_test import generate_stubs  # noqa: E402

CHUNK = 1 << 20


class Ledger:
    """Calls and status codes by kind of traffic; unexpected ones kept."""

    def __init__(self):
        self.lock = threading.Lock()
        self.codes = defaultdict(Counter)
        self.unexpected = []

    def call(self, kind, what, fn, expected=("OK",)):
        """Runs fn(); records its code under kind; returns its result or None."""
        try:
            result = fn()
            code = "OK"
        except grpc.RpcError as error:
            result, code = None, error.code().name
            details = error.details()
        with self.lock:
            self.codes[kind][code] += 1
            if code not in expected:
                self.unexpected.append(f"{kind}/{what}: {code} "
                                       f"(expected {'/'.join(expected)}): "
                                       f"{details if code != 'OK' else 'succeeded'}")
        return result


class Soak:
    def __init__(self, args, stub_dir):
        generate_stubs(stub_dir)
        global v1, v1_grpc, pb, pb_grpc
        from inference import grpc_service_pb2 as pb
        from inference import grpc_service_pb2_grpc as pb_grpc
        from quantd.v1 import quantd_pb2 as v1
        from quantd.v1 import quantd_pb2_grpc as v1_grpc
        self.args = args
        self.server = quantd_process.QuantdProcess(args.quantd)
        options = [("grpc.max_receive_message_length", 256 << 20),
                   ("grpc.max_send_message_length", 256 << 20)]
        self.channel = grpc.insecure_channel(self.server.grpc_address, options=options)
        self.quantd = v1_grpc.QuantdStub(self.channel)
        self.kserve = pb_grpc.GRPCInferenceServiceStub(self.channel)
        self.ledger = Ledger()
        self.deadline = 0.0
        self.rss = []  # (seconds since start, RSS in MiB)
        self.rss_split = None  # (anonymous, file-backed) MiB of the last sample
        self.metric_lines = {}  # minute -> lines of /metrics at its start
        self.heap_in_use = {}  # minute -> quantd_heap_bytes{state="in_use"} in MiB at its start
        self.heap_free = {}  # minute -> quantd_heap_bytes{state="free"} in MiB at its start
        self.threads = {}  # minute -> quantd's thread count at its start

    # -------------------------------------------------------------- helpers
    def upload_model(self, name, onnx_bytes, sha256=None, size_bytes=None):
        header = v1.ModelUploadHeader(
            name=name, size_bytes=len(onnx_bytes) if size_bytes is None else size_bytes,
            sha256=sha256 or hashlib.sha256(onnx_bytes).hexdigest())

        def parts():
            yield v1.UploadModelRequest(header=header)
            for at in range(0, len(onnx_bytes), CHUNK):
                yield v1.UploadModelRequest(chunk=onnx_bytes[at:at + CHUNK])
        return self.quantd.UploadModel(parts(), timeout=120)

    def upload_dataset(self, name, samples):
        header = v1.DatasetUploadHeader(name=name, format=v1.RAW_FLOAT32,
                                        sample_shape=list(samples.shape[1:]))
        data = samples.astype("<f4").tobytes()

        def parts():
            yield v1.UploadDatasetRequest(header=header)
            for at in range(0, len(data), CHUNK):
                yield v1.UploadDatasetRequest(
                    chunk=v1.DatasetChunk(part=v1.SAMPLES, data=data[at:at + CHUNK]))
        return self.quantd.UploadDataset(parts(), timeout=120)

    def tensor(self, batch, rng, shape=(1, 28, 28)):
        values = rng.random((batch, *shape), dtype=np.float32)
        return v1.Tensor(name="input", shape=values.shape, raw_data=values.tobytes())

    def wait_for_job(self, job_id):
        while True:
            job = self.quantd.GetJob(v1.GetJobRequest(job_id=job_id), timeout=30)
            if job.state in (v1.SUCCEEDED, v1.FAILED, v1.CANCELLED):
                return job
            time.sleep(0.2)

    def running(self):
        return time.monotonic() < self.deadline

    # -------------------------------------------------------------- set-up
    def set_up(self):
        fixture = os.path.join(SOURCE_DIR, "fixtures", "resnet_fmnist.onnx")
        with open(fixture, "rb") as f:
            self.resnet = f.read()
        with open(os.path.join(SOURCE_DIR, "fixtures", "mobilenetv3_fmnist.onnx"), "rb") as f:
            self.mobilenet = f.read()
        rng = np.random.default_rng(7)
        self.model_id = self.upload_model("soak-resnet", self.resnet).id
        self.calibration_id = self.upload_dataset(
            "soak-calibration", rng.random((64, 1, 28, 28), dtype=np.float32)).id
        job = self.quantd.QuantizeModel(v1.QuantizeModelRequest(
            model_id=self.model_id, calibration_dataset_id=self.calibration_id,
            num_calibration_samples=32), timeout=30)
        if self.wait_for_job(job.id).state != v1.SUCCEEDED:
            raise RuntimeError("the set-up quantization job did not succeed")

    # -------------------------------------------------------------- traffic
    def infer_traffic(self, seed):
        rng = np.random.default_rng(seed)
        while self.running():
            batch = int(rng.choice([1, 2, 8, 32]))
            precision = v1.INT8 if rng.random() < 0.5 else v1.FP32
            if rng.random() < 0.7:
                request = v1.InferRequest(model_id=self.model_id, precision=precision,
                                          input=self.tensor(batch, rng), top_k=3)
                self.ledger.call("infer", "Infer", lambda: self.quantd.Infer(request, timeout=60))
            else:
                values = rng.random((batch, 1, 28, 28), dtype=np.float32)
                request = pb.ModelInferRequest(model_name=self.model_id)
                request.inputs.add(name="input", datatype="FP32", shape=values.shape)
                request.raw_input_contents.append(values.tobytes())
                self.ledger.call("infer", "ModelInfer",
                                 lambda: self.kserve.ModelInfer(request, timeout=60))

    def job_traffic(self, seed):
        rng = random.Random(seed)
        while self.running():
            request = v1.QuantizeModelRequest(
                model_id=self.model_id, calibration_dataset_id=self.calibration_id,
                num_calibration_samples=rng.choice([8, 32, 64]),
                calibration=rng.choice([v1.NAIVE, v1.PERCENTILE]))
            job = self.ledger.call("jobs", "QuantizeModel",
                                   lambda: self.quantd.QuantizeModel(request, timeout=30))
            if job is None:
                continue
            if rng.random() < 0.4:
                time.sleep(rng.uniform(0, 1.5))
                # Refused when the job ended first.
                self.ledger.call("jobs", "CancelJob", lambda: self.quantd.CancelJob(
                    v1.CancelJobRequest(job_id=job.id), timeout=30),
                    expected=("OK", "FAILED_PRECONDITION"))
            ended = self.ledger.call("jobs", "GetJob", lambda: self.wait_for_job(job.id))
            if ended is not None and ended.state == v1.SUCCEEDED:
                self.ledger.call("jobs", "DeleteVersion", lambda: self.quantd.DeleteVersion(
                    v1.DeleteVersionRequest(model_id=self.model_id,
                                            version=ended.result_version), timeout=30))
            elif ended is not None and ended.state == v1.FAILED:
                self.ledger.unexpected.append(f"jobs/job {job.id} FAILED: {ended.error}")

    def churn_traffic(self, seed):
        rng = np.random.default_rng(seed)
        while self.running():
            model = self.ledger.call("churn", "UploadModel",
                                     lambda: self.upload_model("soak-churn", self.mobilenet))
            dataset = self.ledger.call("churn", "UploadDataset", lambda: self.upload_dataset(
                "soak-churn", rng.random((int(rng.integers(8, 256)), 1, 28, 28),
                                         dtype=np.float32)))
            if model is not None:
                request = v1.InferRequest(model_id=model.id, input=self.tensor(4, rng))
                self.ledger.call("churn", "Infer", lambda: self.quantd.Infer(request, timeout=60))
                self.ledger.call("churn", "DownloadVersion", lambda: sum(
                    len(part.data) for part in self.quantd.DownloadVersion(
                        v1.DownloadVersionRequest(model_id=model.id, version=1), timeout=60)))
            self.ledger.call("churn", "ListModels",
                             lambda: self.quantd.ListModels(v1.ListModelsRequest(), timeout=30))
            self.ledger.call("churn", "ListJobs",
                             lambda: self.quantd.ListJobs(v1.ListJobsRequest(), timeout=30))
            if dataset is not None:
                self.ledger.call("churn", "DeleteDataset", lambda: self.quantd.DeleteDataset(
                    v1.DeleteDatasetRequest(dataset_id=dataset.id), timeout=30))
            if model is not None:
                self.ledger.call("churn", "DeleteModel", lambda: self.quantd.DeleteModel(
                    v1.DeleteModelRequest(model_id=model.id), timeout=30))

    def hostile_requests(self):
        """(name, call, expected code): requests a careless or hostile client sends."""
        rng = np.random.default_rng(11)
        infer = self.quantd.Infer

        def bad_infer(**fields):
            request = v1.InferRequest(model_id=self.model_id, **fields)
            return lambda: infer(request, timeout=60)

        wrong_bytes = v1.Tensor(name="input", shape=[2, 1, 28, 28], raw_data=b"\0" * 100)
        huge = v1.Tensor(name="input", shape=[1, 1, 28, 28], raw_data=b"\0" * (65 << 20))
        fp16 = pb.ModelInferRequest(model_name=self.model_id)
        fp16.inputs.add(name="input", datatype="FP16", shape=[1, 1, 28, 28])
        fp16.raw_input_contents.append(b"\0" * 1568)
        garbage = bytes(rng.integers(0, 256, 4096, dtype=np.uint8))
        return [
            ("unknown model", lambda: infer(v1.InferRequest(
                model_id="mdl_nosuch", input=self.tensor(1, rng)), timeout=60), "NOT_FOUND"),
            ("negative top_k", bad_infer(input=self.tensor(1, rng), top_k=-1),
             "INVALID_ARGUMENT"),
            ("wrong input shape", bad_infer(input=self.tensor(1, rng, (3, 28, 28))),
             "INVALID_ARGUMENT"),
            ("raw bytes short of the shape", bad_infer(input=wrong_bytes), "INVALID_ARGUMENT"),
            ("message over 64 MiB", bad_infer(input=huge), "RESOURCE_EXHAUSTED"),
            ("images to a model without preprocessing", bad_infer(images=[garbage]),
             "FAILED_PRECONDITION"),
            ("KServe FP16", lambda: self.kserve.ModelInfer(fp16, timeout=60),
             "INVALID_ARGUMENT"),
            ("corrupt model", lambda: self.upload_model("soak-bad", garbage), "INVALID_ARGUMENT"),
            ("model digest mismatch", lambda: self.upload_model(
                "soak-bad", self.resnet, sha256="0" * 64), "INVALID_ARGUMENT"),
            ("model larger than the cap", lambda: self.upload_model(
                "soak-bad", garbage, size_bytes=1 << 40), "RESOURCE_EXHAUSTED"),
            ("amplifying model", lambda: self.upload_model("soak-bad", amplifying_model()),
             "INVALID_ARGUMENT"),
            ("unknown calibration set", lambda: self.quantd.QuantizeModel(
                v1.QuantizeModelRequest(model_id=self.model_id,
                                        calibration_dataset_id="ds_nosuch"), timeout=30),
             "NOT_FOUND"),
        ]

    def hostile_traffic(self, seed):
        requests = self.hostile_requests()
        rng = random.Random(seed)
        while self.running():
            name, call, expected = rng.choice(requests)
            self.ledger.call("hostile", name, call, expected=(expected,))
            time.sleep(0.05)

    def sample_rss(self, start):
        status_path = f"/proc/{self.server.pid}/status"
        while self.running():
            fields = {}
            with open(status_path) as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name in ("VmRSS", "RssAnon", "RssFile"):
                        fields[name] = int(value.split()[0]) / 1024
                    elif name == "Threads":
                        fields[name] = int(value)
            now = time.monotonic() - start
            self.rss.append((now, fields["VmRSS"]))
            self.rss_split = (fields.get("RssAnon", 0), fields.get("RssFile", 0))
            minute = int(now // 60)
            if minute not in self.metric_lines:
                # Lines of /metrics (series of deleted models and versions must
                # go) and malloc's live heap, which tells a leak from memory
                # malloc keeps for reuse.
                text = self.server.metrics_text()
                self.metric_lines[minute] = len(text.splitlines())
                self.heap_in_use[minute] = heap_bytes(text, "in_use") / (1 << 20)
                # What malloc holds free (not returned to the kernel), and the
                # threads (each a stack and possibly a malloc arena): RSS
                # beyond the live heap is one of these or memory malloc does
                # not see (oneDNN's JIT code and primitive cache, mappings).
                self.heap_free[minute] = heap_bytes(text, "free") / (1 << 20)
                self.threads[minute] = fields.get("Threads", 0)
            time.sleep(2)

    # -------------------------------------------------------------- run
    def guarded(self, target, args):
        """A client thread that fails (a bug in the client or a response it
        cannot read) counts as unexpected and stops only itself."""
        try:
            target(*args)
        except Exception as error:  # noqa: BLE001
            with self.ledger.lock:
                self.ledger.unexpected.append(
                    f"{target.__name__} stopped: {type(error).__name__}: {error}")

    def run(self):
        self.set_up()
        start = time.monotonic()
        self.deadline = start + self.args.minutes * 60
        threads = [threading.Thread(target=self.sample_rss, args=(start,))]
        for i in range(self.args.infer_clients):
            threads.append(threading.Thread(target=self.infer_traffic, args=(100 + i,)))
        threads.append(threading.Thread(target=self.job_traffic, args=(200,)))
        threads.append(threading.Thread(target=self.churn_traffic, args=(300,)))
        threads.append(threading.Thread(target=self.hostile_traffic, args=(400,)))
        threads = [threading.Thread(target=self.guarded, args=(t._target, t._args))
                   for t in threads]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.report()

    def report(self):
        ok = True
        print(f"\nRSS of quantd (MiB), mean per minute; warm-up: first "
              f"{self.args.warmup_minutes} min")
        by_minute = defaultdict(list)
        for seconds, mib in self.rss:
            by_minute[int(seconds // 60)].append(mib)
        means = {m: statistics.mean(v) for m, v in sorted(by_minute.items())}
        after = [m for m in means if m >= self.args.warmup_minutes]
        baseline = means[after[0]] if after else None
        for minute, mean in means.items():
            note = ""
            if baseline is not None and minute >= self.args.warmup_minutes:
                drift = mean / baseline - 1
                note = f"  {drift:+.1%} vs minute {after[0] + 1}"
                if abs(drift) > self.args.rss_tolerance:
                    note += "  OUT OF RANGE"
                    ok = False
            print(f"  minute {minute + 1:3d}: {mean:8.1f} (max {max(by_minute[minute]):.1f}; "
                  f"heap in use {self.heap_in_use.get(minute, 0):.1f}, "
                  f"free {self.heap_free.get(minute, 0):.1f}; "
                  f"{self.threads.get(minute, 0)} threads; "
                  f"{self.metric_lines.get(minute, 0)} lines of /metrics){note}")
        if self.rss_split is not None:
            print(f"  last sample: {self.rss_split[0]:.1f} anonymous, {self.rss_split[1]:.1f} "
                  "file-backed (mapped model files and libraries)")
        if baseline is None:
            print("  no minute after the warm-up: run longer")
            ok = False
        print("\nCalls by kind and status code")
        for kind, codes in sorted(self.ledger.codes.items()):
            print(f"  {kind:8s} " + ", ".join(f"{code} {n}" for code, n in sorted(codes.items())))
        if self.ledger.unexpected:
            ok = False
            print(f"\n{len(self.ledger.unexpected)} unexpected results (first 20):")
            for line in self.ledger.unexpected[:20]:
                print("  " + line)
        if self.server.exited():
            ok = False
            print("\nquantd exited during the soak; its last lines:")
            for line in self.server.log_lines[-20:]:
                print("  " + line)
        print("\nsoak " + ("passed" if ok else "FAILED"))
        return ok

    def close(self):
        self.channel.close()
        self.server.stop()


def heap_bytes(metrics_text, state):
    prefix = f'quantd_heap_bytes{{state="{state}"}} '
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return 0.0


def amplifying_model():
    """A few hundred bytes of ONNX whose constant folding would make 4 GB:
    ConstantOfShape of [1 << 30] floats added to the input."""
    import onnx
    from onnx import TensorProto, helper
    shape = helper.make_tensor("shape", TensorProto.INT64, [1], [1 << 30])
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"]),
             helper.make_node("ReduceSum", ["big"], ["total"], keepdims=1),
             helper.make_node("Add", ["input", "total"], ["output"])]
    graph = helper.make_graph(
        nodes, "amplifying",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 28, 28])],
        initializer=[shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quantd", required=True, help="the quantd binary")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup_minutes", type=int, default=2)
    parser.add_argument("--infer_clients", type=int, default=4)
    parser.add_argument("--rss_tolerance", type=float, default=0.10)
    args = parser.parse_args()
    stub_dir = tempfile.mkdtemp(prefix="quantd-soak-stubs-")
    soak = None
    try:
        soak = Soak(args, stub_dir)
        ok = soak.run()
    finally:
        if soak is not None:
            soak.close()
        shutil.rmtree(stub_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
