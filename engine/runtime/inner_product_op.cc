// Gemm and MatMul with a constant 2-D B as a oneDNN inner product (MatMul of
// two runtime values: batched_matmul.h; Gemm's transA: A transposed into a
// copy first). A Flatten/Reshape view of a 4-D activation feeds the inner
// product directly (weights viewed as [OC, C, H, W]), so the activation never
// has to be reordered to plain layout. Quantization as in conv_op.cc.

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/batched_matmul.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

// `weights` is [OC, K] row-major; `bias` has OC entries. The result is value
// `output` ([rows of a, OC]).
absl::Status CompileInnerProduct(PlanCompiler& c, const Node& node, const std::string& a,
                                 std::vector<float> weights, std::vector<float> bias,
                                 const std::string& output) {
  const int64_t oc = static_cast<int64_t>(bias.size());
  const std::vector<int64_t> a_dims = c.Dims(a);
  if (a_dims.size() != 2) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input A must be 2-D, got [",
                                                 absl::StrJoin(a_dims, ","), "]"));
  }
  const int64_t k = a_dims[1];
  if (static_cast<int64_t>(weights.size()) != oc * k) {
    return absl::InvalidArgumentError(absl::StrCat(
        NodeLabel(node), ": weights do not match input A [", absl::StrJoin(a_dims, ","), "]"));
  }
  // Read through a flattening view of a 4-D value.
  std::string src = a;
  std::vector<int64_t> src_dims = a_dims;
  if (std::optional<std::string> source = c.ViewSource(a)) {
    const std::vector<int64_t>& s = c.Dims(*source);
    if (s.size() == 4 && !c.ViewSource(*source) && s[0] == a_dims[0] && s[1] * s[2] * s[3] == k) {
      src = *source;
      src_dims = s;
    }
  }
  const memory::dims weight_dims = src_dims.size() == 4
                                       ? memory::dims{oc, src_dims[1], src_dims[2], src_dims[3]}
                                       : memory::dims{oc, k};
  const memory::format_tag weight_tag =
      src_dims.size() == 4 ? memory::format_tag::oihw : memory::format_tag::oi;

  // Excluded nodes read f32; simulated Plans fake-quantize weights here and
  // activations on the way in and out.
  const bool quantize = (c.int8() || c.simulated()) && !c.Excluded(node);
  QuantParams src_q;
  if (c.int8() && quantize) {
    src_q = c.Quant(src);
    if (!src_q.quantized()) {
      // A view made here (MatMul's rows) has its source's calibrated range.
      if (std::optional<QuantParams> q = c.CalibratedQuant(c.ViewSource(src).value_or(src))) {
        src_q = *q;
      }
    }
  }
  const bool int8 = src_q.quantized();
  const bool simulated = c.simulated() && quantize && (c.Grid(src) || c.CalibratedGrid(src));
  const QuantParams dst_q = int8 ? ChooseDstQuant(c, node) : QuantParams{};
  const PostOpDomain domain = ChoosePostOpDomain(node, dst_q);
  const std::optional<ActivationGrid> dst_grid = simulated ? ChooseDstGrid(c, node) : std::nullopt;
  std::vector<float> weight_scales, output_scales;
  if (simulated) {
    FakeQuantizeWeights(weights, WeightScales(weights, oc, c.quantization()),
                        c.quantization().weight_bits);
  }
  if (int8) {
    c.RecordInt8Input(node, src_q);
    weight_scales = WeightScales(weights, oc, c.quantization());
    output_scales.resize(oc);
    for (int64_t o = 0; o < oc; ++o) {
      output_scales[o] = domain.scale / (src_q.scale * weight_scales[o]);
      bias[o] *= src_q.scale * weight_scales[o];  // accumulator domain, as in conv
    }
  }
  const memory::data_type src_type = int8 ? src_q.type : memory::data_type::f32;

  std::optional<dnnl::inner_product_forward::primitive_desc> pd;
  try {
    dnnl::primitive_attr attr = StepAttr();
    ASSIGN_OR_RETURN(dnnl::post_ops post_ops,
                     MakePostOps(node, domain, SumParams(c, node, dst_q, domain)));
    if (dst_grid) AppendFakeQuant(post_ops, *dst_grid);
    attr.set_post_ops(post_ops);
    if (int8) attr.set_output_scales(1 << 1, output_scales);
    const memory::desc weight_md(weight_dims, int8 ? memory::data_type::s8 : memory::data_type::f32,
                                 memory::format_tag::any);
    const memory::desc bias_md({oc}, memory::data_type::f32, memory::format_tag::a);
    const memory::desc dst_md({src_dims[0], oc}, dst_q.type, memory::format_tag::any);
    // Prefer the layout the activation already has (no reorder), unless
    // oneDNN then falls back to a plain GEMM kernel (gemm_s8s8s32 for an s8
    // source in channels-last, several times slower than its brgemm one on
    // a MobileNetV3 classifier): then let it pick the source layout too.
    ASSIGN_OR_RETURN(memory::desc current, c.CurrentDesc(src));
    current.data.data_type = memory::convert_to_c(src_type);
    for (const memory::desc& src_md :
         {current, memory::desc(src_dims, src_type, memory::format_tag::any)}) {
      const bool any = src_md.data.format_kind == dnnl_format_kind_any;
      try {
        const dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src_md,
                                                     weight_md, bias_md, dst_md);
        dnnl::inner_product_forward::primitive_desc candidate(desc, attr, c.engine());
        const bool brgemm = std::string(candidate.impl_info_str()).rfind("brgemm", 0) == 0;
        if (!pd || brgemm) pd.emplace(std::move(candidate));
        if (brgemm) break;
      } catch (const dnnl::error&) {
        if (any && !pd) throw;
      }
    }
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }

  ASSIGN_OR_RETURN(const int weight_buffer,
                   c.AddReorderedConstant(node.name, weight_dims, weight_tag, weights.data(),
                                          pd->weights_desc(), 1 << 0, weight_scales));
  const int bias_buffer = c.AddF32Constant({oc}, memory::format_tag::a, bias.data());
  ASSIGN_OR_RETURN(const int src_buffer,
                   simulated ? c.FakeQuantizedBufferFor(src, pd->src_desc(), node.name)
                             : c.BufferFor(src, pd->src_desc(), src_q.scale, node.name));
  ASSIGN_OR_RETURN(const int dst_buffer, SumDestination(c, node, pd->dst_desc(), dst_q));
  dnnl::primitive primitive;
  try {
    primitive = dnnl::inner_product_forward(*pd);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.AddStep(node.name, std::move(primitive),
            {{DNNL_ARG_SRC, src_buffer},
             {DNNL_ARG_WEIGHTS, weight_buffer},
             {DNNL_ARG_BIAS, bias_buffer},
             {DNNL_ARG_DST, dst_buffer}});
  c.DefineValue(output, {src_dims[0], oc}, dst_buffer, dst_q);
  if (dst_grid) c.SetGrid(output, *dst_grid);
  return absl::OkStatus();
}

