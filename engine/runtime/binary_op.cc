// Add, Sub, Mul and Div (those the passes did not fuse into a producer), and
// the comparisons Equal, Greater, GreaterOrEqual, Less, LessOrEqual, as
// oneDNN binary, with ONNX multidirectional broadcasting (opset 7+); in int8
// Plans on quantized full-size operands (residual adds that could not fuse,
// the squeeze-and-excitation Mul of an int8 tensor by its f32 gate).
// oneDNN broadcasts only its second source (dims of size 1): a first operand
// of smaller shape is swapped to second place when the op commutes, else
// expanded to the output shape first (constants at compile time, activations
// by a step adding them to zeros).

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

struct Operand {
  std::string name;
  const Constant* constant = nullptr;  // set when the operand is no runtime value
  std::vector<int64_t> dims;           // right-aligned to the output's rank
};

std::vector<int64_t> AlignRank(std::vector<int64_t> dims, size_t rank) {
  dims.insert(dims.begin(), rank - dims.size(), 1);
  return dims;
}

int64_t Product(const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= d;
  return p;
}

// `values` (shape `dims`, aligned) repeated to `out` along its size-1 dims.
std::vector<float> Expand(const std::vector<float>& values, const std::vector<int64_t>& dims,
                          const std::vector<int64_t>& out) {
  std::vector<float> result(Product(out));
  std::vector<int64_t> index(out.size(), 0);
  for (size_t i = 0; i < result.size(); ++i) {
    int64_t source = 0;
    for (size_t d = 0; d < out.size(); ++d)
      source = source * dims[d] + (dims[d] == 1 ? 0 : index[d]);
    result[i] = values[source];
    for (size_t d = out.size(); d-- > 0;) {
      if (++index[d] < out[d]) break;
      index[d] = 0;
    }
  }
  return result;
}

// Buffer holding the runtime value `name` as plain f32, viewed with the
// operand's aligned rank.
absl::StatusOr<int> PlainBuffer(PlanCompiler& c, const Operand& operand, const Node& node) {
  const std::vector<int64_t>& dims = c.Dims(operand.name);
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int buffer, c.BufferFor(operand.name, plain, 1.0f, node.name));
  if (dims.size() == operand.dims.size()) return buffer;
  return c.AddAlias(
      memory::desc(operand.dims, memory::data_type::f32, PlainTag(operand.dims.size())), buffer);
}

absl::StatusOr<dnnl::algorithm> BinaryAlgorithm(const Node& node) {
  if (node.op_type == "Add") return dnnl::algorithm::binary_add;
  if (node.op_type == "Sub") return dnnl::algorithm::binary_sub;
  if (node.op_type == "Mul") return dnnl::algorithm::binary_mul;
  if (node.op_type == "Div") return dnnl::algorithm::binary_div;
  if (node.op_type == "Equal") return dnnl::algorithm::binary_eq;
  if (node.op_type == "Greater") return dnnl::algorithm::binary_gt;
  if (node.op_type == "GreaterOrEqual") return dnnl::algorithm::binary_ge;
  if (node.op_type == "Less") return dnnl::algorithm::binary_lt;
  if (node.op_type == "LessOrEqual") return dnnl::algorithm::binary_le;
  return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": not a binary op"));
}

// The first source: a buffer of the full output shape; `desc` is its layout.
absl::StatusOr<int> FirstSource(PlanCompiler& c, const Node& node, const Operand& a,
                                const std::vector<int64_t>& out, memory::desc& desc) {
  const memory::desc plain(out, memory::data_type::f32, PlainTag(out.size()));
  if (a.constant != nullptr) {
    desc = plain;
    return c.AddF32Constant(out, PlainTag(out.size()),
                            Expand(a.constant->floats, a.dims, out).data());
  }
  if (a.dims == out && c.Dims(a.name).size() == out.size()) {
    ASSIGN_OR_RETURN(const int buffer, c.F32BufferFor(a.name, node.name));
    ASSIGN_OR_RETURN(desc, c.CurrentDesc(a.name));
    desc.data.data_type = dnnl_f32;
    return buffer;
  }
  desc = plain;
  return BroadcastF32(c, a.name, out, node);
}

