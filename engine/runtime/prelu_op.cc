// PRelu (slope broadcast unidirectionally to X; per channel before opset 7) as a oneDNN prelu
// in f32 on a plain layout. The slope must be a constant.

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

absl::Status CompilePRelu(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const Constant* slope = c.FindConstant(node.inputs[1]);
  if (slope == nullptr || slope->type != Constant::Type::kFloat32) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": slope '", node.inputs[1], "' must be a float constant"));
  }
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  const size_t rank = dims.size();
  std::vector<int64_t> slope_dims = slope->dims;
  // Before opset 7 a 1-D slope of size C is per channel (axis 1); since, the
  // slope broadcasts right-aligned.
  if (c.graph().opset_version < 7 && slope_dims.size() == 1 && rank >= 2 &&
      slope_dims[0] == dims[1]) {
    slope_dims.assign(rank, 1);
    slope_dims[1] = dims[1];
  }
  bool broadcasts = slope_dims.size() <= rank && rank <= 6;
  if (broadcasts) slope_dims.insert(slope_dims.begin(), rank - slope_dims.size(), 1);
  for (size_t d = 0; broadcasts && d < rank; ++d) {
    broadcasts = slope_dims[d] == dims[d] || slope_dims[d] == 1;
  }
  if (!broadcasts) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": slope shape [", absl::StrJoin(slope->dims, ","),
                     "] does not broadcast to [", absl::StrJoin(dims, ","), "]"));
  }
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(rank));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  try {
    const memory::desc slope_desc(slope_dims, memory::data_type::f32, PlainTag(rank));
    const int slope_buffer = c.AddF32Constant(slope_dims, PlainTag(rank), slope->floats.data());
    const dnnl::prelu_forward::desc desc(dnnl::prop_kind::forward_inference, plain, slope_desc);
    const dnnl::prelu_forward::primitive_desc pd(desc, StepAttr(), c.engine());
    const int dst_buffer = c.AddBuffer(plain);
    c.AddStep(
        node.name, dnnl::prelu_forward(pd),
        {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_WEIGHTS, slope_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterPReluOps(std::vector<OpDefinition>& ops) {
  // The slope broadcasts to X (or is per channel, as PyTorch exports it): the
  // output has X's shape.
  ops.push_back({.op_type = "PRelu", .shape = SameShapeAsInput, .compile = CompilePRelu});
}

}  // namespace quantd::engine