absl::StatusOr<const Constant*> ConstantMatrix(PlanCompiler& c, const Node& node,
                                               const std::string& name) {
  const Constant* m = c.FindConstant(name);
  if (m == nullptr || m->type != Constant::Type::kFloat32 || m->dims.size() != 2) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": input '", name, "' must be a constant 2-D float matrix"));
  }
  return m;
}

// [K, OC] row-major -> [OC, K] row-major.
std::vector<float> Transpose(const Constant& m) {
  const int64_t rows = m.dims[0], cols = m.dims[1];
  std::vector<float> t(m.floats.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t col = 0; col < cols; ++col) t[col * rows + r] = m.floats[r * cols + col];
  }
  return t;
}

absl::StatusOr<std::vector<Shape>> GemmShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* a = node.inputs.size() > 1 ? shapes.Dims(node.inputs[0]) : nullptr;
  const std::vector<int64_t>* b = node.inputs.size() > 1 ? shapes.Dims(node.inputs[1]) : nullptr;
  if (a == nullptr || b == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs A and B"));
  }
  if (a->size() != 2 || b->size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": A [", absl::StrJoin(*a, ","),
                                                   "] and B [", absl::StrJoin(*b, ","),
                                                   "] must be 2-D"));
  }
  const bool trans_a = IntAttr(node, "transA", 0) != 0, trans_b = IntAttr(node, "transB", 0) != 0;
  const int64_t m = (*a)[trans_a ? 1 : 0], k = (*a)[trans_a ? 0 : 1];
  const int64_t kb = (*b)[trans_b ? 1 : 0], n = (*b)[trans_b ? 0 : 1];
  if (k != kb) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": A [", absl::StrJoin(*a, ","),
                                                   "] and B [", absl::StrJoin(*b, ","),
                                                   "] do not multiply"));
  }
  return std::vector<Shape>{{m, n}};
}