// Whether oneDNN has a jit kernel for the binary reading `a` and `b` as
// stored (`a_q`, `b_q`; both full size where quantized) and writing `dst_q`;
// `layout` is the first source's (the output's) layout.
bool JitBinaryFor(PlanCompiler& c, const Node& node, const memory::desc& layout, const Operand& b,
                  QuantParams a_q, QuantParams b_q, QuantParams dst_q) {
  memory::desc a_desc = layout, b_desc = layout, dst_desc = layout;
  a_desc.data.data_type = memory::convert_to_c(a_q.type);
  dst_desc.data.data_type = memory::convert_to_c(dst_q.type);
  if (b_q.quantized()) {
    b_desc.data.data_type = memory::convert_to_c(b_q.type);
  } else {
    b_desc = memory::desc(b.dims, memory::data_type::f32, PlainTag(b.dims.size()));
  }
  try {
    dnnl::primitive_attr attr = StepAttr();
    attr.set_scales(DNNL_ARG_SRC_0, 0, {0.5f});
    attr.set_scales(DNNL_ARG_SRC_1, 0, {0.5f});
    const dnnl::binary::primitive_desc pd(
        dnnl::binary::desc(*BinaryAlgorithm(node), a_desc, b_desc, dst_desc), attr, c.engine());
    return std::string(pd.impl_info_str()).rfind("ref", 0) != 0;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace

absl::StatusOr<int> BroadcastF32(PlanCompiler& c, const std::string& name,
                                 const std::vector<int64_t>& out, const Node& node) {
  const std::vector<int64_t>& dims = c.Dims(name);
  bool broadcasts = dims.size() <= out.size();
  const Operand value{name, nullptr, broadcasts ? AlignRank(dims, out.size()) : dims};
  for (size_t i = 0; broadcasts && i < out.size(); ++i) {
    broadcasts = value.dims[i] == out[i] || value.dims[i] == 1;
  }
  if (!broadcasts) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": '", name, "' [", absl::StrJoin(dims, ","),
                     "] does not broadcast to [", absl::StrJoin(out, ","), "]"));
  }
  ASSIGN_OR_RETURN(const int source, PlainBuffer(c, value, node));
  if (value.dims == out) return source;
  const memory::desc plain(out, memory::data_type::f32, PlainTag(out.size()));
  const std::vector<float> zeros(Product(out), 0.0f);
  const int zero_buffer = c.AddF32Constant(out, PlainTag(out.size()), zeros.data());
  const int expanded = c.AddBuffer(plain);
  try {
    const dnnl::binary::desc op_desc(dnnl::algorithm::binary_add, plain, c.BufferDesc(source),
                                     plain);
    const dnnl::binary::primitive_desc pd(op_desc, StepAttr(), c.engine());
    c.AddStep(node.name, dnnl::binary(pd),
              {{DNNL_ARG_SRC_0, zero_buffer}, {DNNL_ARG_SRC_1, source}, {DNNL_ARG_DST, expanded}});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return expanded;
}

