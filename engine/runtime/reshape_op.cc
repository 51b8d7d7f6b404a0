// Flatten, Reshape (constant target shape, possibly computed from the input's
// shape when the Plan compiles), Squeeze, Unsqueeze, Identity and Dropout:
// views of their input in row-major order. No step is emitted here; a consumer that needs
// the view's own buffer gets a plain-layout copy of the source, and an inner
// product reads a flattened 4-D source directly.

#include <optional>

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

// Product of dims; nullopt for a negative dimension or an overflow (a
// hostile target shape such as [2^40, 2^40]).
std::optional<int64_t> CheckedProduct(const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(p, d, &p)) return std::nullopt;
  }
  return p;
}

absl::Status CannotReshape(const Node& node, const std::vector<int64_t>& in,
                           const std::vector<int64_t>& target) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": cannot reshape [",
                                                 absl::StrJoin(in, ","), "] to [",
                                                 absl::StrJoin(target, ","), "]"));
}

// Reshape-5+: 0 copies the input's dimension (unless allowzero), one -1 is
// inferred.
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
      out[i] = 1;
    }
  }
  const std::optional<int64_t> total = CheckedProduct(in);
  const std::optional<int64_t> known = CheckedProduct(out);
  if (!total || !known) return CannotReshape(node, in, shape->ints);
  if (infer >= 0) {
    if (*known == 0 || *total % *known != 0) return CannotReshape(node, in, shape->ints);
    out[infer] = *total / *known;
  } else if (*known != *total) {
    return CannotReshape(node, in, shape->ints);
  }
  return out;
}

// Unsqueeze (axes: attribute before opset 13, constant input since) inserts
// size-1 axes; Squeeze removes them (all of them without axes).
absl::StatusOr<std::vector<int64_t>> SqueezeDims(const Node& node, const ShapeContext& shapes,
                                                 const std::vector<int64_t>& in) {
  std::optional<std::vector<int64_t>> axes = FindIntsAttr(node, "axes");
  if (!axes && node.inputs.size() > 1 && !node.inputs[1].empty()) {
    const Constant* constant = shapes.FindConstant(node.inputs[1]);
    if (constant == nullptr || constant->type != Constant::Type::kInt64) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": axes must be an int64 constant"));
    }
    axes = constant->ints;
  }
  const bool unsqueeze = node.op_type == "Unsqueeze";
  const int64_t rank = static_cast<int64_t>(in.size()) +
                       (unsqueeze ? static_cast<int64_t>(axes ? axes->size() : 0) : 0);
  if (unsqueeze && !axes) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": axes are required"));
  }
  std::vector<bool> marked(rank, false);
  for (int64_t axis : axes.value_or(std::vector<int64_t>{})) {
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || marked[axis] ||
        (!unsqueeze && in[axis] != 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          NodeLabel(node), ": axes [", absl::StrJoin(*axes, ","), "] for input [",
          absl::StrJoin(in, ","), "]"));
    }
    marked[axis] = true;
  }
  std::vector<int64_t> out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i) {
    if (unsqueeze) {
      out.push_back(marked[i] ? 1 : in[next++]);
    } else if (!(axes ? marked[i] : in[i] == 1)) {
      out.push_back(in[i]);
    }
  }
  return out;
}

// Flatten, Reshape, Squeeze, Unsqueeze, Identity and Dropout (whose optional
// mask output has the same shape; the runtime never computes it).
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
  if (node.op_type == "Squeeze" || node.op_type == "Unsqueeze") {
    return SqueezeDims(node, shapes, in);
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
  for (const char* op_type :
       {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"}) {
    ops.push_back(
        {.op_type = op_type, .shape = ViewShape, .compile = CompileReshape, .view = true});
  }
}

}  // namespace quantd::engine
