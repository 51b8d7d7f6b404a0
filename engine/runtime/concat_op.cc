// Concat (opset 4-13) as a oneDNN concat: 4-D inputs in channels-last layout
// (what convolutions produce; blocked layouts of channel counts that are not
// a multiple of the block cannot be concatenated along channels), others in
// plain layout; in int8 Plans on u8/s8 values.

#include <optional>
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

  // 4-D activations stay in the channels-last layout producers write; int8
  // Plans concatenate u8/s8 bytes on the one grid all inputs and the output
  // share (PlanCompiler's concat scale groups), so no input is rescaled
  // unless its producer could not store it that way.
  const bool channels_last = rank == 4;
  const memory::format_tag tag = channels_last ? memory::format_tag::acdb : PlainTag(rank);
  const bool quantize = (c.int8() || c.simulated()) && !c.Excluded(node);
  std::optional<ActivationGrid> grid = quantize ? c.CalibratedGrid(node.outputs[0]) : std::nullopt;
  for (const std::string& input : node.inputs) {
    if (!c.HasValue(input)) grid.reset();  // constants stay f32
  }
  const QuantParams out_q = c.int8() && grid ? QuantParamsForGrid(*grid) : QuantParams{};
  const bool simulated = c.simulated() && grid.has_value();

  std::vector<memory::desc> src_descs;
  std::unordered_map<int, int> args;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const memory::desc desc(shapes[i], out_q.type, tag);
    int buffer = -1;
    if (!c.HasValue(node.inputs[i])) {
      buffer = c.AddF32Constant(shapes[i], PlainTag(rank),
                                c.FindConstant(node.inputs[i])->floats.data());
      if (channels_last) {
        const int reordered = c.AddBuffer(desc);
        RETURN_IF_ERROR(c.AddReorderStep(node.name, buffer, reordered, 1.0f));
        buffer = reordered;
      }
    } else if (simulated) {
      ASSIGN_OR_RETURN(buffer, c.FakeQuantizedBufferFor(node.inputs[i], desc, node.name));
    } else {
      ASSIGN_OR_RETURN(buffer, c.BufferFor(node.inputs[i], desc, out_q.scale, node.name));
    }
    src_descs.push_back(desc);
    args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = buffer;
  }
  try {
    const memory::desc dst_desc(out, out_q.type, tag);
    const dnnl::concat::primitive_desc pd(dst_desc, static_cast<int>(axis), src_descs, c.engine(),
                                          StepAttr());
    const int dst_buffer = c.AddBuffer(dst_desc);
    args[DNNL_ARG_DST] = dst_buffer;
    c.AddStep(node.name, dnnl::concat(pd), std::move(args));
    c.DefineValue(node.outputs[0], out, dst_buffer, out_q);
    if (simulated) c.SetGrid(node.outputs[0], *grid);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

// Every runtime input may be read as int8 (on the concat's shared grid).
bool Int8RuntimeInput(const PlanCompiler& c, const Node& node, size_t index) {
  return c.InferredDims(node.inputs[index]) != nullptr;
}

}  // namespace

void RegisterConcatOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Concat",
                 .shape = ConcatShape,
                 .compile = CompileConcat,
                 .int8_input = Int8RuntimeInput});
}

}  // namespace quantd::engine
