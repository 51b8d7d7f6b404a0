// Add that the passes did not fuse into a producer, as oneDNN binary_add in
// f32. Broadcasting: equal ranks (or a lower-rank operand, right-aligned per
// ONNX) where one operand has the output's full shape.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

std::vector<int64_t> AlignRank(std::vector<int64_t> dims, size_t rank) {
  dims.insert(dims.begin(), rank - dims.size(), 1);
  return dims;
}

}  // namespace

absl::Status CompileBinary(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs A and B"));
  }
  std::string a = node.inputs[0], b = node.inputs[1];
  if (!c.HasValue(a)) std::swap(a, b);  // Add commutes: put the activation first
  if (!c.HasValue(a)) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": both inputs constant"));
  }
  const Constant* b_constant = c.HasValue(b) ? nullptr : c.FindConstant(b);
  std::vector<int64_t> a_dims = c.Dims(a);
  std::vector<int64_t> b_dims = b_constant ? b_constant->dims : c.Dims(b);
  const size_t rank = std::max(a_dims.size(), b_dims.size());
  a_dims = AlignRank(a_dims, rank);
  b_dims = AlignRank(b_dims, rank);
  std::vector<int64_t> out_dims(rank);
  bool a_full = true, b_full = true;
  for (size_t i = 0; i < rank; ++i) {
    if (a_dims[i] != b_dims[i] && a_dims[i] != 1 && b_dims[i] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": shapes [", absl::StrJoin(c.Dims(a), ","), "] and [",
                       absl::StrJoin(b_dims, ","), "] do not broadcast"));
    }
    out_dims[i] = std::max(a_dims[i], b_dims[i]);
    a_full = a_full && a_dims[i] == out_dims[i];
    b_full = b_full && b_dims[i] == out_dims[i];
  }
  if (!a_full && b_constant == nullptr && b_full) {
    std::swap(a, b);
    std::swap(a_dims, b_dims);
    a_full = true;
  }
  if (!a_full || a_dims.size() != c.Dims(a).size() ||
      (b_constant == nullptr && b_dims.size() != c.Dims(b).size())) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": broadcasting of this shape combination"));
  }

  ASSIGN_OR_RETURN(const int a_buffer, c.F32BufferFor(a, node.name));
  ASSIGN_OR_RETURN(memory::desc a_desc, c.CurrentDesc(a));
  a_desc.data.data_type = dnnl_f32;
  int b_buffer = -1;
  memory::desc b_desc;
  if (b_constant != nullptr) {
    if (b_constant->type != Constant::Type::kFloat32) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": non-float constant"));
    }
    b_buffer = c.AddF32Constant(b_dims, PlainTag(rank), b_constant->floats.data());
    b_desc = memory::desc(b_dims, memory::data_type::f32, PlainTag(rank));
  } else if (b_dims == a_dims) {
    // Same shape: read B in A's layout.
    ASSIGN_OR_RETURN(b_buffer, c.BufferFor(b, a_desc, 1.0f, node.name));
    b_desc = a_desc;
  } else {
    ASSIGN_OR_RETURN(b_buffer, c.F32BufferFor(b, node.name));
    ASSIGN_OR_RETURN(b_desc, c.CurrentDesc(b));
    b_desc.data.data_type = dnnl_f32;
  }
  try {
    const dnnl::binary::desc desc(dnnl::algorithm::binary_add, a_desc, b_desc, a_desc);
    dnnl::primitive_attr attr = StepAttr();
    ASSIGN_OR_RETURN(const dnnl::post_ops post_ops, MakePostOps(node, 1.0f, ResidualSum{}));
    attr.set_post_ops(post_ops);
    const dnnl::binary::primitive_desc pd(desc, attr, c.engine());
    ASSIGN_OR_RETURN(const int dst_buffer, SumDestination(c, node, pd.dst_desc(), QuantParams{}));
    c.AddStep(node.name, dnnl::binary(pd),
              {{DNNL_ARG_SRC_0, a_buffer}, {DNNL_ARG_SRC_1, b_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], out_dims, dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
