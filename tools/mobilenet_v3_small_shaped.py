#!/usr/bin/python3
"""Write a MobileNetV3-Small-shaped ONNX model with random weights, for tests.

    /usr/bin/python3 tools/mobilenet_v3_small_shaped.py OUT.onnx [--seed N]

The network is torchvision's mobilenet_v3_small layer for layer (the paper's
eleven bottleneck blocks: expansion, kernel, squeeze-and-excitation, ReLU or
hardswish, stride; BatchNorm folded into the convolutions), sized for a
Fashion-MNIST image: input `input` float32 [N,1,28,28] (N dynamic), output
`logits` [N,10]. Activations are written as torch 1.13 exports them at opset
13: hardswish as x * HardSigmoid(x), the SE gate as HardSigmoid (alpha 1/6).
Weights are He-initialised from a fixed seed, so the file is reproducible
without torch (python3-onnx and numpy only) and small (~0.6 MB).
"""

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# kernel, expansion, out, SE, activation, stride (MobileNetV3-Small, Table 2)
BLOCKS = [
    (3, 16, 16, True, "RE", 2),
    (3, 72, 24, False, "RE", 2),
    (3, 88, 24, False, "RE", 1),
    (5, 96, 40, True, "HS", 2),
    (5, 240, 40, True, "HS", 1),
    (5, 240, 40, True, "HS", 1),
    (5, 120, 48, True, "HS", 1),
    (5, 144, 48, True, "HS", 1),
    (5, 288, 96, True, "HS", 2),
    (5, 576, 96, True, "HS", 1),
    (5, 576, 96, True, "HS", 1),
]


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base, array):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, stride=1, group=1):
        fan_in = cin // group * k * k
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), (cout, cin // group, k, k))
        b = np.zeros(cout)
        return self.node("Conv", [x, self.const("w", w), self.const("b", b)],
                         kernel_shape=[k, k], strides=[stride, stride],
                         pads=[k // 2] * 4, group=group)

    def activation(self, x, kind):
        if kind == "RE":
            return self.node("Relu", [x])
        gate = self.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
        return self.node("Mul", [x, gate])

    def squeeze_excitation(self, x, channels):
        squeezed = make_divisible(channels // 4)
        pooled = self.node("GlobalAveragePool", [x])
        s = self.node("Relu", [self.conv(pooled, channels, squeezed, 1)])
        gate = self.node("HardSigmoid", [self.conv(s, squeezed, channels, 1)],
                         alpha=1.0 / 6.0, beta=0.5)
        return self.node("Mul", [x, gate])

    def gemm(self, x, cin, cout):
        w = self.rng.normal(0.0, np.sqrt(2.0 / cin), (cout, cin))
        b = np.zeros(cout)
        return self.node("Gemm", [x, self.const("fc_w", w), self.const("fc_b", b)], transB=1)


def build(seed):
    b = Builder(seed)
    x = b.activation(b.conv("input", 1, 16, 3, stride=2), "HS")
    channels = 16
    for kernel, expansion, out, se, act, stride in BLOCKS:
        block_input = x
        if expansion != channels:
            x = b.activation(b.conv(x, channels, expansion, 1), act)
        x = b.activation(b.conv(x, expansion, expansion, kernel, stride, group=expansion), act)
        if se:
            x = b.squeeze_excitation(x, expansion)
        x = b.conv(x, expansion, out, 1)
        if stride == 1 and channels == out:
            x = b.node("Add", [x, block_input])
        channels = out
    x = b.activation(b.conv(x, channels, 576, 1), "HS")
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    x = b.activation(b.gemm(x, 576, 1024), "HS")
    logits = b.gemm(x, 1024, 10)
    b.nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        b.nodes, "mobilenet_v3_small_shaped",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="quantd tools/mobilenet_v3_small_shaped.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    onnx.save(build(args.seed), args.out)


if __name__ == "__main__":
    main()
