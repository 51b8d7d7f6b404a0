#ifndef QUANTD_TESTS_ENGINE_RUNTIME_REFERENCE_H_
#define QUANTD_TESTS_ENGINE_RUNTIME_REFERENCE_H_

// A naive interpreter of post-pass Graphs for differential tests of the
// oneDNN runtime: plain loops, NCHW, obviously right, slow.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/tensor.h"
#include "gtest/gtest.h"

namespace quantd::engine::testing {

inline int64_t Product(const std::vector<int64_t>& d) {
  int64_t p = 1;
  for (int64_t v : d) p *= v;
  return p;
}

inline std::vector<float> RandomFloats(int64_t n, std::mt19937& rng, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline Tensor RandomTensor(const std::vector<int64_t>& shape, std::mt19937& rng, float lo = -1.0f,
                           float hi = 1.0f) {
  return Tensor{"", shape, RandomFloats(Product(shape), rng, lo, hi)};
}

// Builds small graphs by hand.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::vector<int64_t> input_shape, const std::string& input = "x") {
    graph_.name = "test";
    graph_.opset_version = 13;
    graph_.inputs.push_back(ValueInfo{input, std::move(input_shape)});
  }
  GraphBuilder& Const(const std::string& name, std::vector<int64_t> dims, std::mt19937& rng,
                      float lo = -1.0f, float hi = 1.0f) {
    Constant c;
    c.dims = std::move(dims);
    c.floats = RandomFloats(c.NumElements(), rng, lo, hi);
    graph_.constants[name] = std::move(c);
    return *this;
  }
  GraphBuilder& Floats(const std::string& name, std::vector<int64_t> dims,
                       std::vector<float> values) {
    Constant c;
    c.dims = std::move(dims);
    c.floats = std::move(values);
    graph_.constants[name] = std::move(c);
    return *this;
  }
  GraphBuilder& Ints(const std::string& name, std::vector<int64_t> values) {
    Constant c;
    c.type = Constant::Type::kInt64;
    c.dims = {static_cast<int64_t>(values.size())};
    c.ints = std::move(values);
    graph_.constants[name] = std::move(c);
    return *this;
  }
  GraphBuilder& Op(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   const std::string& output, std::map<std::string, AttributeValue> attributes = {},
                   std::vector<PostOp> post_ops = {}) {
    graph_.nodes.push_back(
        Node{name, op, std::move(inputs), {output}, std::move(attributes), std::move(post_ops)});
    return *this;
  }
  GraphBuilder& Output(const std::string& name, std::vector<int64_t> shape = {}) {
    graph_.outputs.push_back(ValueInfo{name, std::move(shape)});
    return *this;
  }
  Graph Build() const { return graph_; }

 private:
  Graph graph_;
};

// A small ResNet-like network exercising every fused pattern: conv+relu,
// conv+sum+relu (residual), depthwise conv+clip(0,6), max pool, a 1x1 conv
// with signed output, global average pool, flatten and a Gemm to 10 logits.
inline Graph TinyResNet(unsigned seed, int64_t batch = -1) {
  std::mt19937 rng(seed);
  PostOp relu;
  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  sum.sum_input = "a1";
  PostOp relu6;
  relu6.kind = PostOp::Kind::kClip;
  relu6.alpha = 0.0f;
  relu6.beta = 6.0f;
  using Ints = std::vector<int64_t>;
  const std::map<std::string, AttributeValue> pad1 = {{"pads", Ints{1, 1, 1, 1}}};
  return GraphBuilder({batch, 3, 16, 16})
      .Const("w1", {8, 3, 3, 3}, rng, -0.4f, 0.4f)
      .Const("b1", {8}, rng, -0.2f, 0.2f)
      .Const("w2", {8, 8, 3, 3}, rng, -0.2f, 0.2f)
      .Const("b2", {8}, rng, -0.2f, 0.2f)
      .Const("w3", {8, 8, 3, 3}, rng, -0.2f, 0.2f)
      .Const("b3", {8}, rng, -0.2f, 0.2f)
      .Const("wd", {8, 1, 3, 3}, rng, -1.0f, 1.0f)
      .Const("bd", {8}, rng, 0.0f, 1.0f)
      .Const("w4", {16, 8, 1, 1}, rng, -0.5f, 0.5f)
      .Const("b4", {16}, rng, -0.2f, 0.2f)
      .Const("fc_w", {10, 16}, rng, -0.5f, 0.5f)
      .Const("fc_b", {10}, rng, -0.1f, 0.1f)
      .Op("Conv", "c1", {"x", "w1", "b1"}, "a1", pad1, {relu})
      .Op("Conv", "c2", {"a1", "w2", "b2"}, "a2", pad1, {relu})
      .Op("Conv", "c3", {"a2", "w3", "b3"}, "a3", pad1, {sum, relu})
      .Op("Conv", "dw", {"a3", "wd", "bd"}, "a4",
          {{"pads", Ints{1, 1, 1, 1}}, {"strides", Ints{2, 2}}, {"group", int64_t{8}}}, {relu6})
      .Op("MaxPool", "mp", {"a4"}, "a5", {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}})
      .Op("Conv", "c4", {"a5", "w4", "b4"}, "a6")
      .Op("GlobalAveragePool", "gap", {"a6"}, "a7")
      .Op("Flatten", "flat", {"a7"}, "a8")
      .Op("Gemm", "fc", {"a8", "fc_w", "fc_b"}, "logits", {{"transB", int64_t{1}}})
      .Output("logits", {batch, 10})
      .Build();
}

