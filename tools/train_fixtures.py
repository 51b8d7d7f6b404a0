#!/usr/bin/python3
"""Train the quantd test-fixture CNNs on Fashion-MNIST and export them to ONNX.

Run with Debian's interpreter (it has python3-torch 1.13, python3-onnx, numpy):

    /usr/bin/python3 tools/train_fixtures.py                       # every fixture
    /usr/bin/python3 tools/train_fixtures.py --models mobilenetv3  # just one

Outputs (under fixtures/ by default):
    <model>_fmnist.onnx            (resnet, mobilenetv2, vgg, mobilenetv3)
    <model>_reference_logits.txt   (test images 0..7, PyTorch fp32 logits)
    provenance.json                (per fixture: command, settings, results, sha256)
    ACCURACY.md                    (fp32 top-1 on all 10,000 test images)
    README.md                      (what the fixtures are and how they were made)

Preprocessing contract shared with the C++ side: input = pixel / 255.0 as
float32, NCHW [N,1,28,28]; no mean/std normalisation.
"""

import argparse
import collections
import gzip
import hashlib
import json
import os

# With the machine oversubscribed (parallel C++ builds), libgomp's default
# spin-waiting makes multi-threaded torch many times slower; let idle OpenMP
# workers sleep instead.  Must be set before torch (libgomp) is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import onnx
from onnx import helper, numpy_helper

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 20240613
ALLOWED_OPS = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "MaxPool",
               "GlobalAveragePool", "Flatten", "Gemm",
               # mobilenetv3's written-out hardswish, SiLU and SE gates
               "HardSigmoid", "Sigmoid", "Mul", "Div"}
# Ops a model's export must contain: the forms its fixture exists to test.
REQUIRED_OPS = {"mobilenetv3": {"BatchNormalization", "HardSigmoid", "Sigmoid", "Mul", "Div",
                                "Clip", "Relu", "Add", "GlobalAveragePool"}}
# Models whose BatchNormalization nodes must survive the export (see export_onnx).
KEEP_BATCH_NORM = {"resnet", "mobilenetv2", "mobilenetv3"}
MAX_ONNX_BYTES = 2 * 1024 * 1024
NUM_REFERENCE_IMAGES = 8
# How many test images the independent numpy ONNX interpreter checks.
NUM_ONNX_CHECK_IMAGES = 32

