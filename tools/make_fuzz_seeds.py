#!/usr/bin/python3
"""Writes the committed seed corpora of the fuzz targets (fuzz/corpus/NAME/):
small valid inputs of each kind, from which libFuzzer mutates and which ctest
replays (fuzz/CMakeLists.txt). Deterministic; run with Debian's python3 (onnx,
numpy, protoc):

    /usr/bin/python3 tools/make_fuzz_seeds.py

scripts/fuzz.sh adds larger seeds at fuzz time (the fixtures, libonnx-testdata
models); crashes it finds are added next to these by hand, as regressions.
"""

import gzip
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def model(nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, "seed", inputs, outputs, list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def onnx_seeds():
    rng = np.random.default_rng(7)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "K"])
    w = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    conv = model([helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", ["c"], ["r"]),
                  helper.make_node("GlobalAveragePool", ["r"], ["g"]),
                  helper.make_node("Flatten", ["g"], ["y"])], [x], [y], [w, b])
    write("onnx_model", "conv_relu_pool.onnx", conv)
    # Shape arithmetic on the dynamic batch, as torchvision's exports do it.
    shape_ops = model([
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"])], [x], [y], [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "axes"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one")])
    write("onnx_model", "shape_reshape.onnx", shape_ops)
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, ["N", 6])
    gemm_w = numpy_helper.from_array(rng.standard_normal((6, 3)).astype(np.float32), "gw")
    gemm = model([helper.make_node("MatMul", ["v", "gw"], ["m"]),
                  helper.make_node("Softmax", ["m"], ["y"], axis=-1)], [v], [y], [gemm_w])
    write("onnx_model", "matmul_softmax.onnx", gemm)
    return conv


def idx(dims, values):
    header = struct.pack(">BBBB", 0, 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    return header + bytes(values)


def idx_seeds():
    images = idx([2, 3, 3], range(18))
    labels = idx([2], [1, 7])
    write("gzip_idx", "images.idx", images)
    write("gzip_idx", "labels.idx", labels)
    write("gzip_idx", "images.idx.gz", gzip.compress(images, mtime=0))
    return images, labels


def png(width, height, channels):
    """A tiny PNG (8-bit gray or RGB) written by hand: no imaging library needed."""
    color_type = {1: 0, 3: 2}[channels]
    rows = b"".join(b"\x00" + bytes((x * 37 + y * 11 + c) % 256 for x in range(width)
                                    for c in range(channels)) for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def image_seeds():
    # Spec bytes: crop 8x8, no resize / resize to 12, gray / RGB.
    write("image_decode", "gray_png", bytes([7, 7, 0, 2]) + png(10, 9, 1))
    write("image_decode", "rgb_png_resized", bytes([7, 7, 25, 0]) + png(16, 12, 3))
    return png(28, 28, 1)


def proto_modules(tmp):
    proto_dir = os.path.join(ROOT, "proto")
    subprocess.run(["protoc", f"--proto_path={proto_dir}", f"--python_out={tmp}",
                    "quantd/v1/quantd.proto", "inference/model_config.proto",
                    "inference/grpc_service.proto"], check=True, cwd=proto_dir)
    sys.path.insert(0, tmp)
    from quantd.v1 import quantd_pb2
    from inference import grpc_service_pb2
    return quantd_pb2, grpc_service_pb2


def request_seeds(v1, kserve, image):
    sample = np.linspace(0, 1, 784, dtype=np.float32)
    infer = v1.InferRequest(model_id="mdl_fuzz", input=v1.Tensor(
        name="input", shape=[1, 1, 28, 28], raw_data=sample.tobytes()), top_k=3)
    write("infer_request", "infer_tensor", b"\x00" + infer.SerializeToString())
    images = v1.InferRequest(model_id="mdl_fuzz", precision=v1.FP32, images=[image])
    write("infer_request", "infer_images", b"\x00" + images.SerializeToString())
    model_infer = kserve.ModelInferRequest(model_name="mdl_fuzz", id="1")
    model_infer.inputs.add(name="input", datatype="FP32", shape=[1, 1, 28, 28])
    model_infer.inputs.add(name="mask", datatype="FP32", shape=[1, 4])
    model_infer.raw_input_contents.extend([sample.tobytes(), np.ones(4, np.float32).tobytes()])
    model_infer.outputs.add(name="logits")
    write("infer_request", "model_infer_raw", b"\x01" + model_infer.SerializeToString())
    quantize = v1.QuantizeModelRequest(model_id="mdl_fuzz", calibration_dataset_id="ds_fuzz",
                                       calibration=v1.ENTROPY)
    quantize.quantization.weight_bits = 4
    write("infer_request", "quantize_knobs", b"\x02" + quantize.SerializeToString())


def framed(messages):
    out = b""
    for m in messages:
        data = m.SerializeToString()
        out += struct.pack("<H", len(data)) + data
    return out


def upload_seeds(v1, onnx_bytes, images, labels, image):
    header = v1.UploadModelRequest(header=v1.ModelUploadHeader(
        name="seed", size_bytes=len(onnx_bytes), sha256=hashlib.sha256(onnx_bytes).hexdigest()))
    chunks = [v1.UploadModelRequest(chunk=onnx_bytes[i:i + 4000])
              for i in range(0, len(onnx_bytes), 4000)]
    write("upload_stream", "model_upload", b"\x00" + framed([header] + chunks))
    idx_upload = [v1.UploadDatasetRequest(header=v1.DatasetUploadHeader(name="seed", format=v1.IDX)),
                  v1.UploadDatasetRequest(chunk=v1.DatasetChunk(part=v1.SAMPLES, data=images)),
                  v1.UploadDatasetRequest(chunk=v1.DatasetChunk(part=v1.LABELS, data=labels))]
    write("upload_stream", "idx_dataset", b"\x01" + framed(idx_upload))
    spec = v1.PreprocessingSpec(crop_height=28, crop_width=28, color_order=v1.GRAYSCALE)
    image_upload = [v1.UploadDatasetRequest(header=v1.DatasetUploadHeader(
                        name="seed", format=v1.ENCODED_IMAGES, preprocessing=spec)),
                    v1.UploadDatasetRequest(chunk=v1.DatasetChunk(part=v1.IMAGE, data=image))]
    write("upload_stream", "image_dataset", b"\x01" + framed(image_upload))


def main():
    onnx_bytes = onnx_seeds()
    images, labels = idx_seeds()
    image = image_seeds()
    with tempfile.TemporaryDirectory() as tmp:
        v1, kserve = proto_modules(tmp)
        request_seeds(v1, kserve, image)
        upload_seeds(v1, onnx_bytes, images, labels, image)
    print(f"seeds written under {CORPUS}")


if __name__ == "__main__":
    main()