namespace reference {

inline int64_t RefInt(const Node& n, const std::string& k, int64_t d) {
  auto it = n.attributes.find(k);
  return it == n.attributes.end() ? d : std::get<int64_t>(it->second);
}
inline float RefFloat(const Node& n, const std::string& k, float d) {
  auto it = n.attributes.find(k);
  return it == n.attributes.end() ? d : std::get<float>(it->second);
}
inline std::vector<int64_t> RefInts(const Node& n, const std::string& k, std::vector<int64_t> d) {
  auto it = n.attributes.find(k);
  return it == n.attributes.end() ? d : std::get<std::vector<int64_t>>(it->second);
}
inline std::string RefStr(const Node& n, const std::string& k, std::string d) {
  auto it = n.attributes.find(k);
  return it == n.attributes.end() ? d : std::get<std::string>(it->second);
}

// Resolves ONNX auto_pad into explicit [t, l, b, r] pads.
inline std::vector<int64_t> Pads(const Node& n, const std::vector<int64_t>& in,
                                 const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                 const std::vector<int64_t>& d) {
  std::vector<int64_t> pads = RefInts(n, "pads", {0, 0, 0, 0});
  const std::string auto_pad = RefStr(n, "auto_pad", "NOTSET");
  for (int i = 0; i < 2; ++i) {
    if (auto_pad == "VALID") pads[i] = pads[i + 2] = 0;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (in[i] + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in[i]);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[i + 2] = total - pads[i];
    }
  }
  return pads;
}

inline Tensor Conv(const Node& n, const Tensor& x, const Constant& w, const Constant* b) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OC = w.dims[0], ICg = w.dims[1], KH = w.dims[2], KW = w.dims[3];
  const int64_t G = RefInt(n, "group", 1);
  const auto s = RefInts(n, "strides", {1, 1});
  const auto d = RefInts(n, "dilations", {1, 1});
  const auto p = Pads(n, {H, W}, {KH, KW}, s, d);
  const int64_t OH = (H + p[0] + p[2] - (KH - 1) * d[0] - 1) / s[0] + 1;
  const int64_t OW = (W + p[1] + p[3] - (KW - 1) * d[1] - 1) / s[1] + 1;
  const int64_t OCg = OC / G;
  Tensor y{"", {N, OC, OH, OW}, std::vector<float>(N * OC * OH * OW)};
  (void)C;
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t oc = 0; oc < OC; ++oc) {
      const int64_t g = oc / OCg;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b ? b->floats[oc] : 0.0;
          for (int64_t ic = 0; ic < ICg; ++ic)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * s[0] - p[0] + kh * d[0];
                const int64_t iw = ow * s[1] - p[1] + kw * d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += double(x.data[((nn * C + g * ICg + ic) * H + ih) * W + iw]) *
                       w.floats[((oc * ICg + ic) * KH + kh) * KW + kw];
              }
          y.data[((nn * OC + oc) * OH + oh) * OW + ow] = float(acc);
        }
    }
  return y;
}

// Scatter form: every input pixel adds its weighted kernel to the output.
inline Tensor ConvTranspose(const Node& n, const Tensor& x, const Constant& w, const Constant* b) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t G = RefInt(n, "group", 1), OCg = w.dims[1], ICg = C / G;
  const int64_t KH = w.dims[2], KW = w.dims[3];
  const auto s = RefInts(n, "strides", {1, 1});
  const auto d = RefInts(n, "dilations", {1, 1});
  const auto op = RefInts(n, "output_padding", {0, 0});
  const auto os = RefInts(n, "output_shape", {});
  const std::string auto_pad = RefStr(n, "auto_pad", "NOTSET");
  auto p = RefInts(n, "pads", {0, 0, 0, 0});
  int64_t out[2];
  const int64_t in[2] = {H, W}, k[2] = {KH, KW};
  for (int i = 0; i < 2; ++i) {
    const int64_t full = s[i] * (in[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1;
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!os.empty() || same) {
      const int64_t total = full - (os.empty() ? in[i] * s[i] : os[os.size() - 2 + i]);
      const int64_t half = static_cast<int64_t>(std::floor(total / 2.0));
      p[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      p[i + 2] = total - p[i];
    }
    out[i] = full - p[i] - p[i + 2];
  }
  Tensor y{"", {N, OCg * G, out[0], out[1]}, std::vector<float>(N * OCg * G * out[0] * out[1])};
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw)
          for (int64_t oc = 0; oc < OCg; ++oc)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t oh = ih * s[0] - p[0] + kh * d[0];
                const int64_t ow = iw * s[1] - p[1] + kw * d[1];
                if (oh < 0 || oh >= out[0] || ow < 0 || ow >= out[1]) continue;
                const int64_t y_channel = (c / ICg) * OCg + oc;
                y.data[((nn * OCg * G + y_channel) * out[0] + oh) * out[1] + ow] +=
                    x.data[((nn * C + c) * H + ih) * W + iw] *
                    w.floats[((c * OCg + oc) * KH + kh) * KW + kw];
              }
  if (b != nullptr)
    for (int64_t i = 0; i < Product(y.shape); ++i)
      y.data[i] += b->floats[(i / (out[0] * out[1])) % (OCg * G)];
  return y;
}

