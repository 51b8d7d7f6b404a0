#!/usr/bin/python3
"""Export torchvision ImageNet CNNs to ONNX for the fp32 benchmark against ONNX Runtime.

Run with Debian's interpreter (it has python3-torch 1.13 and python3-torchvision):

    /usr/bin/python3 tools/export_torchvision.py                 # all models
    /usr/bin/python3 tools/export_torchvision.py --models resnet18 --out /tmp/m

Writes <out>/<model>.onnx for resnet50, resnet18 and mobilenet_v2: the architecture
only (weights=None), initialised from a fixed seed, eval mode, ONNX opset 13, input
`input` float32 [N,3,224,224] with N dynamic, output `logits` float32 [N,1000]. The
default eval-mode export folds BatchNormalization into Conv, which is what a
deployment would hand to either runtime.

Random weights make the timings meaningful (same FLOPs and layouts as the trained
networks) but not the logits; the benchmark compares the two runtimes' logits with
each other, not with ImageNet labels.
"""

import argparse
import collections
import os
import sys

# Spin-waiting OpenMP workers slow torch badly when the cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import onnx
import torch
import torchvision

MODELS = ("resnet50", "resnet18", "mobilenet_v2")
SEED = 20261123
OPSET = 13
# Ops quantd's importer accepts (engine/graph/supported_ops.cc).
QUANTD_OPS = {
    "Conv", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool", "Relu",
    "Clip", "Add", "Flatten", "Reshape", "BatchNormalization", "Identity", "Dropout",
    "Constant",
}


def export(name, out_dir, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None).eval()
    path = os.path.join(out_dir, f"{name}.onnx")
    example = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(
            model, example, path,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    onnx_model = onnx.load(path)
    onnx.checker.check_model(onnx_model)
    ops = collections.Counter(node.op_type for node in onnx_model.graph.node)
    unsupported = sorted(set(ops) - QUANTD_OPS)
    summary = ", ".join(f"{op}x{n}" for op, n in sorted(ops.items()))
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB; {summary}")
    if unsupported:
        print(f"  WARNING: ops quantd does not import: {', '.join(unsupported)}",
              file=sys.stderr)
    return not unsupported


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/out/models", help="output directory")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    # Seed per model (by its fixed index) so a subset run reproduces the same file.
    ok = [export(name, args.out, args.seed + MODELS.index(name)) for name in args.models]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
