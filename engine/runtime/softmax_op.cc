// Softmax, LogSoftmax and Hardmax in f32 on a plain layout (Hardmax by quantd's
// own kernel). Before opset 13 the input is coerced to
// 2-D [prod(dims[:axis]), prod(dims[axis:])] (axis default 1) and normalized
// over the second dimension; from opset 13 over the single `axis`
// (default -1).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/row_extreme_kernel.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

namespace {

// The normalized axis, checked against the rank.
absl::StatusOr<int64_t> NormalizedAxis(const PlanCompiler& c, const Node& node,
                                       const std::vector<int64_t>& dims) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t axis = IntAttr(node, "axis", c.graph().opset_version < 13 ? 1 : -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank || rank > 6) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", 0), " for rank ", rank));
  }
  return axis;
}

absl::Status CompileSoftmax(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  const int64_t rank = static_cast<int64_t>(dims.size());
  const bool coerce_2d = c.graph().opset_version < 13;
  ASSIGN_OR_RETURN(const int64_t axis, NormalizedAxis(c, node, dims));
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(rank));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(plain);
  memory::desc view = plain;
  int src = src_buffer, dst = dst_buffer, softmax_axis = static_cast<int>(axis);
  if (coerce_2d) {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < rank; ++d) (d < axis ? outer : inner) *= dims[d];
    view = memory::desc({outer, inner}, memory::data_type::f32, memory::format_tag::ab);
    src = c.AddAlias(view, src_buffer);
    dst = c.AddAlias(view, dst_buffer);
    softmax_axis = 1;
  }
  try {
    dnnl::primitive primitive;
    if (node.op_type == "LogSoftmax") {
      const dnnl::logsoftmax_forward::desc desc(dnnl::prop_kind::forward_inference, view,
                                                softmax_axis);
      primitive = dnnl::logsoftmax_forward(
          dnnl::logsoftmax_forward::primitive_desc(desc, StepAttr(), c.engine()));
    } else {
      const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, view,
                                             softmax_axis);
      primitive = dnnl::softmax_forward(
          dnnl::softmax_forward::primitive_desc(desc, StepAttr(), c.engine()));
    }
    c.AddStep(node.name, std::move(primitive), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

absl::Status CompileHardmax(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  ASSIGN_OR_RETURN(const int64_t axis, NormalizedAxis(c, node, dims));
  // Before opset 13 the rows are everything from the axis on.
  const bool coerce_2d = c.graph().opset_version < 13;
  int64_t outer = 1, length = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(dims.size()); ++d) {
    if (d < axis) {
      outer *= dims[d];
    } else if (d == axis || coerce_2d) {
      length *= dims[d];
    } else {
      inner *= dims[d];
    }
  }
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(plain);
  // 1 at the first maximum of each row, 0 elsewhere.
  c.AddHostStep(node.name,
                std::make_shared<const RowExtremeKernel>(
                    outer, length, inner,
                    RowExtremeKernel::Options{.output = RowExtremeKernel::Output::kOneHot}),
                src_buffer, dst_buffer);
  c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterSoftmaxOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"Softmax", "LogSoftmax"}) {
    ops.push_back({.op_type = op_type, .shape = SameShapeAsInput, .compile = CompileSoftmax});
  }
  ops.push_back({.op_type = "Hardmax", .shape = SameShapeAsInput, .compile = CompileHardmax});
}

}  // namespace quantd::engine