inline Tensor Pool(const Node& n, const Tensor& x) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const bool global = n.op_type.rfind("Global", 0) == 0;
  const bool avg = n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool";
  const auto k = global ? std::vector<int64_t>{H, W} : RefInts(n, "kernel_shape", {});
  const auto s = global ? std::vector<int64_t>{1, 1} : RefInts(n, "strides", {1, 1});
  const auto p = global ? std::vector<int64_t>{0, 0, 0, 0} : Pads(n, {H, W}, k, s, {1, 1});
  const bool ceil_mode = RefInt(n, "ceil_mode", 0) != 0;
  const bool include_pad = RefInt(n, "count_include_pad", 0) != 0;
  int64_t out[2];
  const int64_t in[2] = {H, W};
  for (int i = 0; i < 2; ++i) {
    const int64_t span = in[i] + p[i] + p[i + 2] - k[i];
    out[i] = (ceil_mode ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
    if (ceil_mode && (out[i] - 1) * s[i] >= in[i] + p[i]) --out[i];
  }
  Tensor y{"", {N, C, out[0], out[1]}, std::vector<float>(N * C * out[0] * out[1])};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < out[0]; ++oh)
      for (int64_t ow = 0; ow < out[1]; ++ow) {
        const int64_t h0 = oh * s[0] - p[0], w0 = ow * s[1] - p[1];
        const int64_t h1 = std::min(h0 + k[0], H + p[2]), w1 = std::min(w0 + k[1], W + p[3]);
        double acc = avg ? 0.0 : -std::numeric_limits<double>::infinity();
        int64_t count = 0;
        for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h1, H); ++ih)
          for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w1, W); ++iw) {
            const float v = x.data[(nc * H + ih) * W + iw];
            acc = avg ? acc + v : std::max<double>(acc, v);
            ++count;
          }
        if (avg) acc /= include_pad ? double((h1 - h0) * (w1 - w0)) : double(count);
        y.data[(nc * out[0] + oh) * out[1] + ow] = float(acc);
      }
  return y;
}

// Y = alpha * A * op(B) + beta * C; A is [M, K] (any tensor flattened to 2-D).
inline Tensor Gemm(const Tensor& a, const Constant& b, bool trans_b, float alpha, const Constant* c,
                   float beta) {
  const int64_t M = a.shape[0], K = Product(a.shape) / M;
  const int64_t N = trans_b ? b.dims[0] : b.dims[1];
  Tensor y{"", {M, N}, std::vector<float>(M * N)};
  for (int64_t m = 0; m < M; ++m)
    for (int64_t nn = 0; nn < N; ++nn) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k)
        acc += double(a.data[m * K + k]) * (trans_b ? b.floats[nn * K + k] : b.floats[k * N + nn]);
      acc *= alpha;
      if (c) acc += beta * c->floats[c->floats.size() == 1 ? 0 : nn];
      y.data[m * N + nn] = float(acc);
    }
  return y;
}

// ONNX multidirectional broadcasting: y[i] = f(a[i'], b[i'']).
template <typename F>
inline Tensor Binary(const Tensor& a, const Tensor& b, F f) {
  const size_t r = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> as = a.shape, bs = b.shape, ys(r);
  as.insert(as.begin(), r - as.size(), 1);
  bs.insert(bs.begin(), r - bs.size(), 1);
  for (size_t d = 0; d < r; ++d) ys[d] = std::max(as[d], bs[d]);
  Tensor y{"", ys, std::vector<float>(Product(ys))};
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < Product(ys); ++i) {
    int64_t rem = i, ai = 0, bi = 0;
    for (size_t dd = r; dd-- > 0;) {
      idx[dd] = rem % ys[dd];
      rem /= ys[dd];
    }
    for (size_t dd = 0; dd < r; ++dd) {
      ai = ai * as[dd] + (as[dd] == 1 ? 0 : idx[dd]);
      bi = bi * bs[dd] + (bs[dd] == 1 ? 0 : idx[dd]);
    }
    y.data[i] = f(a.data[ai], b.data[bi]);
  }
  return y;
}

inline Tensor Add(const Tensor& a, const Tensor& b) {
  return Binary(a, b, [](float x, float y) { return x + y; });
}

inline float Activation(const std::string& op, float v, float alpha, float beta) {
  if (op == "Relu") return std::max(v, 0.0f);
  if (op == "LeakyRelu") return v < 0.0f ? alpha * v : v;
  if (op == "Sigmoid") return float(1.0 / (1.0 + std::exp(-double(v))));
  if (op == "Tanh") return std::tanh(v);
  if (op == "HardSigmoid") return std::max(0.0f, std::min(1.0f, alpha * v + beta));
  if (op == "HardSwish") return v * std::max(0.0f, std::min(1.0f, v / 6.0f + 0.5f));
  if (op == "Gelu") return float(0.5 * v * (1.0 + std::erf(double(v) / std::sqrt(2.0))));
  if (op == "Erf") return float(std::erf(double(v)));
  if (op == "Sqrt") return float(std::sqrt(double(v)));
  return v;
}