# Default epoch counts for an unloaded machine (resnet measured ~48 s/epoch), aiming for well under
# 12 minutes on the 2-core build machine (see tools/README.md).  mobilenetv3's 6 epochs took
# 550 s of CPU time over both threads (2026-12-07; 1059 s wall on a machine shared with parallel
# builds at load ~7), so at most ~9 minutes when the two cores are its own.
DEFAULT_EPOCHS = {"resnet": 5, "mobilenetv2": 4, "vgg": 4, "mobilenetv3": 6}


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def read_idx(path):
    """Parse a gzip-compressed IDX file into a numpy array (uint8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("%s: bad IDX magic" % path)
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise ValueError("%s: expected unsigned byte data (0x08), got 0x%02x"
                         % (path, dtype_code))
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) - offset != count:
        raise ValueError("%s: size mismatch (header says %d bytes, file has %d)"
                         % (path, count, len(raw) - offset))
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_split(split):
    images = read_idx(os.path.join(DATA_DIR, "%s-images-idx3-ubyte.gz" % split))
    labels = read_idx(os.path.join(DATA_DIR, "%s-labels-idx1-ubyte.gz" % split))
    assert images.shape[1:] == (28, 28) and images.shape[0] == labels.shape[0]
    # The exact preprocessing the C++ side reproduces: pixel / 255.0, float32.
    x = (images.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)
    y = labels.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                nn.BatchNorm2d(cout))
        else:
            self.downsample = None

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetSmall(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = BasicBlock(16, 16, 1)   # identity shortcut
        self.layer2 = BasicBlock(16, 32, 2)   # 1x1 conv + BN shortcut
        self.layer3 = BasicBlock(32, 64, 2)   # 1x1 conv + BN shortcut
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            # 1x1 expand
            nn.Conv2d(cin, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            # 3x3 depthwise
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            # 1x1 linear projection (no activation)
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNetV2Small(nn.Module):
    # (in, out, stride, expand)
    CONFIG = [(16, 16, 1, 2),   # residual
              (16, 24, 2, 4),
              (24, 24, 1, 4),   # residual
              (24, 32, 2, 4),
              (32, 32, 1, 4)]   # residual

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            # stride 2: the blocks run at 14x14 / 7x7 / 4x4, which keeps the
            # (slow on CPU) depthwise convolutions cheap to train.
            nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.blocks = nn.Sequential(
            *[InvertedResidual(i, o, s, t) for (i, o, s, t) in self.CONFIG])
        self.head = nn.Sequential(
            nn.Conv2d(32, 128, 1, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class VGGSmall(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, 1, 1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU(),
            nn.MaxPool2d(2))
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = torch.flatten(self.features(x), 1)
        return self.fc2(self.relu(self.fc1(x)))


# MobileNetV3-style: hardswish, squeeze-and-excitation and SiLU, each written
# the way real PyTorch code writes it, so the ONNX file holds the exporter's
# decomposed forms (torch 1.13, opset 13; see ACTIVATION_DOCS) rather than
# fused ops.  The SE gate multiplies [N,C,H,W] by [N,C,1,1].

class HardswishFunctional(nn.Module):
    def forward(self, x):
        return x * F.relu6(x + 3) / 6


class HardswishReLU6Module(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu6 = nn.ReLU6()

    def forward(self, x):
        return x * self.relu6(x + 3) / 6


class SiLUWrittenOut(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


ACTIVATIONS = {
    "relu": nn.ReLU,
    "hswish": nn.Hardswish,
    "hswish_f": HardswishFunctional,
    "hswish_m": HardswishReLU6Module,
    "silu": SiLUWrittenOut,
}
# (name in the docs, the PyTorch code, what torch 1.13 exports at opset 13).
# F.relu6 exports as Relu then Clip; nn.ReLU6 is a hardtanh: Clip alone.
ACTIVATION_DOCS = collections.OrderedDict([
    ("relu", ("ReLU", "`nn.ReLU`", "Relu")),
    ("hswish", ("HS", "`nn.Hardswish`", "HardSigmoid(alpha 1/6, beta 1/2), Mul")),
    ("hswish_f", ("HS-f", "`x * F.relu6(x + 3) / 6`", "Add, Relu, Clip(0, 6), Mul, Div")),
    ("hswish_m", ("HS-m", "`x * self.relu6(x + 3) / 6` with `nn.ReLU6`",
                  "Add, Clip(0, 6), Mul, Div")),
    ("silu", ("SiLU", "`x * torch.sigmoid(x)`", "Sigmoid, Mul")),
])


class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeezed, gate):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeezed, channels, 1)
        self.gate = nn.Hardsigmoid() if gate == "hsigmoid" else nn.Sigmoid()

    def forward(self, x):
        scale = self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))
        return x * scale


class MobileNetV3Block(nn.Module):
    def __init__(self, cin, kernel, hidden, cout, se_gate, act, stride):
        super().__init__()
        self.use_residual = stride == 1 and cin == cout
        layers = [
            # 1x1 expand
            nn.Conv2d(cin, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden),
            ACTIVATIONS[act](),
            # kxk depthwise
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), ACTIVATIONS[act]()]
        if se_gate:
            layers.append(SqueezeExcitation(hidden, max(8, hidden // 4), se_gate))
        # 1x1 linear projection (no activation)
        layers += [nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNetV3Small(nn.Module):
    # (in, kernel, expanded, out, SE gate, activation, stride)
    CONFIG = [(16, 3, 32, 16, "hsigmoid", "relu", 1),       # residual
              (16, 3, 64, 24, None, "relu", 2),
              (24, 3, 72, 24, None, "hswish_f", 1),         # residual
              (24, 5, 96, 40, "hsigmoid", "hswish", 2),
              (40, 5, 120, 40, "sigmoid", "silu", 1),       # residual
              (40, 3, 120, 48, "hsigmoid", "hswish_m", 1)]
    LAST_CHANNELS = 192
    CLASSIFIER_HIDDEN = 128

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(*[MobileNetV3Block(*c) for c in self.CONFIG])
        self.head = nn.Sequential(
            nn.Conv2d(self.CONFIG[-1][3], self.LAST_CHANNELS, 1, 1, 0, bias=False),
            nn.BatchNorm2d(self.LAST_CHANNELS), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(self.LAST_CHANNELS, self.CLASSIFIER_HIDDEN), nn.Hardswish(),
            nn.Linear(self.CLASSIFIER_HIDDEN, num_classes))

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(x)


MODELS = collections.OrderedDict([
    ("resnet", ResNetSmall),
    ("mobilenetv2", MobileNetV2Small),
    ("vgg", VGGSmall),
    ("mobilenetv3", MobileNetV3Small),
])
LR = {"resnet": 2e-3, "mobilenetv2": 3e-3, "vgg": 1e-3, "mobilenetv3": 3e-3}


# --------------------------------------------------------------------------
# Training / evaluation
# --------------------------------------------------------------------------

def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train(name, model, x_train, y_train, epochs, batch_size, seed):
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=LR[name])
    n = x_train.shape[0]
    steps_per_epoch = (n + batch_size - 1) // batch_size
    total_steps = max(1, epochs * steps_per_epoch)
    step = 0
    epoch_times = []
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            # Cosine learning-rate decay, computed per step (deterministic).
            lr = LR[name] * 0.5 * (1.0 + np.cos(np.pi * step / total_steps))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = perm[b * batch_size:(b + 1) * batch_size]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.item() * xb.shape[0]
            correct += (logits.argmax(1) == yb).sum().item()
            seen += xb.shape[0]
            if (b + 1) % 100 == 0:
                print("  [%s] epoch %d/%d batch %d/%d loss %.4f train-acc %.2f%% "
                      "(%.1fs)" % (name, epoch + 1, epochs, b + 1, steps_per_epoch,
                                   loss_sum / seen, 100.0 * correct / seen,
                                   time.time() - t0), flush=True)
        dt = time.time() - t0
        epoch_times.append(dt)
        print("  [%s] epoch %d/%d done: loss %.4f train-acc %.2f%% in %.1fs"
              % (name, epoch + 1, epochs, loss_sum / seen, 100.0 * correct / seen, dt),
              flush=True)
    model.eval()
    return epoch_times


@torch.no_grad()
def evaluate(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += (model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    return 100.0 * correct / x.shape[0], correct


# --------------------------------------------------------------------------
# ONNX export and checks
# --------------------------------------------------------------------------

def export_onnx(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    # TrainingMode.PRESERVE with the module in eval mode keeps eval-mode
    # semantics (running statistics, single-output BatchNormalization) but
    # skips the exporter's eval-mode peephole pass, which would otherwise fuse
    # every BatchNormalization into the preceding Conv.  quantd's own
    # BN-folding pass needs the BN nodes to be present.
    torch.onnx.export(
        model, dummy, path,
        export_params=True,
        opset_version=13,
        training=torch.onnx.TrainingMode.PRESERVE,
        # Constant folding has nothing to fold here and torch warns about it
        # outside EVAL mode.
        do_constant_folding=False,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def constants_to_initializers(m):
    """Turn any Constant nodes into graph initializers (the engine's op set has
    no Constant).  Returns the number of nodes converted."""
    g = m.graph
    keep, converted = [], 0
    for node in g.node:
        if node.op_type == "Constant":
            attr = {a.name: a for a in node.attribute}
            if "value" not in attr:
                raise RuntimeError("unsupported Constant node %s" % node.name)
            t = onnx.TensorProto()
            t.CopyFrom(attr["value"].t)
            t.name = node.output[0]
            g.initializer.append(t)
            converted += 1
        else:
            keep.append(node)
    if converted:
        del g.node[:]
        g.node.extend(keep)
    return converted


def materialize_identity_initializers(m):
    """Outside EVAL mode torch 1.13 de-duplicates initializers with equal
    values (e.g. every freshly initialised BN's ones/zeros, or two BN biases
    that received identical gradients because they feed the same Add) and
    re-creates the duplicates as `Identity(initializer)` nodes.  Replace each
    such Identity by a real initializer copy so the graph stays within the
    engine's op set.  Returns the number of nodes replaced."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    keep, replaced = [], 0
    for node in g.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            t = onnx.TensorProto()
            t.CopyFrom(inits[node.input[0]])
            t.name = node.output[0]
            g.initializer.append(t)
            inits[t.name] = t
            replaced += 1
        else:
            keep.append(node)
    if replaced:
        del g.node[:]
        g.node.extend(keep)
    return replaced


