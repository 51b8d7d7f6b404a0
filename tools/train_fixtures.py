#!/usr/bin/python3
"""Train the quantd test-fixture CNNs on Fashion-MNIST and export them to ONNX.

Run with Debian's interpreter (it has python3-torch 1.13, python3-onnx, numpy):

    /usr/bin/python3 tools/train_fixtures.py

Outputs (under fixtures/ by default):
    resnet_fmnist.onnx, mobilenetv2_fmnist.onnx, vgg_fmnist.onnx
    <model>_reference_logits.txt   (test images 0..7, PyTorch fp32 logits)
    ACCURACY.md                    (fp32 top-1 on all 10,000 test images)
    README.md                      (what the fixtures are and how they were made)

Preprocessing contract shared with the C++ side: input = pixel / 255.0 as
float32, NCHW [N,1,28,28]; no mean/std normalisation.
"""

import argparse
import collections
import gzip
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
               "GlobalAveragePool", "Flatten", "Gemm"}
MAX_ONNX_BYTES = 2 * 1024 * 1024
NUM_REFERENCE_IMAGES = 8
# How many test images the independent numpy ONNX interpreter checks.
NUM_ONNX_CHECK_IMAGES = 32

# Default epoch counts for an unloaded machine (resnet measured ~48 s/epoch), aiming for well under
# 12 minutes on the 2-core build machine (see tools/README.md).
DEFAULT_EPOCHS = {"resnet": 5, "mobilenetv2": 4, "vgg": 4}


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


MODELS = collections.OrderedDict([
    ("resnet", ResNetSmall),
    ("mobilenetv2", MobileNetV2Small),
    ("vgg", VGGSmall),
])
LR = {"resnet": 2e-3, "mobilenetv2": 3e-3, "vgg": 1e-3}


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


def fix_and_check_onnx(path, name, require_bn):
    m = onnx.load(path)
    n_const = constants_to_initializers(m)
    n_const += materialize_identity_initializers(m)
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
            y = np.clip(ins[0], ins[1], ins[2])
        elif op == "Add":
            y = ins[0] + ins[1]
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
                    help="do not (re)write ACCURACY.md / README.md")
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

    results = []
    for name in names:
        t0 = time.time()
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
            path, name, require_bn=(name in ("resnet", "mobilenetv2")))
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
        results.append(dict(name=name, params=n_params, acc=acc, correct=correct,
                            epochs=epochs, ops=ops, size=size, seconds=dt,
                            epoch_times=epoch_times, max_diff=max_diff,
                            seed=seed))
        print("  [%s] done in %.1fs" % (name, dt), flush=True)

    total = time.time() - t_start
    print("total %.1fs" % total)
    if not args.no_docs:
        write_docs(out_dir, args, results, total)