// MatMul of two tensors of rank >= 2, batch axes broadcast (numpy).
inline Tensor BatchedMatMul(const Tensor& a, const Tensor& b) {
  const size_t r = std::max(a.shape.size(), b.shape.size());
  std::vector<int64_t> as = a.shape, bs = b.shape;
  as.insert(as.begin(), r - as.size(), 1);
  bs.insert(bs.begin(), r - bs.size(), 1);
  const int64_t M = as[r - 2], K = as[r - 1], N = bs[r - 1];
  std::vector<int64_t> out(r);
  for (size_t i = 0; i + 2 < r; ++i) out[i] = std::max(as[i], bs[i]);
  out[r - 2] = M;
  out[r - 1] = N;
  Tensor y{"", out, std::vector<float>(Product(out))};
  const int64_t batches = Product(out) / (M * N);
  for (int64_t t = 0; t < batches; ++t) {
    // Batch coordinate -> offsets into a and b (size-1 axes repeat).
    int64_t rest = t, a_off = 0, b_off = 0, a_stride = M * K, b_stride = K * N;
    for (int64_t i = static_cast<int64_t>(r) - 3; i >= 0; --i) {
      const int64_t coord = rest % out[i];
      rest /= out[i];
      a_off += (as[i] == 1 ? 0 : coord) * a_stride;
      b_off += (bs[i] == 1 ? 0 : coord) * b_stride;
      a_stride *= as[i];
      b_stride *= bs[i];
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0.0;
        for (int64_t k = 0; k < K; ++k)
          acc += double(a.data[a_off + m * K + k]) * b.data[b_off + k * N + n];
        y.data[t * M * N + m * N + n] = float(acc);
      }
  }
  return y;
}

// Gather along `axis` at constant int64 `indices` (any shape).
inline Tensor Gather(const Tensor& x, const Constant& indices, int64_t axis) {
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if (axis < 0) axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
  for (int64_t i = axis + 1; i < r; ++i) inner *= x.shape[i];
  const int64_t size = x.shape[axis];
  std::vector<int64_t> out(x.shape.begin(), x.shape.begin() + axis);
  out.insert(out.end(), indices.dims.begin(), indices.dims.end());
  out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
  Tensor y{"", out, {}};
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t index : indices.ints) {
      const int64_t at = index < 0 ? index + size : index;
      for (int64_t i = 0; i < inner; ++i) y.data.push_back(x.data[(o * size + at) * inner + i]);
    }
  return y;
}

// LayerNormalization over the last axis: (x - mean) / sqrt(var + eps) * scale + bias.
inline Tensor LayerNorm(const Tensor& x, const Constant& scale, const Constant* bias, float eps) {
  Tensor y = x;
  const int64_t c = x.shape.back(), rows = Product(x.shape) / c;
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < c; ++i) mean += x.data[r * c + i];
    mean /= double(c);
    for (int64_t i = 0; i < c; ++i) var += (x.data[r * c + i] - mean) * (x.data[r * c + i] - mean);
    var /= double(c);
    for (int64_t i = 0; i < c; ++i) {
      const double n = (x.data[r * c + i] - mean) / std::sqrt(var + double(eps));
      y.data[r * c + i] = float(n * scale.floats[i] + (bias ? bias->floats[i] : 0.0f));
    }
  }
  return y;
}

// Row-major index helpers for the data-movement ops.
inline std::vector<int64_t> Unravel(int64_t i, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    idx[d] = i % dims[d];
    i /= dims[d];
  }
  return idx;
}
inline int64_t Ravel(const std::vector<int64_t>& idx, const std::vector<int64_t>& dims) {
  int64_t i = 0;
  for (size_t d = 0; d < dims.size(); ++d) i = i * dims[d] + idx[d];
  return i;
}

inline Tensor Concat(const std::vector<Tensor>& xs, int64_t axis) {
  if (axis < 0) axis += static_cast<int64_t>(xs[0].shape.size());
  std::vector<int64_t> out = xs[0].shape;
  out[axis] = 0;
  for (const Tensor& x : xs) out[axis] += x.shape[axis];
  Tensor y{"", out, std::vector<float>(Product(out))};
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    for (int64_t i = 0; i < Product(x.shape); ++i) {
      std::vector<int64_t> idx = Unravel(i, x.shape);
      idx[axis] += offset;
      y.data[Ravel(idx, out)] = x.data[i];
    }
    offset += x.shape[axis];
  }
  return y;
}

// opset < 13: normalize over all of dims[axis:] per index of dims[:axis];
// opset >= 13: over the single dimension `axis`.
inline Tensor Softmax(const Tensor& x, int64_t axis, bool coerce_2d, bool log = false) {
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (axis < 0) axis += rank;
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) outer *= x.shape[d];
    if (d == axis || (coerce_2d && d > axis)) n *= x.shape[d];
    if (!coerce_2d && d > axis) inner *= x.shape[d];
  }
  Tensor y = x;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      double max = -INFINITY, sum = 0.0;
      for (int64_t k = 0; k < n; ++k) max = std::max<double>(max, x.data[(o * n + k) * inner + in]);
      for (int64_t k = 0; k < n; ++k) sum += std::exp(x.data[(o * n + k) * inner + in] - max);
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = (o * n + k) * inner + in;
        y.data[i] =
            log ? float(x.data[i] - max - std::log(sum)) : float(std::exp(x.data[i] - max) / sum);
      }
    }
  return y;
}