def fold_constant_casts(m):
    """F.relu6's export clamps with `Cast(Constant)` bounds (the exporter's
    constant folding, off outside EVAL mode, would fold them).  Replace each
    Cast of an initializer by the converted initializer.  Returns the number
    of nodes replaced."""
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    keep, replaced = [], 0
    for node in g.node:
        if node.op_type == "Cast" and node.input[0] in inits:
            to = helper.get_attribute_value(
                next(a for a in node.attribute if a.name == "to"))
            value = numpy_helper.to_array(inits[node.input[0]]).astype(
                onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[to])
            t = numpy_helper.from_array(value, node.output[0])
            g.initializer.append(t)
            inits[t.name] = t
            replaced += 1
        else:
            keep.append(node)
    if replaced:
        del g.node[:]
        g.node.extend(keep)
    return replaced


def fix_and_check_onnx(path, name, require_bn):
    m = onnx.load(path)
    n_const = constants_to_initializers(m)
    n_const += materialize_identity_initializers(m)
    n_const += fold_constant_casts(m)
    # Remove graph inputs that merely mirror initializers (older exporters
    # list them; keeping the graph input list to just `input` is cleaner).
    init_names = {t.name for t in m.graph.initializer}
    extra_inputs = [i for i in m.graph.input if i.name in init_names]
    for i in extra_inputs:
        m.graph.input.remove(i)
    m.producer_name = "quantd tools/train_fixtures.py (torch %s)" % torch.__version__
    m.doc_string = ("quantd test fixture '%s' trained on Fashion-MNIST; "
                    "input = pixel/255 float32 NCHW [N,1,28,28], output logits [N,10]"
                    % name)
    onnx.checker.check_model(m)
    onnx.save(m, path)

    ops = collections.Counter(n.op_type for n in m.graph.node)
    bad = set(ops) - ALLOWED_OPS
    if bad:
        raise RuntimeError("%s: unexpected ONNX ops %s" % (path, sorted(bad)))
    if require_bn and ops["BatchNormalization"] == 0:
        raise RuntimeError("%s: BatchNormalization nodes were fused away" % path)
    missing = REQUIRED_OPS.get(name, set()) - set(ops)
    if missing:
        raise RuntimeError("%s: expected ONNX ops %s are missing" % (path, sorted(missing)))
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            outs = [o for o in n.output if o]
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            if len(outs) != 1 or attrs.get("training_mode", 0) != 0:
                raise RuntimeError("%s: training-mode BatchNormalization %s" % (path, n.name))
        if n.op_type == "Clip":
            if len(n.input) != 3 or not all(i in init_names or
                                             i in {t.name for t in m.graph.initializer}
                                             for i in n.input[1:]):
                raise RuntimeError("%s: Clip %s min/max are not constants" % (path, n.name))
    if [i.name for i in m.graph.input] != ["input"] or \
            [o.name for o in m.graph.output] != ["logits"]:
        raise RuntimeError("%s: unexpected graph inputs/outputs" % path)
    in_dims = m.graph.input[0].type.tensor_type.shape.dim
    if not in_dims[0].dim_param or [d.dim_value for d in in_dims[1:]] != [1, 28, 28]:
        raise RuntimeError("%s: unexpected input shape" % path)
    size = os.path.getsize(path)
    if size > MAX_ONNX_BYTES:
        raise RuntimeError("%s: %d bytes exceeds the 2 MB limit" % (path, size))
    return m, ops, size, n_const