// numpy matmul: 1-D operands are promoted (and the added axis dropped again),
// leading (batch) axes broadcast.
absl::StatusOr<std::vector<Shape>> MatMulShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* a = node.inputs.size() > 1 ? shapes.Dims(node.inputs[0]) : nullptr;
  const std::vector<int64_t>* b = node.inputs.size() > 1 ? shapes.Dims(node.inputs[1]) : nullptr;
  if (a == nullptr || b == nullptr || node.outputs.empty() || a->empty() || b->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": needs A and B of rank >= 1"));
  }
  std::vector<int64_t> x = *a, y = *b;
  if (x.size() == 1) x.insert(x.begin(), 1);
  if (y.size() == 1) y.push_back(1);
  if (x.back() != y[y.size() - 2]) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": A [", absl::StrJoin(*a, ","),
                                                   "] and B [", absl::StrJoin(*b, ","),
                                                   "] do not multiply"));
  }
  const size_t batch_rank = std::max(x.size(), y.size()) - 2;
  Shape out;
  for (size_t i = 0; i < batch_rank; ++i) {
    const int64_t dx = i + x.size() - 2 >= batch_rank ? x[i + x.size() - 2 - batch_rank] : 1;
    const int64_t dy = i + y.size() - 2 >= batch_rank ? y[i + y.size() - 2 - batch_rank] : 1;
    if (dx != dy && dx != 1 && dy != 1) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": batch axes of A [",
                                                     absl::StrJoin(*a, ","), "] and B [",
                                                     absl::StrJoin(*b, ","), "] do not broadcast"));
    }
    out.push_back(std::max(dx, dy));
  }
  if (a->size() > 1) out.push_back(x[x.size() - 2]);
  if (b->size() > 1) out.push_back(y.back());
  return std::vector<Shape>{out};
}

// Each output element is a dot product over A's inner dimension.
int64_t MatrixProductMacs(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* a = shapes.Dims(node.inputs[0]);
  const std::vector<int64_t>* out = shapes.Dims(node.outputs[0]);
  if (a == nullptr || out == nullptr || a->empty()) return 0;
  const bool trans_a = node.op_type == "Gemm" && IntAttr(node, "transA", 0) != 0;
  return NumElements(*out) * (trans_a ? (*a)[0] : a->back());
}

// Gemm's transA: A [K, M] copied into a value [M, K] of its own, which the
// inner product then reads as its rows (int8 values move as they are).
absl::StatusOr<std::string> TransposedA(PlanCompiler& c, const Node& node) {
  const std::string& a = node.inputs[0];
  if (!c.HasValue(a)) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": A must be a runtime value"));
  }
  const std::vector<int64_t> dims = c.Dims(a);
  if (dims.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": A [", absl::StrJoin(dims, ","), "] must be 2-D"));
  }
  const int64_t k = dims[0], m = dims[1];
  const QuantParams quant = c.Excluded(node) ? QuantParams{} : c.Quant(a);
  const memory::desc plain(dims, quant.type, memory::format_tag::ab);
  ASSIGN_OR_RETURN(const int source, c.BufferFor(a, plain, quant.scale, node.name));
  try {
    // Element (row r, column j) of A^T is A's element (j, r): strides {1, M}.
    const int transposed = c.AddAlias(memory::desc({m, k}, quant.type, memory::dims{1, m}), source);
    const int rows = c.AddBuffer(memory::desc({m, k}, quant.type, memory::format_tag::ab));
    RETURN_IF_ERROR(c.AddReorderStep(node.name, transposed, rows, 1.0f));
    const std::string name = node.outputs[0] + "/a_transposed";
    c.DefineValue(name, {m, k}, rows, quant);
    return name;
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
}