// Row-major strides of `dims`.
inline std::vector<int64_t> Strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) strides[d - 1] = strides[d] * dims[d];
  return strides;
}

// Slice with positive steps; starts/ends clamped as in Python.
inline Tensor Slice(const Tensor& x, const std::vector<int64_t>& starts,
                    const std::vector<int64_t>& ends, std::vector<int64_t> axes,
                    std::vector<int64_t> steps) {
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  std::vector<int64_t> begin(r, 0), step(r, 1), count = x.shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i], dim = x.shape[a];
    const int64_t b = std::clamp<int64_t>(starts[i] < 0 ? starts[i] + dim : starts[i], 0, dim);
    const int64_t e = std::clamp<int64_t>(ends[i] < 0 ? ends[i] + dim : ends[i], 0, dim);
    begin[a] = b;
    step[a] = steps[i];
    count[a] = e > b ? (e - b + steps[i] - 1) / steps[i] : 0;
  }
  Tensor y{"", count, std::vector<float>(Product(count))};
  const std::vector<int64_t> in = Strides(x.shape), out = Strides(count);
  for (int64_t i = 0; i < Product(count); ++i) {
    int64_t src = 0;
    for (int64_t a = 0; a < r; ++a) src += (begin[a] + (i / out[a]) % count[a] * step[a]) * in[a];
    y.data[i] = x.data[src];
  }
  return y;
}

// ReduceMean/Sum/Max/Min over `axes` (empty: all).
inline Tensor Reduce(const Tensor& x, const std::string& op, std::vector<int64_t> axes,
                     bool keepdims) {
  const int64_t r = static_cast<int64_t>(x.shape.size());
  std::vector<bool> reduced(r, axes.empty());
  for (int64_t a : axes) reduced[a < 0 ? a + r : a] = true;
  std::vector<int64_t> kept;
  for (int64_t a = 0; a < r; ++a) kept.push_back(reduced[a] ? 1 : x.shape[a]);
  Tensor y{"", kept, std::vector<float>(Product(kept))};
  std::vector<double> acc(Product(kept), op == "ReduceMax"   ? -INFINITY
                                         : op == "ReduceMin" ? INFINITY
                                                             : 0.0);
  const std::vector<int64_t> in = Strides(x.shape), out = Strides(kept);
  for (int64_t i = 0; i < Product(x.shape); ++i) {
    int64_t dst = 0;
    for (int64_t a = 0; a < r; ++a) dst += reduced[a] ? 0 : (i / in[a]) % x.shape[a] * out[a];
    const double v = x.data[i];
    acc[dst] = op == "ReduceMax"   ? std::max(acc[dst], v)
               : op == "ReduceMin" ? std::min(acc[dst], v)
                                   : acc[dst] + v;
  }
  const double n = static_cast<double>(Product(x.shape)) / static_cast<double>(Product(kept));
  for (size_t i = 0; i < acc.size(); ++i)
    y.data[i] = float(op == "ReduceMean" ? acc[i] / n : acc[i]);
  if (!keepdims) {
    y.shape.clear();
    for (int64_t a = 0; a < r; ++a)
      if (!reduced[a]) y.shape.push_back(x.shape[a]);
  }
  return y;
}

