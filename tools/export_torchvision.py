#!/usr/bin/python3
"""Export torchvision ImageNet CNNs (and one segmentation model) to ONNX for the benchmarks.

Run with Debian's interpreter (it has python3-torch 1.13 and python3-torchvision 0.14):

    /usr/bin/python3 tools/export_torchvision.py                 # every model below
    /usr/bin/python3 tools/export_torchvision.py --models resnet18 --out /tmp/m
    /usr/bin/python3 tools/export_torchvision.py --list          # the model names

Writes <out>/<model>.onnx: the architecture only (weights=None), initialised from a
fixed seed per model, eval mode, ONNX opset 13, input `input` float32 [N,3,224,224]
with N dynamic. Classifiers have one output `logits` [N,1000];
lraspp_mobilenet_v3_large (segmentation) has `out` [N,21,224,224]. The default
eval-mode export folds BatchNormalization into Conv, which is what a deployment
would hand to either runtime. scripts/bench.sh exports resnet50, resnet18 and
mobilenet_v2; scripts/zoo.sh the rest.

Random weights make the timings meaningful (same FLOPs and layouts as the trained
networks) but not the outputs; the benchmarks compare the runtimes' outputs with
each other, not with ImageNet labels.

Whether quantd runs a model is quantd's to say (bench/quantd_bench exits with code 3
and the engine's reason when it refuses one); this script only prints the op counts.
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

SEED = 20261123
OPSET = 13


def classifier(name, **kwargs):
    return lambda: getattr(torchvision.models, name)(weights=None, **kwargs)


class SegmentationOut(torch.nn.Module):
    """A torchvision segmentation model returns a dict; export its "out" entry only."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


def lraspp_mobilenet_v3_large():
    return SegmentationOut(torchvision.models.segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None))


# name -> (builder, output name). A model's seed is SEED + its position here:
# append new models at the end so every existing export stays byte-identical
# (scripts/bench.sh's results compare across runs).
MODELS = {
    "resnet50": (classifier("resnet50"), "logits"),
    "resnet18": (classifier("resnet18"), "logits"),
    "mobilenet_v2": (classifier("mobilenet_v2"), "logits"),
    "googlenet": (classifier("googlenet", aux_logits=False, init_weights=True), "logits"),
    "densenet121": (classifier("densenet121"), "logits"),
    "mobilenet_v3_large": (classifier("mobilenet_v3_large"), "logits"),
    "mobilenet_v3_small": (classifier("mobilenet_v3_small"), "logits"),
    "efficientnet_b0": (classifier("efficientnet_b0"), "logits"),
    "regnet_y_400mf": (classifier("regnet_y_400mf"), "logits"),
    "mnasnet1_0": (classifier("mnasnet1_0"), "logits"),
    "shufflenet_v2_x1_0": (classifier("shufflenet_v2_x1_0"), "logits"),
    "lraspp_mobilenet_v3_large": (lraspp_mobilenet_v3_large, "out"),
    "convnext_tiny": (classifier("convnext_tiny"), "logits"),
    "vit_b_16": (classifier("vit_b_16"), "logits"),
}


def export(name, out_dir, seed):
    build, output_name = MODELS[name]
    torch.manual_seed(seed)
    model = build().eval()
    path = os.path.join(out_dir, f"{name}.onnx")
    example = torch.randn(1, 3, 224, 224)
    # Not under torch.no_grad(): without autograd, torch 1.13's
    # nn.MultiheadAttention (vit_b_16) takes a fused fast path that has no ONNX
    # export. The exported graph is the same either way.
    torch.onnx.export(
        model, example, path,
        opset_version=OPSET,
        input_names=["input"],
        output_names=[output_name],
        dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
    )
    # check_model by path: it also works for models past protobuf's 2 GB limit.
    onnx.checker.check_model(path)
    onnx_model = onnx.load(path, load_external_data=False)
    ops = collections.Counter(node.op_type for node in onnx_model.graph.node)
    summary = ", ".join(f"{op}x{n}" for op, n in sorted(ops.items()))
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB; {summary}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/out/models", help="output directory")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                        metavar="MODEL")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--list", action="store_true", help="print the model names and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(MODELS))
        return 0

    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    # Seed per model (by its fixed index) so a subset run reproduces the same file.
    names = list(MODELS)
    for name in args.models:
        export(name, args.out, args.seed + names.index(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