# --------------------------------------------------------------------------
# A tiny independent numpy interpreter for the ops above, used to check that
# the exported ONNX graph computes the same logits as the PyTorch model.
# --------------------------------------------------------------------------

def _np_conv(x, w, b, strides, pads, group):
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    sh, sw = strides
    pt, pl, pb, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - kh) // sh + 1
    ow = (wd + pl + pr - kw) // sw + 1
    if group == c and icg == 1 and oc == c:
        # depthwise: accumulate the kh*kw shifted windows directly
        out = np.zeros((n, oc, oh, ow), dtype=np.float64)
        for i in range(kh):
            for j in range(kw):
                out += xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] * \
                    w[:, 0, i, j].astype(np.float64).reshape(1, -1, 1, 1)
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        return out
    # cols: [n, c, kh, kw, oh, ow]
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
    ocg = oc // group
    out = np.empty((n, oc, oh, ow), dtype=np.float64)
    for g in range(group):
        cg = cols[:, g * icg:(g + 1) * icg].reshape(n, icg * kh * kw, oh * ow)
        wg = w[g * ocg:(g + 1) * ocg].reshape(ocg, icg * kh * kw).astype(np.float64)
        out[:, g * ocg:(g + 1) * ocg] = np.einsum("ok,nkp->nop", wg, cg).reshape(n, ocg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def run_onnx_numpy(m, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    env["input"] = x.astype(np.float64)
    for n in m.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        ins = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Conv":
            k = ins[1].shape[2:]
            assert all(d == 1 for d in a.get("dilations", [1, 1]))
            assert a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
            y = _np_conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                         a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                         a.get("group", 1))
            assert tuple(a.get("kernel_shape", k)) == tuple(k)
        elif op == "BatchNormalization":
            xx, s, bb, mean, var = ins
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            y = (xx - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * s.reshape(sh) + bb.reshape(sh)
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 else None
            hi = ins[2] if len(ins) > 2 else None
            y = ins[0]
            if lo is not None:
                y = np.maximum(y, lo)
            if hi is not None:
                y = np.minimum(y, hi)
        elif op == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * ins[0] + a.get("beta", 0.5), 0.0, 1.0)
        elif op == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-ins[0]))
        elif op in ("Add", "Sub", "Mul", "Div"):
            # ONNX's multidirectional broadcasting is numpy's.
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply,
                 "Div": np.divide}[op](ins[0], ins[1])
        elif op == "MaxPool":
            kh, kw = a["kernel_shape"]
            sh, sw = a.get("strides", [1, 1])
            assert not any(a.get("pads", [0, 0, 0, 0])) and not a.get("ceil_mode", 0)
            xx = ins[0]
            oh = (xx.shape[2] - kh) // sh + 1
            ow = (xx.shape[3] - kw) // sw + 1
            y = np.full(xx.shape[:2] + (oh, ow), -np.inf)
            for i in range(kh):
                for j in range(kw):
                    y = np.maximum(y, xx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw])
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            aa, bm = ins[0], ins[1]
            if a.get("transA", 0):
                aa = aa.T
            if a.get("transB", 0):
                bm = bm.T
            y = a.get("alpha", 1.0) * (aa @ bm)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        else:
            raise RuntimeError("numpy interpreter: unsupported op %s" % op)
        env[n.output[0]] = y
    return env["logits"]


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-images", type=int, default=60000,
                    help="train on the first N training images (default: all)")
    for k, v in DEFAULT_EPOCHS.items():
        ap.add_argument("--epochs-" + k, type=int, default=v)
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of %s" % ",".join(MODELS))
    ap.add_argument("--no-docs", action="store_true",
                    help="do not (re)write provenance.json, ACCURACY.md, README.md")
    args = ap.parse_args()

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    names = [s for s in args.models.split(",") if s]
    for s in names:
        if s not in MODELS:
            ap.error("unknown model %s" % s)

    print("torch %s, onnx %s, numpy %s, threads %d" % (
        torch.__version__, onnx.__version__, np.__version__, torch.get_num_threads()))
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("t10k")
    x_train, y_train = x_train[:args.train_images], y_train[:args.train_images]
    print("train %s test %s" % (tuple(x_train.shape), tuple(x_test.shape)), flush=True)

    command = command_line(args, names)
    records = {} if args.no_docs else load_provenance(out_dir)
    if not args.no_docs:
        problems = check_untouched_fixtures(out_dir, records, names)
        if problems:
            sys.exit("cannot document the fixtures this run leaves alone:\n  %s\n"
                     "retrain them too, or pass --no-docs" % "\n  ".join(problems))
    results = {}
    for name in names:
        t0, cpu0 = time.time(), time.process_time()
        seed = args.seed + list(MODELS).index(name)  # independent of --models
        seed_everything(seed)
        model = MODELS[name]()
        n_params = sum(p.numel() for p in model.parameters())
        epochs = getattr(args, "epochs_" + name)
        print("== %s: %d parameters, %d epochs, batch %d, seed %d"
              % (name, n_params, epochs, args.batch_size, seed), flush=True)
        epoch_times = train(name, model, x_train, y_train, epochs, args.batch_size, seed)
        acc, correct = evaluate(model, x_test, y_test)
        print("  [%s] fp32 test top-1 %.2f%% (%d/%d)" % (name, acc, correct, x_test.shape[0]))

        path = os.path.join(out_dir, "%s_fmnist.onnx" % name)
        export_onnx(model, path)
        m, ops, size, n_const = fix_and_check_onnx(
            path, name, require_bn=name in KEEP_BATCH_NORM)
        print("  [%s] %s: %d bytes, ops %s%s" % (
            name, os.path.basename(path), size, dict(sorted(ops.items())),
            (" (%d Constant/Identity nodes -> initializers)" % n_const) if n_const else ""))

        # Reference logits for test images 0..7 from the eval-mode PyTorch model.
        with torch.no_grad():
            ref = model(x_test[:NUM_REFERENCE_IMAGES]).numpy()
        ref_path = os.path.join(out_dir, "%s_reference_logits.txt" % name)
        with open(ref_path, "w") as f:
            for k in range(NUM_REFERENCE_IMAGES):
                f.write("%d %s\n" % (k, " ".join("%.9g" % v for v in ref[k])))

        # Cross-check the exported graph with the numpy interpreter.
        xs = x_test[:NUM_ONNX_CHECK_IMAGES]
        with torch.no_grad():
            pt = model(xs).numpy().astype(np.float64)
        on = np.concatenate([run_onnx_numpy(m, xs[k:k + 8].numpy())
                             for k in range(0, xs.shape[0], 8)])
        max_diff = float(np.abs(on - pt).max())
        agree = int((on.argmax(1) == pt.argmax(1)).sum())
        print("  [%s] ONNX (numpy interpreter) vs PyTorch on %d test images: "
              "max |diff| %.3g, top-1 agreement %d/%d"
              % (name, xs.shape[0], max_diff, agree, xs.shape[0]))
        if max_diff > 1e-3 or agree != xs.shape[0]:
            raise RuntimeError("%s: exported ONNX does not match PyTorch" % name)
        dt = time.time() - t0
        results[name] = dict(
            command=command, torch=torch.__version__, onnx=onnx.__version__,
            numpy=np.__version__, threads=args.threads, batch_size=args.batch_size,
            train_images=int(x_train.shape[0]), epochs=epochs, seed=seed, lr=LR[name],
            seconds=round(dt, 1), cpu_seconds=round(time.process_time() - cpu0, 1),
            epoch_seconds=[round(t, 1) for t in epoch_times],
            params=n_params, top1=round(acc, 2), correct=correct, onnx_bytes=size,
            ops=dict(sorted(ops.items())), max_diff=float("%.2g" % max_diff),
            onnx_sha256=sha256_of(path), logits_sha256=sha256_of(ref_path))
        print("  [%s] done in %.1fs" % (name, dt), flush=True)

    total = time.time() - t_start
    print("total %.1fs" % total)
    if not args.no_docs:
        records.update(results)
        save_provenance(out_dir, records)
        write_docs(out_dir, records)