inline Tensor Transpose(const Tensor& x, std::vector<int64_t> perm) {
  const size_t r = x.shape.size();
  if (perm.empty())
    for (size_t d = r; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  std::vector<int64_t> out(r);
  for (size_t d = 0; d < r; ++d) out[d] = x.shape[perm[d]];
  Tensor y{"", out, std::vector<float>(x.data.size())};
  for (int64_t i = 0; i < Product(out); ++i) {
    const std::vector<int64_t> oi = Unravel(i, out);
    std::vector<int64_t> xi(r);
    for (size_t d = 0; d < r; ++d) xi[perm[d]] = oi[d];
    y.data[i] = x.data[Ravel(xi, x.shape)];
  }
  return y;
}

// ONNX Pad, every output element from the spec's definition of its mode:
// constant fills, edge repeats the border element, reflect mirrors around
// it (without repeating it).
inline Tensor Pad(const Tensor& x, const std::vector<int64_t>& pads, float value,
                  const std::string& mode = "constant") {
  const size_t r = x.shape.size();
  std::vector<int64_t> out(r);
  for (size_t d = 0; d < r; ++d) out[d] = x.shape[d] + pads[d] + pads[d + r];
  Tensor y{"", out, std::vector<float>(Product(out), value)};
  for (int64_t i = 0; i < Product(out); ++i) {
    std::vector<int64_t> idx = Unravel(i, out);
    bool inside = true;
    for (size_t d = 0; d < r; ++d) {
      int64_t k = idx[d] - pads[d];
      const int64_t n = x.shape[d];
      if (k < 0 || k >= n) {
        inside = false;
        if (mode == "edge") k = k < 0 ? 0 : n - 1;
        if (mode == "reflect") k = k < 0 ? -k : 2 * (n - 1) - k;
      }
      idx[d] = k;
    }
    if (inside || mode != "constant") y.data[i] = x.data[Ravel(idx, x.shape)];
  }
  return y;
}

// ONNX Resize on the two spatial axes (nearest or linear), straight from the
// spec's coordinate transformation formulas.
inline Tensor Resize(const Tensor& x, const std::vector<int64_t>& out_hw, const std::string& mode,
                     const std::string& transform, const std::string& nearest_mode) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = out_hw[0], OW = out_hw[1];
  auto source = [&](int64_t o, int64_t in, int64_t out) {
    const double scale = double(out) / in;
    if (transform == "asymmetric") return o / scale;
    if (transform == "align_corners") return out == 1 ? 0.0 : o * double(in - 1) / (out - 1);
    if (transform == "pytorch_half_pixel" && out == 1) return 0.0;
    return (o + 0.5) / scale - 0.5;  // half_pixel
  };
  auto nearest = [&](double v, int64_t in) {
    int64_t i = 0;
    if (nearest_mode == "floor")
      i = int64_t(std::floor(v));
    else if (nearest_mode == "ceil")
      i = int64_t(std::ceil(v));
    else if (nearest_mode == "round_prefer_ceil")
      i = int64_t(std::floor(v + 0.5));
    else
      i = int64_t(std::ceil(v - 0.5));  // round_prefer_floor
    return std::min(std::max<int64_t>(i, 0), in - 1);
  };
  Tensor y{"", {N, C, OH, OW}, std::vector<float>(N * C * OH * OW)};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const double sh = source(oh, H, OH), sw = source(ow, W, OW);
        const float* plane = &x.data[nc * H * W];
        float v = 0.0f;
        if (mode == "nearest") {
          v = plane[nearest(sh, H) * W + nearest(sw, W)];
        } else {
          const double ch = std::min(std::max(sh, 0.0), double(H - 1));
          const double cw = std::min(std::max(sw, 0.0), double(W - 1));
          const int64_t h0 = int64_t(ch), w0 = int64_t(cw);
          const int64_t h1 = std::min(h0 + 1, H - 1), w1 = std::min(w0 + 1, W - 1);
          const double fh = ch - h0, fw = cw - w0;
          v = float((1 - fh) * ((1 - fw) * plane[h0 * W + w0] + fw * plane[h0 * W + w1]) +
                    fh * ((1 - fw) * plane[h1 * W + w0] + fw * plane[h1 * W + w1]));
        }
        y.data[(nc * OH + oh) * OW + ow] = v;
      }
  return y;
}

inline void ApplyPostOps(const Node& n, Tensor& y, const std::map<std::string, Tensor>& env) {
  for (const PostOp& op : n.post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      y = Add(y, env.at(op.sum_input));  // broadcasting as the Add it replaced
      continue;
    }
    for (size_t i = 0; i < y.data.size(); ++i) {
      float& v = y.data[i];
      switch (op.kind) {
        case PostOp::Kind::kRelu:
          v = std::max(v, 0.0f);
          break;
        case PostOp::Kind::kClip:
          v = std::min(std::max(v, op.alpha), op.beta);
          break;
        case PostOp::Kind::kSum:
          break;
        case PostOp::Kind::kLeakyRelu:
          v = Activation("LeakyRelu", v, op.alpha, 0.0f);
          break;
        case PostOp::Kind::kSigmoid:
          v = Activation("Sigmoid", v, 0.0f, 0.0f);
          break;
        case PostOp::Kind::kTanh:
          v = Activation("Tanh", v, 0.0f, 0.0f);
          break;
        case PostOp::Kind::kHardSigmoid:
          v = Activation("HardSigmoid", v, op.alpha, op.beta);
          break;
        case PostOp::Kind::kHardSwish:
          v = Activation("HardSwish", v, 0.0f, 0.0f);
          break;
        case PostOp::Kind::kSwish:
          v = v * Activation("Sigmoid", v, 0.0f, 0.0f);
          break;
        case PostOp::Kind::kGeluErf:
          v = Activation("Gelu", v, 0.0f, 0.0f);
          break;
      }
    }
  }
}

inline Tensor Constant2Tensor(const Constant& c) { return Tensor{"", c.dims, c.floats}; }