def write_docs(out_dir, args, results, total):
    cmd = "/usr/bin/python3 tools/train_fixtures.py"
    extra = []
    for r in results:
        if r["epochs"] != DEFAULT_EPOCHS[r["name"]]:
            extra.append("--epochs-%s %d" % (r["name"], r["epochs"]))
    if args.batch_size != 128:
        extra.append("--batch-size %d" % args.batch_size)
    if args.train_images != 60000:
        extra.append("--train-images %d" % args.train_images)
    if args.threads != 2:
        extra.append("--threads %d" % args.threads)
    if args.seed != SEED:
        extra.append("--seed %d" % args.seed)
    if extra:
        cmd += " " + " ".join(extra)

    lines = ["# Fixture accuracy", "",
             "fp32 top-1 on all 10,000 Fashion-MNIST test images (t10k), measured "
             "with PyTorch %s on the eval-mode models, input = pixel/255." % torch.__version__,
             "",
             "| model | parameters | fp32 top-1 (%) |",
             "|---|---:|---:|"]
    for r in results:
        lines.append("| %s | %d | %.2f |" % (r["name"], r["params"], r["acc"]))
    lines += ["", "Generated by:", "", "```", cmd, "```", ""]
    with open(os.path.join(out_dir, "ACCURACY.md"), "w") as f:
        f.write("\n".join(lines))

    L = []
    w = L.append
    w("# quantd model fixtures")
    w("")
    w("Small fp32 CNNs trained on Fashion-MNIST, used by quantd's tests, benchmarks and")
    w("examples. Everything in this directory is generated by")
    w("")
    w("```")
    w(cmd)
    w("```")
    w("")
    w("(run from the repository root with Debian's interpreter, which has python3-torch")
    w("%s, python3-onnx %s and numpy %s). The last run took %.0f s in total on the"
      % (torch.__version__, onnx.__version__, np.__version__, total))
    w("2-core build machine (%s)." % ", ".join(
        "%s %.0f s" % (r["name"], r["seconds"]) for r in results))
    w("Training is deterministic: fixed seeds, a seeded generator for the data order,")
    w("`torch.set_num_threads(%d)` and `torch.use_deterministic_algorithms(True)`" % args.threads)
    w("(bit-exact reproduction needs the same torch build and thread count).")
    w("The script sets `OMP_WAIT_POLICY=PASSIVE` (unless already set) because spinning")
    w("OpenMP workers make torch many times slower when the machine is oversubscribed.")
    w("Defaults: all 60,000 training images, epochs %s; the command above records any"
      % ", ".join("%s %d" % kv for kv in DEFAULT_EPOCHS.items()))
    w("deviation used for the committed files.")
    w("")
    w("## Files")
    w("")
    w("| file | model | ONNX size (bytes) | ops |")
    w("|---|---|---:|---|")
    for r in results:
        w("| `%s_fmnist.onnx` | %s | %d | %s |" % (
            r["name"], r["name"], r["size"],
            ", ".join("%s×%d" % (k, v) for k, v in sorted(r["ops"].items()))))
    w("")
    w("- `<model>_reference_logits.txt` — fp32 logits of the eval-mode PyTorch model for")
    w("  test images 0..7 (the first 8 images of `t10k-images-idx3-ubyte.gz`), one line")
    w("  per image: `<test_image_index> <10 logits, %.9g, space separated>`.")
    w("- `ACCURACY.md` — fp32 top-1 of each model on all 10,000 test images (PyTorch).")
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
    w("- `resnet` — stem conv3x3(16)+BN+ReLU; three basic residual blocks")
    w("  (conv-BN-ReLU-conv-BN + shortcut, then ReLU) with 16/32/64 channels, stride 2 on")
    w("  blocks 2 and 3 (1x1 conv+BN downsample shortcut there, identity on block 1);")
    w("  GlobalAveragePool, Flatten, Gemm(64→10).")
    w("- `mobilenetv2` — stem conv3x3(16, stride 2)+BN+ReLU6; inverted residual blocks")
    w("  (in→out, stride, expansion) %s, each 1x1 expand+BN+ReLU6, 3x3 depthwise+BN+ReLU6,"
      % ", ".join("%d→%d/s%d/t%d" % c for c in MobileNetV2Small.CONFIG))
    w("  1x1 project+BN (linear), with a residual Add when stride 1 and in==out (3 blocks);")
    w("  final 1x1 conv(128)+BN+ReLU6, GlobalAveragePool, Flatten, Gemm(128→10).")
    w("  ReLU6 is exported as `Clip` with min/max given as initializers (0 and 6).")
    w("- `vgg` — conv3x3(16)+ReLU, conv3x3(16)+ReLU, MaxPool 2, conv3x3(32)+ReLU,")
    w("  conv3x3(32)+ReLU, MaxPool 2, Flatten, Gemm(1568→128)+ReLU, Gemm(128→10). No BN.")
    w("")
    w("Training: Adam, cosine learning-rate decay per step, batch %d, no augmentation,"
      % args.batch_size)
    w("first %d training images;" % args.train_images)
    w("epochs: %s." % ", ".join("%s %d" % (r["name"], r["epochs"]) for r in results))
    w("")
    w("## Export notes")
    w("")
    w("- ONNX opset 13, exported with `torch.onnx.export` from the eval-mode model.")
    w("- The ResNet and MobileNetV2 graphs deliberately keep their `BatchNormalization`")
    w("  nodes (inference form: one output, no `training_mode`), so quantd's BN-folding")
    w("  pass is exercised. torch 1.13's default eval-mode export fuses BN into Conv;")
    w("  the script exports with `training=torch.onnx.TrainingMode.PRESERVE` while the")
    w("  module is in eval mode, which skips that fusion but keeps running statistics.")
    w("- `torch.flatten(x, 1)` exports as a single `Flatten` node; there are no")
    w("  Shape/Gather/Reshape/Constant nodes. Op set used: Conv, BatchNormalization, Relu,")
    w("  Clip, Add, MaxPool, GlobalAveragePool, Flatten, Gemm.")
    w("- Outside EVAL mode the exporter de-duplicates equal-valued initializers and")
    w("  re-creates them as `Identity` nodes (e.g. two BN biases feeding the same residual")
    w("  Add receive identical gradients and stay bit-identical); the script replaces those")
    w("  Identity nodes, and the `Constant` min/max of each `Clip`, with plain initializers.")
    w("- Every file passes `onnx.checker.check_model` and is at most 2 MB.")
    w("- The script cross-checks each exported graph with a small independent numpy")
    w("  interpreter against PyTorch on the first %d test images (max |logit diff| %s)."
      % (NUM_ONNX_CHECK_IMAGES, ", ".join("%s %.2g" % (r["name"], r["max_diff"]) for r in results)))
    w("")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
