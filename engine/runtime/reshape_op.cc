// Flatten, Reshape (constant shape), Identity and Dropout: views of their
// input in row-major order. No step is emitted here; a consumer that needs
// the view's own buffer gets a plain-layout copy of the source, and an inner
// product reads a flattened 4-D source directly.

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

int64_t Product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= dims[i];
  return p;
}

absl::StatusOr<std::vector<int64_t>> ReshapeDims(const Node& node, const Constant* shape,
                                                 const std::vector<int64_t>& in) {
  if (shape == nullptr || shape->type != Constant::Type::kInt64) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": the target shape must be an int64 constant"));
  }
  const bool allow_zero = IntAttr(node, "allowzero", 0) != 0;
  std::vector<int64_t> out = shape->ints;
  int infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allow_zero) {
      if (i >= in.size()) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": 0 beyond input rank"));
      }
      out[i] = in[i];
    } else if (out[i] == -1) {
      if (infer >= 0) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": two -1 dims"));
      }
      infer = static_cast<int>(i);
    }
  }
  const int64_t total = Product(in, 0, in.size());
  if (infer >= 0) {
    out[infer] = 1;
    const int64_t known = Product(out, 0, out.size());
    if (known == 0 || total % known != 0) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": cannot reshape [",
                                                     absl::StrJoin(in, ","), "] to [",
                                                     absl::StrJoin(shape->ints, ","), "]"));
    }
    out[infer] = total / known;
  }
  if (Product(out, 0, out.size()) != total) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": cannot reshape [",
                                                   absl::StrJoin(in, ","), "] to [",
                                                   absl::StrJoin(shape->ints, ","), "]"));
  }
  return out;
}

// Flatten, Reshape, Identity and Dropout (whose optional mask output has the
// same shape; the runtime never computes it).
absl::StatusOr<std::vector<int64_t>> ViewDims(const Node& node, const ShapeContext& shapes,
                                              const std::vector<int64_t>& in) {
  if (node.op_type == "Flatten") {
    int64_t axis = IntAttr(node, "axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(in.size());
    if (axis < 0 || axis > static_cast<int64_t>(in.size())) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": axis out of range"));
    }
    return std::vector<int64_t>{Product(in, 0, axis), Product(in, axis, in.size())};
  }
  if (node.op_type == "Reshape") {
    return ReshapeDims(node, node.inputs.size() > 1 ? shapes.FindConstant(node.inputs[1]) : nullptr,
                       in);
  }
  return in;
}

absl::StatusOr<std::vector<Shape>> ViewShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  ASSIGN_OR_RETURN(Shape out, ViewDims(node, shapes, *in));
  return std::vector<Shape>(node.outputs.size(), out);
}

absl::Status CompileReshape(PlanCompiler& c, const Node& node) {
  if (node.inputs.empty() || node.outputs.empty() || !c.HasValue(node.inputs[0])) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  const std::string& x = node.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> out, ViewDims(node, c.shapes(), c.Dims(x)));
  // A view of a view reads the original value.
  const std::string source = c.ViewSource(x).value_or(x);
  c.DefineView(node.outputs[0], std::move(out), source);
  return absl::OkStatus();
}

}  // namespace

void RegisterReshapeOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"Flatten", "Reshape", "Identity", "Dropout"}) {
    ops.push_back(
        {.op_type = op_type, .shape = ViewShape, .compile = CompileReshape, .view = true});
  }
}

}  // namespace quantd::engine