// Runs `g` on `inputs` (one per graph input, in graph order); returns every
// value it computed, by name.
inline std::map<std::string, Tensor> RunAll(const Graph& g, const std::vector<Tensor>& inputs) {
  std::map<std::string, Tensor> env;
  for (size_t i = 0; i < g.inputs.size(); ++i) env[g.inputs[i].name] = inputs.at(i);
  auto get = [&](const std::string& name) -> Tensor {
    auto it = env.find(name);
    if (it != env.end()) return it->second;
    return Constant2Tensor(g.constants.at(name));
  };
  // nullptr for an absent input and for a runtime value.
  auto constant = [&](const Node& n, size_t i) -> const Constant* {
    if (n.inputs.size() <= i || n.inputs[i].empty()) return nullptr;
    const auto it = g.constants.find(n.inputs[i]);
    return it == g.constants.end() ? nullptr : &it->second;
  };
  for (const Node& n : g.nodes) {
    Tensor y;
    const Tensor x = get(n.inputs[0]);
    if (n.op_type == "Conv") {
      y = Conv(n, x, *constant(n, 1), constant(n, 2));
    } else if (n.op_type == "ConvTranspose") {
      y = ConvTranspose(n, x, *constant(n, 1), constant(n, 2));
    } else if (n.op_type == "Gemm") {
      y = Gemm(RefInt(n, "transA", 0) != 0 ? Transpose(x, {1, 0}) : x, *constant(n, 1),
               RefInt(n, "transB", 0) != 0, RefFloat(n, "alpha", 1.0f), constant(n, 2),
               RefFloat(n, "beta", 1.0f));
    } else if (n.op_type == "MatMul" && constant(n, 1) == nullptr) {
      y = BatchedMatMul(x, get(n.inputs[1]));
    } else if (n.op_type == "Gather") {
      y = Gather(x, *constant(n, 1), RefInt(n, "axis", 0));
    } else if (n.op_type == "MatMul") {
      // [..., K] x [K, N]: the rows of A, then A's leading dims back.
      Tensor rows = x;
      rows.shape = {Product(x.shape) / x.shape.back(), x.shape.back()};
      y = Gemm(rows, *constant(n, 1), false, 1.0f, nullptr, 0.0f);
      std::vector<int64_t> out = x.shape;
      out.back() = constant(n, 1)->dims[1];
      y.shape = out;
    } else if (n.op_type == "LayerNormalization") {
      y = LayerNorm(x, *constant(n, 1), constant(n, 2), RefFloat(n, "epsilon", 1e-5f));
    } else if (n.op_type == "Pow") {
      y = x;
      const float e = constant(n, 1)->floats[0];
      for (float& v : y.data) v = float(std::pow(double(v), double(e)));
    } else if (n.op_type == "Gelu" || n.op_type == "Erf" || n.op_type == "Sqrt") {
      y = x;
      for (float& v : y.data) v = Activation(n.op_type, v, 0.0f, 0.0f);
    } else if (n.op_type.find("Pool") != std::string::npos) {
      y = Pool(n, x);
    } else if (n.op_type == "Add") {
      y = Add(x, get(n.inputs[1]));
    } else if (n.op_type == "Sub") {
      y = Binary(x, get(n.inputs[1]), [](float p, float q) { return p - q; });
    } else if (n.op_type == "Mul") {
      y = Binary(x, get(n.inputs[1]), [](float p, float q) { return p * q; });
    } else if (n.op_type == "Div") {
      y = Binary(x, get(n.inputs[1]), [](float p, float q) { return p / q; });
    } else if (n.op_type == "PRelu") {
      Tensor slope = get(n.inputs[1]);
      if (g.opset_version < 7 && slope.shape.size() == 1) {  // per channel
        slope.shape = std::vector<int64_t>(x.shape.size() - 1, 1);
        slope.shape[0] = x.shape[1];
      }
      y = Binary(x, slope, [](float p, float q) { return p < 0.0f ? p * q : p; });
    } else if (n.op_type == "Relu" || n.op_type == "LeakyRelu" || n.op_type == "Sigmoid" ||
               n.op_type == "Tanh" || n.op_type == "HardSigmoid" || n.op_type == "HardSwish") {
      y = x;
      const float alpha = RefFloat(n, "alpha", n.op_type == "LeakyRelu" ? 0.01f : 0.2f);
      const float beta = RefFloat(n, "beta", 0.5f);
      for (float& v : y.data) v = Activation(n.op_type, v, alpha, beta);
    } else if (n.op_type == "Clip") {
      y = x;
      float lo = constant(n, 1) ? constant(n, 1)->floats[0] : -INFINITY;
      float hi = constant(n, 2) ? constant(n, 2)->floats[0] : INFINITY;
      if (g.opset_version < 11) {
        lo = RefFloat(n, "min", -INFINITY);
        hi = RefFloat(n, "max", INFINITY);
      }
      for (float& v : y.data) v = std::min(std::max(v, lo), hi);
    } else if (n.op_type == "Concat") {
      std::vector<Tensor> xs;
      for (const std::string& input : n.inputs) xs.push_back(get(input));
      y = Concat(xs, RefInt(n, "axis", 0));
    } else if (n.op_type == "Softmax" || n.op_type == "LogSoftmax") {
      const bool coerce_2d = g.opset_version < 13;
      y = Softmax(x, RefInt(n, "axis", coerce_2d ? 1 : -1), coerce_2d, n.op_type == "LogSoftmax");
    } else if (n.op_type == "Resize" || n.op_type == "Upsample") {
      const bool opset10 = g.opset_version < 11 || n.op_type == "Upsample";
      const Constant* sizes = opset10 ? nullptr : constant(n, 3);
      Constant scale_attribute;  // Upsample opset 7
      scale_attribute.floats = n.attributes.count("scales")
                                   ? std::get<std::vector<float>>(n.attributes.at("scales"))
                                   : std::vector<float>{};
      const Constant* scales =
          scale_attribute.floats.empty() ? constant(n, opset10 ? 1 : 2) : &scale_attribute;
      std::vector<int64_t> out_hw(2);
      for (int i = 0; i < 2; ++i)
        out_hw[i] = sizes ? sizes->ints[2 + i]
                          : int64_t(std::floor(x.shape[2 + i] * double(scales->floats[2 + i])));
      y = Resize(x, out_hw, RefStr(n, "mode", "nearest"),
                 opset10 ? "asymmetric" : RefStr(n, "coordinate_transformation_mode", "half_pixel"),
                 opset10 ? "floor" : RefStr(n, "nearest_mode", "round_prefer_floor"));
    } else if (n.op_type == "Transpose") {
      y = Transpose(x, RefInts(n, "perm", {}));
    } else if (n.op_type == "Pad") {
      const bool inputs_form = g.opset_version >= 11;
      y = Pad(x, inputs_form ? g.constants.at(n.inputs[1]).ints : RefInts(n, "pads", {}),
              inputs_form ? (constant(n, 2) ? constant(n, 2)->floats[0] : 0.0f)
                          : RefFloat(n, "value", 0.0f),
              RefStr(n, "mode", "constant"));
    } else if (n.op_type == "BatchNormalization") {
      y = x;
      const int64_t C = x.shape[1], inner = Product(x.shape) / x.shape[0] / C;
      const float eps = RefFloat(n, "epsilon", 1e-5f);
      for (int64_t i = 0; i < Product(x.shape); ++i) {
        const int64_t c = (i / inner) % C;
        y.data[i] = (x.data[i] - constant(n, 3)->floats[c]) /
                        std::sqrt(constant(n, 4)->floats[c] + eps) * constant(n, 1)->floats[c] +
                    constant(n, 2)->floats[c];
      }
    } else if (n.op_type == "Flatten") {
      y = x;
      const int64_t axis = RefInt(n, "axis", 1);
      int64_t outer = 1;
      for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
      y.shape = {outer, Product(x.shape) / outer};
    } else if (n.op_type == "Slice") {
      auto ints = [&](size_t i) {
        return constant(n, i) ? constant(n, i)->ints : std::vector<int64_t>{};
      };
      y = Slice(x, ints(1), ints(2), ints(3), ints(4));
    } else if (n.op_type.rfind("Reduce", 0) == 0) {
      std::vector<int64_t> axes = RefInts(n, "axes", {});
      if (axes.empty() && constant(n, 1)) axes = constant(n, 1)->ints;
      y = Reduce(x, n.op_type, axes, RefInt(n, "keepdims", 1) != 0);
    } else if (n.op_type == "Squeeze" || n.op_type == "Unsqueeze") {
      y = x;
      std::vector<int64_t> axes = RefInts(n, "axes", {});
      if (axes.empty() && constant(n, 1)) axes = constant(n, 1)->ints;
      const bool unsqueeze = n.op_type == "Unsqueeze";
      const int64_t r = static_cast<int64_t>(x.shape.size() + (unsqueeze ? axes.size() : 0));
      std::vector<bool> marked(r, false);
      for (int64_t a : axes) marked[a < 0 ? a + r : a] = true;
      y.shape.clear();
      size_t next = 0;
      for (int64_t a = 0; a < r; ++a) {
        if (unsqueeze) {
          y.shape.push_back(marked[a] ? 1 : x.shape[next++]);
        } else if (!(axes.empty() ? x.shape[a] == 1 : marked[a])) {
          y.shape.push_back(x.shape[a]);
        }
      }
    } else if (n.op_type == "Reshape") {
      y = x;
      std::vector<int64_t> shape = g.constants.at(n.inputs[1]).ints;
      int64_t known = 1;
      for (size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == 0) shape[i] = x.shape[i];
        if (shape[i] != -1) known *= shape[i];
      }
      for (int64_t& v : shape)
        if (v == -1) v = Product(x.shape) / known;
      y.shape = shape;
    }
    ApplyPostOps(n, y, env);
    env[n.outputs[0]] = y;
  }
  return env;
}

