// Add, Sub, Mul and Div (those the passes did not fuse into a producer) as
// oneDNN binary in f32, with ONNX multidirectional broadcasting (opset 7+).
// oneDNN broadcasts only its second source (dims of size 1): a first operand
// of smaller shape is swapped to second place when the op commutes, else
// expanded to the output shape first (constants at compile time, activations
// by a step adding them to zeros).

#include <algorithm>
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
  ASSIGN_OR_RETURN(const int source, PlainBuffer(c, a, node));
  desc = plain;
  if (a.dims == out) return source;
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

absl::Status CompileBinary(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs A and B"));
  }
  ASSIGN_OR_RETURN(const dnnl::algorithm algorithm, BinaryAlgorithm(node));
  const bool commutes = node.op_type == "Add" || node.op_type == "Mul";
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

  memory::desc a_desc;
  ASSIGN_OR_RETURN(const int a_buffer, FirstSource(c, node, a, out, a_desc));
  int b_buffer = -1;
  memory::desc b_desc(b.dims, memory::data_type::f32, PlainTag(rank));
  if (b.constant != nullptr) {
    b_buffer = c.AddF32Constant(b.dims, PlainTag(rank), b.constant->floats.data());
  } else if (b.dims == out && c.Dims(b.name).size() == rank) {
    // Same shape: read B in A's layout.
    ASSIGN_OR_RETURN(b_buffer, c.BufferFor(b.name, a_desc, 1.0f, node.name));
    b_desc = a_desc;
  } else {
    ASSIGN_OR_RETURN(b_buffer, PlainBuffer(c, b, node));
  }
  try {
    const dnnl::binary::desc desc(algorithm, a_desc, b_desc, a_desc);
    dnnl::primitive_attr attr = StepAttr();
    ASSIGN_OR_RETURN(const dnnl::post_ops post_ops, MakePostOps(node, 1.0f, ResidualSum{}));
    attr.set_post_ops(post_ops);
    const dnnl::binary::primitive_desc pd(desc, attr, c.engine());
    ASSIGN_OR_RETURN(const int dst_buffer, SumDestination(c, node, pd.dst_desc(), QuantParams{}));
    c.AddStep(node.name, dnnl::binary(pd),
              {{DNNL_ARG_SRC_0, a_buffer}, {DNNL_ARG_SRC_1, b_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], out, dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBinaryOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"Add", "Sub", "Mul", "Div"}) {
    ops.push_back({.op_type = op_type,
                   .shape = BroadcastInputs,
                   .compile = CompileBinary,
                   .takes_post_ops = true});
  }
}

}  // namespace quantd::engine