absl::Status CompileGemm(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() < 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs A and B"));
  }
  std::string a = node.inputs[0];
  if (IntAttr(node, "transA", 0) != 0) {
    ASSIGN_OR_RETURN(a, TransposedA(c, node));
  }
  ASSIGN_OR_RETURN(const Constant* b, ConstantMatrix(c, node, node.inputs[1]));
  const bool trans_b = IntAttr(node, "transB", 0) != 0;
  const float alpha = FloatAttr(node, "alpha", 1.0f);
  const float beta = FloatAttr(node, "beta", 1.0f);
  std::vector<float> weights = trans_b ? b->floats : Transpose(*b);
  for (float& v : weights) v *= alpha;
  const int64_t oc = trans_b ? b->dims[0] : b->dims[1];
  std::vector<float> bias(oc, 0.0f);
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const Constant* bias_constant = c.FindConstant(node.inputs[2]);
    if (bias_constant == nullptr || bias_constant->type != Constant::Type::kFloat32 ||
        (bias_constant->NumElements() != oc && bias_constant->NumElements() != 1)) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": C must be a constant with ",
                                                   oc, " elements or a scalar"));
    }
    for (int64_t i = 0; i < oc; ++i) {
      bias[i] = beta * bias_constant->floats[bias_constant->NumElements() == 1 ? 0 : i];
    }
  }
  return CompileInnerProduct(c, node, a, std::move(weights), std::move(bias), node.outputs[0]);
}

absl::Status CompileMatMul(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs A and B"));
  }
  if (c.HasValue(node.inputs[1])) return CompileBatchedMatMul(c, node);
  ASSIGN_OR_RETURN(const Constant* b, ConstantMatrix(c, node, node.inputs[1]));
  const std::string& a = node.inputs[0];
  const std::vector<int64_t> a_dims = c.Dims(a);
  const int64_t n = b->dims[1];
  if (a_dims.size() <= 2) {
    return CompileInnerProduct(c, node, a, Transpose(*b), std::vector<float>(n, 0.0f),
                               node.outputs[0]);
  }
  // [..., K] x [K, N] (ConvNeXt's and transformers' Linear layers) is the
  // inner product of A's rows, [prod(...), K], viewed back as [..., N].
  const int64_t k = a_dims.back();
  const std::string rows = node.outputs[0] + "/rows_of_a";
  c.DefineView(rows, {NumElements(a_dims) / k, k}, c.ViewSource(a).value_or(a));
  const std::string product = node.outputs[0] + "/rows";
  RETURN_IF_ERROR(
      CompileInnerProduct(c, node, rows, Transpose(*b), std::vector<float>(n, 0.0f), product));
  std::vector<int64_t> out = a_dims;
  out.back() = n;
  c.DefineView(node.outputs[0], out, product);
  return absl::OkStatus();
}

// A MatMul by a runtime B (batched_matmul.cc) reads A as f32.
bool Int8MatMulInput(const PlanCompiler& c, const Node& node, size_t index) {
  return index == 0 && node.inputs.size() == 2 && c.FindConstant(node.inputs[1]) != nullptr;
}

}  // namespace

void RegisterInnerProductOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Gemm",
                 .shape = GemmShape,
                 .compile = CompileGemm,
                 .int8_input = Int8FirstInput,
                 .macs = MatrixProductMacs,
                 .takes_post_ops = true});
  ops.push_back({.op_type = "MatMul",
                 .shape = MatMulShape,
                 .compile = CompileMatMul,
                 .int8_input = Int8MatMulInput,
                 .macs = MatrixProductMacs,
                 .takes_post_ops = true});
}

}  // namespace quantd::engine