namespace {

// Comparisons write 1 or 0 (as f32: quantd serves every output as float32)
// and never run int8.
bool IsComparison(const std::string& op_type) {
  return op_type == "Equal" || op_type == "Greater" || op_type == "GreaterOrEqual" ||
         op_type == "Less" || op_type == "LessOrEqual";
}

absl::Status CompileBinary(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs A and B"));
  }
  ASSIGN_OR_RETURN(const dnnl::algorithm algorithm, BinaryAlgorithm(node));
  const bool commutes = node.op_type == "Add" || node.op_type == "Mul" || node.op_type == "Equal";
  const bool compares = IsComparison(node.op_type);
  Operand a{node.inputs[0], nullptr, {}}, b{node.inputs[1], nullptr, {}};
  for (Operand* operand : {&a, &b}) {
    if (c.HasValue(operand->name)) {
      operand->dims = c.Dims(operand->name);
      continue;
    }
    operand->constant = c.FindConstant(operand->name);
    if (operand->constant == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input '", operand->name, "' is not defined"));
    }
    if (operand->constant->type != Constant::Type::kFloat32) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": non-float constant '", operand->name, "'"));
    }
    operand->dims = operand->constant->dims;
  }
  if (a.constant != nullptr && b.constant != nullptr) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": both inputs are constants"));
  }
  const size_t rank = std::max(a.dims.size(), b.dims.size());
  if (rank > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": rank ", rank, " > 6"));
  }
  const std::vector<int64_t> a_original = a.dims, b_original = b.dims;
  a.dims = AlignRank(a.dims, rank);
  b.dims = AlignRank(b.dims, rank);
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (a.dims[i] != b.dims[i] && a.dims[i] != 1 && b.dims[i] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": shapes [", absl::StrJoin(a_original, ","), "] and [",
                       absl::StrJoin(b_original, ","), "] do not broadcast"));
    }
    out[i] = std::max(a.dims[i], b.dims[i]);
  }
  // Prefer a runtime value of the full shape as the first source.
  const bool a_ready = a.constant == nullptr && a.dims == out;
  const bool b_ready = b.constant == nullptr && b.dims == out;
  if (commutes && !a_ready && (b_ready || b.constant == nullptr)) std::swap(a, b);
  auto full_size = [&](const Operand& o) {
    return o.constant == nullptr && o.dims == out && c.Dims(o.name).size() == rank;
  };

  // int8 Plans read a full-size operand as stored (u8/s8, with its scale); a
  // broadcast one (an SE block's gate) stays f32. oneDNN scales each source
  // so that the result lands in the post-ops' domain.
  const bool quantize = (c.int8() || c.simulated()) && !c.Excluded(node) && !compares;
  auto stored = [&](const Operand& o) {
    if (!c.int8() || !quantize || !full_size(o)) return QuantParams{};
    return c.Quant(o.name);
  };
  QuantParams a_q = stored(a), b_q = stored(b);
  const QuantParams dst_q = c.int8() && quantize ? ChooseDstQuant(c, node) : QuantParams{};
  const PostOpDomain domain = ChoosePostOpDomain(node, dst_q);
  // oneDNN's jit binary wants the first source in the destination's type;
  // other mixes run its reference kernel, 30x slower (ViT's residual adds
  // of an int8 linear layer's output into the f32 stream: 5 ms each).
  if (commutes && a_q.type != dst_q.type && b_q.type == dst_q.type && full_size(b)) {
    std::swap(a, b);
    std::swap(a_q, b_q);
  }
  if (a_q.quantized() || b_q.quantized()) {
    const absl::StatusOr<memory::desc> current = c.CurrentDesc(a.name);
    const memory::desc layout = full_size(a) && current.ok()
                                    ? *current
                                    : memory::desc(out, memory::data_type::f32, PlainTag(rank));
    if (!JitBinaryFor(c, node, layout, b, a_q, b_q, dst_q)) {
      a_q = b_q = QuantParams{};  // dequantize first: a reorder is cheap
    }
  }
  const bool simulated = c.simulated() && quantize;
  const std::optional<ActivationGrid> dst_grid = simulated ? ChooseDstGrid(c, node) : std::nullopt;

  memory::desc a_desc;
  int a_buffer = -1;
  if (a_q.quantized()) {
    ASSIGN_OR_RETURN(a_desc, c.CurrentDesc(a.name));
    ASSIGN_OR_RETURN(a_buffer, c.BufferFor(a.name, a_desc, a_q.scale, node.name));
  } else {
    ASSIGN_OR_RETURN(a_buffer, FirstSource(c, node, a, out, a_desc));
    if (simulated && full_size(a)) {
      ASSIGN_OR_RETURN(a_buffer, c.FakeQuantizedBufferFor(a.name, a_desc, node.name));
    }
  }
  int b_buffer = -1;
  memory::desc b_desc(b.dims, memory::data_type::f32, PlainTag(rank));
  if (b.constant != nullptr) {
    b_buffer = c.AddF32Constant(b.dims, PlainTag(rank), b.constant->floats.data());
  } else if (full_size(b)) {
    // Same shape: read B in A's layout, as its own type.
    b_desc = a_desc;
    b_desc.data.data_type = memory::convert_to_c(b_q.type);
    if (simulated) {
      ASSIGN_OR_RETURN(b_buffer, c.FakeQuantizedBufferFor(b.name, b_desc, node.name));
    } else {
      ASSIGN_OR_RETURN(b_buffer, c.BufferFor(b.name, b_desc, b_q.scale, node.name));
    }
  } else {
    ASSIGN_OR_RETURN(b_buffer, PlainBuffer(c, b, node));
  }
  // Add/Sub: k*a_real + k*b_real; Mul/Div: (k*a_real) * b_real (or /).
  const bool linear = node.op_type == "Add" || node.op_type == "Sub";
  const float a_scale = domain.scale / a_q.scale;
  const float b_scale = (linear ? domain.scale : 1.0f) / b_q.scale;
  memory::desc dst_desc = a_desc;
  dst_desc.data.data_type = memory::convert_to_c(dst_q.type);
  try {
    const dnnl::binary::desc desc(algorithm, a_desc, b_desc, dst_desc);
    dnnl::primitive_attr attr = StepAttr();
    if (a_scale != 1.0f) attr.set_scales(DNNL_ARG_SRC_0, 0, {a_scale});
    if (b_scale != 1.0f) attr.set_scales(DNNL_ARG_SRC_1, 0, {b_scale});
    ASSIGN_OR_RETURN(dnnl::post_ops post_ops, MakePostOps(node, domain, ResidualSum{}));
    if (dst_grid) AppendFakeQuant(post_ops, *dst_grid);
    attr.set_post_ops(post_ops);
    const dnnl::binary::primitive_desc pd(desc, attr, c.engine());
    const int dst_buffer = c.AddBuffer(pd.dst_desc());
    c.AddStep(node.name, dnnl::binary(pd),
              {{DNNL_ARG_SRC_0, a_buffer}, {DNNL_ARG_SRC_1, b_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], out, dst_buffer, dst_q);
    if (dst_grid) c.SetGrid(node.outputs[0], *dst_grid);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

// A full-size runtime operand (the output's shape) may be read as int8.
bool Int8FullSizeOperand(const PlanCompiler& c, const Node& node, size_t index) {
  const std::vector<int64_t>* operand = c.InferredDims(node.inputs[index]);
  const std::vector<int64_t>* output = c.InferredDims(node.outputs[0]);
  return operand != nullptr && output != nullptr && *operand == *output;
}

}  // namespace

void RegisterBinaryOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"Add", "Sub", "Mul", "Div"}) {
    ops.push_back({.op_type = op_type,
                   .shape = BroadcastInputs,
                   .compile = CompileBinary,
                   .int8_input = Int8FullSizeOperand,
                   .takes_post_ops = true});
  }
  for (const char* op_type : {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"}) {
    ops.push_back({.op_type = op_type, .shape = BroadcastInputs, .compile = CompileBinary});
  }
}

}  // namespace quantd::engine
