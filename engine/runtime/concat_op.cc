// Concat (opset 4-13) as a oneDNN concat in f32. Every input is read in plain
// layout: blocked layouts of channel counts that are not a multiple of the
// block cannot be concatenated along channels.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

// The concatenated dims of `shapes` along `axis` (negative counts from the
// end); INVALID_ARGUMENT names the input that does not fit.
absl::StatusOr<Shape> ConcatDims(const Node& node, const std::vector<Shape>& shapes,
                                 int64_t& axis) {
  if (node.attributes.count("axis") == 0) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": axis is required"));
  }
  const int64_t rank = static_cast<int64_t>(shapes[0].size());
  axis = IntAttr(node, "axis", 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", 0), " for rank ", rank));
  }
  Shape out = shapes[0];
  out[axis] = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    bool compatible = static_cast<int64_t>(shapes[i].size()) == rank;
    for (int64_t d = 0; compatible && d < rank; ++d) {
      compatible = d == axis || shapes[i][d] == shapes[0][d];
    }
    if (!compatible) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input '", node.inputs[i], "' has shape [",
                       absl::StrJoin(shapes[i], ","), "], incompatible with [",
                       absl::StrJoin(shapes[0], ","), "] along axis ", axis));
    }
    out[axis] += shapes[i][axis];
  }
  return out;
}

absl::StatusOr<std::vector<Shape>> ConcatShape(const Node& node, const ShapeContext& context) {
  std::vector<Shape> shapes;
  for (const std::string& input : node.inputs) {
    const std::vector<int64_t>* dims = context.Dims(input);
    if (dims == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input '", input, "' is not defined"));
    }
    shapes.push_back(*dims);
  }
  if (shapes.empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs"));
  }
  int64_t axis = 0;
  ASSIGN_OR_RETURN(Shape out, ConcatDims(node, shapes, axis));
  return std::vector<Shape>{std::move(out)};
}

absl::Status CompileConcat(PlanCompiler& c, const Node& node) {
  if (node.inputs.empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs"));
  }
  std::vector<std::vector<int64_t>> shapes;
  for (const std::string& input : node.inputs) {
    if (c.HasValue(input)) {
      shapes.push_back(c.Dims(input));
    } else if (const Constant* constant = c.FindConstant(input);
               constant != nullptr && constant->type == Constant::Type::kFloat32) {
      shapes.push_back(constant->dims);
    } else {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": input '", input, "' is not a float tensor"));
    }
  }
  int64_t axis = 0;
  ASSIGN_OR_RETURN(const std::vector<int64_t> out, ConcatDims(node, shapes, axis));
  const int64_t rank = static_cast<int64_t>(out.size());
  if (rank > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": rank ", rank, " > 6"));
  }

  std::vector<memory::desc> src_descs;
  std::unordered_map<int, int> args;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const memory::desc plain(shapes[i], memory::data_type::f32, PlainTag(rank));
    int buffer = -1;
    if (c.HasValue(node.inputs[i])) {
      ASSIGN_OR_RETURN(buffer, c.BufferFor(node.inputs[i], plain, 1.0f, node.name));
    } else {
      buffer = c.AddF32Constant(shapes[i], PlainTag(rank),
                                c.FindConstant(node.inputs[i])->floats.data());
    }
    src_descs.push_back(plain);
    args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = buffer;
  }
  try {
    const memory::desc dst_desc(out, memory::data_type::f32, PlainTag(rank));
    const dnnl::concat::primitive_desc pd(dst_desc, static_cast<int>(axis), src_descs, c.engine(),
                                          StepAttr());
    const int dst_buffer = c.AddBuffer(dst_desc);
    args[DNNL_ARG_DST] = dst_buffer;
    c.AddStep(node.name, dnnl::concat(pd), std::move(args));
    c.DefineValue(node.outputs[0], out, dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterConcatOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Concat", .shape = ConcatShape, .compile = CompileConcat});
}

}  // namespace quantd::engine
