// ArgMax and ArgMin along one axis (keepdims, select_last_index), by quantd's
// own kernel on plain f32 values (row_extreme_kernel.h). The indices are served as float32 values,
// like every output quantd serves (exact up to 2^24).

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/row_extreme_kernel.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

struct ArgAxis {
  int64_t axis = 0;
  std::vector<int64_t> out;  // with or without the reduced axis (keepdims)
};

absl::StatusOr<ArgAxis> ReadArgAxis(const Node& node, const std::vector<int64_t>& dims) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  ArgAxis arg{IntAttr(node, "axis", 0), dims};
  if (arg.axis < 0) arg.axis += rank;
  if (arg.axis < 0 || arg.axis >= rank || rank > 6 || dims[static_cast<size_t>(arg.axis)] < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", 0), " for rank ", rank));
  }
  if (IntAttr(node, "keepdims", 1) != 0) {
    arg.out[static_cast<size_t>(arg.axis)] = 1;
  } else {
    arg.out.erase(arg.out.begin() + arg.axis);
  }
  return arg;
}

absl::StatusOr<std::vector<Shape>> ArgShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  ASSIGN_OR_RETURN(ArgAxis arg, ReadArgAxis(node, *in));
  return std::vector<Shape>{std::move(arg.out)};
}

absl::Status CompileArgExtreme(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  ASSIGN_OR_RETURN(const ArgAxis arg, ReadArgAxis(node, dims));
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(dims.size()); ++d) {
    if (d < arg.axis) outer *= dims[d];
    if (d > arg.axis) inner *= dims[d];
  }
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  // oneDNN has no rank-0 memory: a scalar result is held as one element.
  const std::vector<int64_t> held = arg.out.empty() ? std::vector<int64_t>{1} : arg.out;
  const int dst_buffer =
      c.AddBuffer(memory::desc(held, memory::data_type::f32, PlainTag(held.size())));
  c.AddHostStep(node.name,
                std::make_shared<const RowExtremeKernel>(
                    outer, dims[static_cast<size_t>(arg.axis)], inner,
                    RowExtremeKernel::Options{.max = node.op_type == "ArgMax",
                                              .last = IntAttr(node, "select_last_index", 0) != 0}),
                src_buffer, dst_buffer);
  c.DefineValue(node.outputs[0], arg.out, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterArgExtremeOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"ArgMax", "ArgMin"}) {
    ops.push_back({.op_type = op_type, .shape = ArgShape, .compile = CompileArgExtreme});
  }
}

}  // namespace quantd::engine
