#include "engine/runtime/batched_matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

namespace {

// Buffer holding `value` as plain f32 viewed with `rank` dims (1s prepended).
absl::StatusOr<int> PlainWithRank(PlanCompiler& c, const std::string& value, size_t rank,
                                  const std::string& node, memory::desc& viewed) {
  const std::vector<int64_t>& dims = c.Dims(value);
  ASSIGN_OR_RETURN(const int buffer,
                   c.BufferFor(value, memory::desc(dims, memory::data_type::f32, PlainTag(dims.size())),
                               1.0f, node));
  std::vector<int64_t> padded(rank - dims.size(), 1);
  padded.insert(padded.end(), dims.begin(), dims.end());
  viewed = memory::desc(padded, memory::data_type::f32, PlainTag(rank));
  return padded.size() == dims.size() ? buffer : c.AddAlias(viewed, buffer);
}

}  // namespace

absl::Status CompileBatchedMatMul(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const std::string& a = node.inputs[0];
  const std::string& b = node.inputs[1];
  if (!c.HasValue(b)) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": B must be a constant or a runtime value"));
  }
  const std::vector<int64_t>& a_dims = c.Dims(a);
  const std::vector<int64_t>& b_dims = c.Dims(b);
  const size_t rank = std::max(a_dims.size(), b_dims.size());
  if (a_dims.size() < 2 || b_dims.size() < 2 || rank > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": A [",
                                                 absl::StrJoin(a_dims, ","), "] and B [",
                                                 absl::StrJoin(b_dims, ","),
                                                 "] of two runtime values need rank 2-6"));
  }
  for (const PostOp& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": a fused residual sum"));
    }
  }
  memory::desc a_md, b_md;
  ASSIGN_OR_RETURN(const int a_buffer, PlainWithRank(c, a, rank, node.name, a_md));
  ASSIGN_OR_RETURN(const int b_buffer, PlainWithRank(c, b, rank, node.name, b_md));
  const memory::dims& ad = a_md.dims();
  const memory::dims& bd = b_md.dims();
  memory::dims out(rank);
  for (size_t i = 0; i + 2 < rank; ++i) out[i] = std::max(ad[i], bd[i]);
  out[rank - 2] = ad[rank - 2];
  out[rank - 1] = bd[rank - 1];
  const memory::desc dst_md(out, memory::data_type::f32, PlainTag(rank));
  const int dst_buffer = c.AddBuffer(dst_md);
  try {
    dnnl::primitive_attr attr = StepAttr();
    ASSIGN_OR_RETURN(const dnnl::post_ops post_ops, MakePostOps(node, PostOpDomain{}, ResidualSum{}));
    attr.set_post_ops(post_ops);
    const dnnl::matmul::desc desc(a_md, b_md, dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, c.engine());
    c.AddStep(node.name, dnnl::matmul(pd),
              {{DNNL_ARG_SRC, a_buffer}, {DNNL_ARG_WEIGHTS, b_buffer}, {DNNL_ARG_DST, dst_buffer}});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.DefineValue(node.outputs[0], std::vector<int64_t>(out.begin(), out.end()), dst_buffer,
                QuantParams{});
  return absl::OkStatus();
}

}  // namespace quantd::engine