inline std::map<std::string, Tensor> RunAll(const Graph& g, const Tensor& input) {
  return RunAll(g, std::vector<Tensor>{input});
}

// Runs `g` on `inputs` (in graph order); returns the first graph output.
inline Tensor Run(const Graph& g, const std::vector<Tensor>& inputs) {
  return RunAll(g, inputs).at(g.outputs[0].name);
}

inline Tensor Run(const Graph& g, const Tensor& input) {
  return Run(g, std::vector<Tensor>{input});
}

}  // namespace reference

// Compiles `graph` as an fp32 Plan and runs it on `input`.
inline absl::StatusOr<std::vector<Tensor>> RunFp32Plan(const Graph& graph, const Tensor& input) {
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(graph, input.shape, {});
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
  if (!context.ok()) return context.status();
  return (*context)->Run(input);
}

// The Plan's output on seeded random input in [lo, hi] matches the reference:
// |actual - expected| <= 1e-4 * (1 + |expected|).
inline void ExpectPlanMatchesReference(const Graph& graph, const std::vector<int64_t>& input_shape,
                                       unsigned seed = 1, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  const Tensor input = RandomTensor(input_shape, rng, lo, hi);
  const Tensor expected = reference::Run(graph, input);
  absl::StatusOr<std::vector<Tensor>> actual = RunFp32Plan(graph, input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  ASSERT_EQ(actual->size(), 1u);
  const Tensor& y = (*actual)[0];
  ASSERT_EQ(y.shape, expected.shape);
  for (size_t i = 0; i < y.data.size(); ++i) {
    ASSERT_NEAR(y.data[i], expected.data[i], 1e-4 * (1.0 + std::fabs(expected.data[i])))
        << "element " << i;
  }
}

}  // namespace quantd::engine::testing

#endif  // QUANTD_TESTS_ENGINE_RUNTIME_REFERENCE_H_