# --------------------------------------------------------------------------
# Provenance and docs
# --------------------------------------------------------------------------
#
# fixtures/provenance.json keeps, per fixture, how it was made (the command and
# its settings) and what came out (accuracy, ops, the sha256 of its files).
# The docs are written from it, so retraining a subset (--models) leaves the
# other fixtures' entries as they were made, and a fixture whose files no
# longer match its record stops the script instead of being misdescribed.

PROVENANCE = "provenance.json"


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def command_line(args, names):
    """The command that reproduces this run, with every non-default option."""
    cmd = ["/usr/bin/python3 tools/train_fixtures.py"]
    if names != list(MODELS):
        cmd.append("--models " + ",".join(names))
    for name in names:
        epochs = getattr(args, "epochs_" + name)
        if epochs != DEFAULT_EPOCHS[name]:
            cmd.append("--epochs-%s %d" % (name, epochs))
    for flag, value, default in (("--batch-size", args.batch_size, 128),
                                 ("--train-images", args.train_images, 60000),
                                 ("--threads", args.threads, 2),
                                 ("--seed", args.seed, SEED)):
        if value != default:
            cmd.append("%s %d" % (flag, value))
    return " ".join(cmd)


def load_provenance(out_dir):
    path = os.path.join(out_dir, PROVENANCE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save_provenance(out_dir, records):
    ordered = collections.OrderedDict(
        (name, records[name]) for name in MODELS if name in records)
    with open(os.path.join(out_dir, PROVENANCE), "w") as f:
        json.dump(ordered, f, indent=2)
        f.write("\n")


def check_untouched_fixtures(out_dir, records, names):
    """Every fixture this run does not retrain must still be the one its record
    describes, or the regenerated docs would misstate how it was made."""
    problems = []
    for name in MODELS:
        if name in names:
            continue
        onnx_path = os.path.join(out_dir, "%s_fmnist.onnx" % name)
        logits_path = os.path.join(out_dir, "%s_reference_logits.txt" % name)
        if name not in records:
            if os.path.exists(onnx_path):
                problems.append("%s exists but %s has no record of it" % (onnx_path, PROVENANCE))
            continue
        for path, key in ((onnx_path, "onnx_sha256"), (logits_path, "logits_sha256")):
            if not os.path.exists(path):
                problems.append("%s is missing" % path)
            elif sha256_of(path) != records[name][key]:
                problems.append("%s differs from the file %s records" % (path, PROVENANCE))
    return problems


def write_docs(out_dir, records):
    names = [n for n in MODELS if n in records]
    runs = collections.OrderedDict()  # command -> models it made
    for n in names:
        runs.setdefault(records[n]["command"], []).append(n)

    lines = ["# Fixture accuracy", "",
             "fp32 top-1 on all 10,000 Fashion-MNIST test images (t10k), measured "
             "with PyTorch on the eval-mode models, input = pixel/255.",
             "",
             "| model | parameters | training images | epochs | fp32 top-1 (%) |",
             "|---|---:|---:|---:|---:|"]
    for n in names:
        r = records[n]
        lines.append("| %s | %d | %d | %d | %.2f |"
                     % (n, r["params"], r["train_images"], r["epochs"], r["top1"]))
    lines += ["", "Generated by (one line per training run, with the fixtures it made):", "",
              "```"]
    lines += ["%s    # %s" % (cmd, ", ".join(ms)) for cmd, ms in runs.items()]
    lines += ["```", "",
              "int8 accuracy on these fixtures is asserted by "
              "`tests/engine/int8_fixture_accuracy_test.cc`; the quantization sweep of "
              "`scripts/accuracy_table.sh` is in [docs/ACCURACY.md](../docs/ACCURACY.md).", ""]
    with open(os.path.join(out_dir, "ACCURACY.md"), "w") as f:
        f.write("\n".join(lines))

    L = []
    w = L.append
    w("# quantd model fixtures")
    w("")
    w("Small fp32 CNNs trained on Fashion-MNIST, used by quantd's tests, benchmarks and")
    w("examples. Everything in this directory is generated by `tools/train_fixtures.py`,")
    w("run from the repository root with Debian's interpreter. Each fixture comes from")
    w("one of these runs (training and export on the 2-core build machine: wall time,")
    w("which grows with whatever else runs there, and, where recorded, the process's")
    w("CPU time over both threads):")
    w("")
    w("```")
    for cmd, ms in runs.items():
        w(cmd)
    w("```")
    w("")
    w("| run | fixtures (wall time, CPU time) | torch / onnx / numpy |")
    w("|---:|---|---|")
    for i, (cmd, ms) in enumerate(runs.items()):
        r = records[ms[0]]
        w("| %d | %s | %s / %s / %s |" % (
            i + 1, ", ".join("%s %.0f s%s" % (n, records[n]["seconds"],
                                              ", %.0f s CPU" % records[n]["cpu_seconds"]
                                              if "cpu_seconds" in records[n] else "")
                             for n in ms),
            r["torch"], r["onnx"], r["numpy"]))
    w("")
    w("`--models a,b` retrains only those fixtures. `%s` records each fixture's run" % PROVENANCE)
    w("(command, settings, accuracy, op counts, sha256 of its ONNX file and reference")
    w("logits); the script writes this README and `ACCURACY.md` from it, after checking")
    w("that the fixtures it did not retrain still match their recorded sha256.")
    w("Training is deterministic: fixed seeds (per model: `--seed` + the model's index),")
    w("a seeded generator for the data order, `torch.set_num_threads(2)` and")
    w("`torch.use_deterministic_algorithms(True)` (bit-exact reproduction needs the same")
    w("torch build and thread count).")
    w("The script sets `OMP_WAIT_POLICY=PASSIVE` (unless already set) because spinning")
    w("OpenMP workers make torch many times slower when the machine is oversubscribed.")
    w("Defaults: all 60,000 training images, epochs %s; a fixture's command records any"
      % ", ".join("%s %d" % kv for kv in DEFAULT_EPOCHS.items()))
    w("deviation used for its committed files.")
    w("")
    w("## Files")
    w("")
    w("| file | model | ONNX size (bytes) | ops |")
    w("|---|---|---:|---|")
    for n in names:
        r = records[n]
        w("| `%s_fmnist.onnx` | %s | %d | %s |" % (
            n, n, r["onnx_bytes"], ", ".join("%s×%d" % kv for kv in sorted(r["ops"].items()))))
    w("")
    w("- `<model>_reference_logits.txt` — fp32 logits of the eval-mode PyTorch model for")
    w("  test images 0..7 (the first 8 images of `t10k-images-idx3-ubyte.gz`), one line")
    w("  per image: `<test_image_index> <10 logits, %.9g, space separated>`.")
    w("- `ACCURACY.md` — fp32 top-1 of each model on all 10,000 test images (PyTorch).")
    w("- `%s` — how each fixture was made (see above)." % PROVENANCE)
    w("")
    w("## Input / output contract")
    w("")
    w("- Input `input`: float32, NCHW `[N,1,28,28]`, N dynamic (`batch`). Preprocessing")
    w("  is exactly `pixel / 255.0` on the raw uint8 IDX pixels — no mean/std.")
    w("- Output `logits`: float32 `[N,10]`, unnormalised class scores (no softmax). Classes")
    w("  0..9: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag,")
    w("  Ankle boot.")
    w("- Data: `/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.")
    w("")
    w("## Models")
    w("")
    for n in names:
        L.extend(MODEL_DOCS[n]())
    w("")
    w("Training: Adam, cosine learning-rate decay per step, no augmentation.")
    w("")
    w("| model | training images | epochs | batch | peak learning rate | seed | s/epoch |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for n in names:
        r = records[n]
        per_epoch = r.get("epoch_seconds")
        w("| %s | %d | %d | %d | %g | %d | %s |" % (
            n, r["train_images"], r["epochs"], r["batch_size"], r["lr"], r["seed"],
            "%.0f" % (sum(per_epoch) / len(per_epoch)) if per_epoch else "—"))
    w("")
    w("## Export notes")
    w("")
    w("- ONNX opset 13, exported with `torch.onnx.export` from the eval-mode model.")
    kept = [n for n in names if n in KEEP_BATCH_NORM]
    w("- The %s graphs deliberately keep their `BatchNormalization`"
      % (", ".join(kept[:-1]) + " and " + kept[-1] if len(kept) > 1 else "".join(kept)))
    w("  nodes (inference form: one output, no `training_mode`), so quantd's BN-folding")
    w("  pass is exercised. torch 1.13's default eval-mode export fuses BN into Conv;")
    w("  the script exports with `training=torch.onnx.TrainingMode.PRESERVE` while the")
    w("  module is in eval mode, which skips that fusion but keeps running statistics.")
    w("- `torch.flatten(x, 1)` exports as a single `Flatten` node; there are no")
    w("  Shape/Gather/Reshape nodes. Op set used: %s."
      % ", ".join(sorted({op for n in names for op in records[n]["ops"]})))
    w("- Outside EVAL mode the exporter de-duplicates equal-valued initializers and")
    w("  re-creates them as `Identity` nodes (e.g. two BN biases feeding the same residual")
    w("  Add receive identical gradients and stay bit-identical), writes scalar operands")
    w("  (Clip bounds, hardswish's 3 and 6) as `Constant` nodes and `F.relu6`'s bounds as")
    w("  `Cast(Constant)`; the script replaces all of these with plain initializers.")
    w("- Every file passes `onnx.checker.check_model` and is at most 2 MB.")
    w("- The script cross-checks each exported graph with a small independent numpy")
    w("  interpreter against PyTorch on the first %d test images (max |logit diff| %s)."
      % (NUM_ONNX_CHECK_IMAGES, ", ".join("%s %.2g" % (n, records[n]["max_diff"])
                                          for n in names)))
    w("")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(L))


def _resnet_doc():
    return ["- `resnet` — stem conv3x3(16)+BN+ReLU; three basic residual blocks",
            "  (conv-BN-ReLU-conv-BN + shortcut, then ReLU) with 16/32/64 channels, stride 2 on",
            "  blocks 2 and 3 (1x1 conv+BN downsample shortcut there, identity on block 1);",
            "  GlobalAveragePool, Flatten, Gemm(64→10)."]


def _mobilenetv2_doc():
    return ["- `mobilenetv2` — stem conv3x3(16, stride 2)+BN+ReLU6; inverted residual blocks",
            "  (in→out, stride, expansion) %s, each 1x1 expand+BN+ReLU6, 3x3 depthwise+BN+ReLU6,"
            % ", ".join("%d→%d/s%d/t%d" % c for c in MobileNetV2Small.CONFIG),
            "  1x1 project+BN (linear), with a residual Add when stride 1 and in==out (3 blocks);",
            "  final 1x1 conv(128)+BN+ReLU6, GlobalAveragePool, Flatten, Gemm(128→10).",
            "  ReLU6 is exported as `Clip` with min/max given as initializers (0 and 6)."]


def _vgg_doc():
    return ["- `vgg` — conv3x3(16)+ReLU, conv3x3(16)+ReLU, MaxPool 2, conv3x3(32)+ReLU,",
            "  conv3x3(32)+ReLU, MaxPool 2, Flatten, Gemm(1568→128)+ReLU, Gemm(128→10). No BN."]


def _mobilenetv3_doc():
    m = MobileNetV3Small
    blocks = ", ".join(
        "%d→%d/k%d/e%d/s%d/%s%s" % (cin, cout, k, hidden, s, ACTIVATION_DOCS[act][0],
                                    "/SE-" + se if se else "")
        for (cin, k, hidden, cout, se, act, s) in m.CONFIG)
    residual = sum(1 for c in m.CONFIG if c[6] == 1 and c[0] == c[3])
    return ["- `mobilenetv3` — MobileNetV3-style: stem conv3x3(16, stride 2)+BN+hardswish;",
            "  inverted residual blocks (in→out/kernel/expanded/stride/activation/SE gate)",
            "  %s," % blocks,
            "  each 1x1 expand+BN+act, kxk depthwise+BN+act, optional squeeze-and-excitation",
            "  (GlobalAveragePool, 1x1 conv+ReLU, 1x1 conv, gate, then `x * gate`: a Mul of",
            "  `[N,C,H,W]` by `[N,C,1,1]`), 1x1 project+BN (linear), with a residual Add when",
            "  stride 1 and in==out (%d blocks); final 1x1 conv(%d)+BN+hardswish,"
            % (residual, m.LAST_CHANNELS),
            "  GlobalAveragePool, Flatten, Gemm(%d→%d)+hardswish, Gemm(%d→10)."
            % (m.LAST_CHANNELS, m.CLASSIFIER_HIDDEN, m.CLASSIFIER_HIDDEN),
            "  Activations are written as PyTorch code writes them, so the ONNX file holds",
            "  the exporter's decomposed forms (torch 1.13, opset 13), not fused ops:"] + [
            "  - %s: %s → %s" % (short, code, onnx_ops)
            for short, code, onnx_ops in ACTIVATION_DOCS.values()] + [
            "  - SE gates: `nn.Hardsigmoid` → HardSigmoid(alpha 1/6, beta 1/2);"
            " `nn.Sigmoid` → Sigmoid."]


MODEL_DOCS = {"resnet": _resnet_doc, "mobilenetv2": _mobilenetv2_doc, "vgg": _vgg_doc,
              "mobilenetv3": _mobilenetv3_doc}


if __name__ == "__main__":
    sys.exit(main())
