// Slice of a runtime value (opset 1: attributes; opset 10+: starts, ends and
// optional axes and steps as constant inputs, possibly computed from the
// input's shape when the Plan compiles): one reorder out of a strided view of
// the value's buffer, in the value's own layout and data type, so a channel
// split of an int8 channels-last tensor (ShuffleNet) stays int8 on its grid.
// Steps must be positive. Gather of a runtime value at one constant index
// (ViT's class token, x[:, 0]) is the same copy of a one-wide window, viewed
// without that axis. Split is one such copy per part. (Gather on constants and shapes is evaluated
// when the Plan compiles, shape_ops.cc.)

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/strided_layout.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

struct SliceWindow {
  std::vector<int64_t> begin, step, count;  // per axis of the input
};

absl::StatusOr<std::vector<int64_t>> IntsInput(const Node& node, const ShapeContext& shapes,
                                               size_t index) {
  const Constant* constant = shapes.FindConstant(node.inputs[index]);
  if (constant == nullptr || constant->type != Constant::Type::kInt64) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input '", node.inputs[index],
                                                 "' must be an int64 constant"));
  }
  return constant->ints;
}

absl::StatusOr<SliceWindow> ReadWindow(const Node& node, const ShapeContext& shapes,
                                       const std::vector<int64_t>& dims) {
  std::vector<int64_t> starts, ends, axes, steps;
  auto optional_input = [&](size_t i) { return node.inputs.size() > i && !node.inputs[i].empty(); };
  if (shapes.opset_version() < 10) {
    starts = IntsAttr(node, "starts", {});
    ends = IntsAttr(node, "ends", {});
    axes = IntsAttr(node, "axes", {});
  } else {
    if (!optional_input(1) || !optional_input(2)) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs starts and ends"));
    }
    ASSIGN_OR_RETURN(starts, IntsInput(node, shapes, 1));
    ASSIGN_OR_RETURN(ends, IntsInput(node, shapes, 2));
    if (optional_input(3)) {
      ASSIGN_OR_RETURN(axes, IntsInput(node, shapes, 3));
    }
    if (optional_input(4)) {
      ASSIGN_OR_RETURN(steps, IntsInput(node, shapes, 4));
    }
  }
  const int64_t rank = static_cast<int64_t>(dims.size());
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": starts, ends, axes and steps differ in length"));
  }
  SliceWindow window{std::vector<int64_t>(rank, 0), std::vector<int64_t>(rank, 1), dims};
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t axis = axes[i];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank || seen[axis]) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": axis ", axes[i], " for rank ", rank));
    }
    seen[axis] = true;
    if (steps[i] <= 0) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": step ", steps[i], " (only positive steps)"));
    }
    const int64_t dim = dims[axis];
    // Python slicing: negative positions count from the end, then clamp.
    int64_t b = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + dim : ends[i];
    b = std::clamp<int64_t>(b, 0, dim);
    e = std::clamp<int64_t>(e, 0, dim);
    window.begin[axis] = b;
    window.step[axis] = steps[i];
    window.count[axis] = e > b ? (e - b + steps[i] - 1) / steps[i] : 0;
  }
  return window;
}

absl::StatusOr<std::vector<Shape>> SliceShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (x == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs data"));
  }
  ASSIGN_OR_RETURN(const SliceWindow window, ReadWindow(node, shapes, *x));
  return std::vector<Shape>{window.count};
}

// Copies `window` of `node`'s input into value `output`.
absl::Status CopyWindow(PlanCompiler& c, const Node& node, const SliceWindow& window,
                        const std::string& output) {
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  if (std::find(window.count.begin(), window.count.end(), 0) != window.count.end() ||
      dims.size() > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": an empty slice, or rank > 6"));
  }
  const QuantParams quant = c.Excluded(node) ? QuantParams{} : c.Quant(x);
  ASSIGN_OR_RETURN(memory::desc source, c.CurrentDesc(x));
  source.data.data_type = memory::convert_to_c(quant.type);
  // A strided view needs a layout without blocks; blocked values are first
  // read into channels-last (4-D) or plain layout.
  const memory::format_tag tag =
      dims.size() == 4 ? memory::format_tag::acdb : PlainTag(dims.size());
  if (source.data.format_kind != dnnl_blocked ||
      source.data.format_desc.blocking.inner_nblks != 0) {
    source = memory::desc(dims, quant.type, tag);
  }
  ASSIGN_OR_RETURN(const int buffer, c.BufferFor(x, source, quant.scale, node.name));
  const dnnl_dims_t& strides = source.data.format_desc.blocking.strides;
  memory::dims view_strides;
  int64_t offset = source.data.offset0;
  for (size_t a = 0; a < dims.size(); ++a) {
    view_strides.push_back(strides[a] * window.step[a]);
    offset += window.begin[a] * strides[a];
  }
  try {
    memory::desc view(window.count, quant.type, view_strides);
    view.data.offset0 = offset;
    const int view_buffer = c.AddAlias(view, buffer);
    // The result keeps channels-last when its input had it.
    const bool channels_last =
        dims.size() == 4 &&
        SameLayout(source, memory::desc(dims, quant.type, memory::format_tag::acdb));
    const memory::format_tag out_tag =
        channels_last ? memory::format_tag::acdb : PlainTag(dims.size());
    const int dst_buffer = c.AddBuffer(memory::desc(window.count, quant.type, out_tag));
    RETURN_IF_ERROR(c.AddReorderStep(node.name, view_buffer, dst_buffer, 1.0f));
    c.DefineValue(output, window.count, dst_buffer, quant);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  if (c.simulated() && !c.Excluded(node)) {
    if (const std::optional<ActivationGrid> grid = c.Grid(x)) c.SetGrid(output, *grid);
  }
  return absl::OkStatus();
}

absl::Status CompileSlice(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  ASSIGN_OR_RETURN(const SliceWindow window, ReadWindow(node, c.shapes(), c.Dims(node.inputs[0])));
  return CopyWindow(c, node, window, node.outputs[0]);
}

// Gather at one constant index: the normalized axis and index.
struct GatherAt {
  int64_t axis = 0;
  int64_t index = 0;
};

absl::StatusOr<GatherAt> ReadGather(const Node& node, const ShapeContext& shapes,
                                    const std::vector<int64_t>& dims) {
  if (node.inputs.size() != 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs data and indices"));
  }
  const Constant* indices = shapes.FindConstant(node.inputs[1]);
  if (indices == nullptr || indices->type != Constant::Type::kInt64 || !indices->dims.empty()) {
    return absl::UnimplementedError(absl::StrCat(
        NodeLabel(node), ": on a runtime value, indices must be one int64 constant (a scalar)"));
  }
  const int64_t rank = static_cast<int64_t>(dims.size());
  GatherAt at{IntAttr(node, "axis", 0), indices->ints[0]};
  if (at.axis < 0) at.axis += rank;
  if (at.axis < 0 || at.axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", 0), " for rank ", rank));
  }
  const int64_t size = dims[static_cast<size_t>(at.axis)];
  if (at.index < 0) at.index += size;
  if (at.index < 0 || at.index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": index ", indices->ints[0], " outside an axis of ", size));
  }
  return at;
}

std::vector<int64_t> WithoutAxis(std::vector<int64_t> dims, int64_t axis) {
  dims.erase(dims.begin() + axis);
  return dims;
}

absl::StatusOr<std::vector<Shape>> GatherShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (x == nullptr)
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs data"));
  ASSIGN_OR_RETURN(const GatherAt at, ReadGather(node, shapes, *x));
  return std::vector<Shape>{WithoutAxis(*x, at.axis)};
}

absl::Status CompileGather(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const std::vector<int64_t> dims = c.Dims(node.inputs[0]);
  ASSIGN_OR_RETURN(const GatherAt at, ReadGather(node, c.shapes(), dims));
  SliceWindow window;
  window.begin.assign(dims.size(), 0);
  window.step.assign(dims.size(), 1);
  window.count = dims;
  window.begin[static_cast<size_t>(at.axis)] = at.index;
  window.count[static_cast<size_t>(at.axis)] = 1;
  const std::string kept = node.outputs[0] + "/kept_axis";
  RETURN_IF_ERROR(CopyWindow(c, node, window, kept));
  c.DefineView(node.outputs[0], WithoutAxis(dims, at.axis), kept);
  return absl::OkStatus();
}

// Split's parts along its axis: the split input (opset 13+) or attribute,
// else num_outputs (opset 18) or as many equal parts as outputs; the last
// part of an uneven num_outputs split is the smaller one.
struct SplitParts {
  int64_t axis = 0;
  std::vector<int64_t> sizes;
};

absl::StatusOr<SplitParts> ReadSplit(const Node& node, const ShapeContext& shapes,
                                     const std::vector<int64_t>& dims) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  SplitParts parts{IntAttr(node, "axis", 0), {}};
  if (parts.axis < 0) parts.axis += rank;
  if (parts.axis < 0 || parts.axis >= rank || node.outputs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", 0), " for rank ", rank));
  }
  const int64_t length = dims[static_cast<size_t>(parts.axis)];
  const int64_t outputs = static_cast<int64_t>(node.outputs.size());
  if (node.inputs.size() > 1 && !node.inputs[1].empty()) {
    ASSIGN_OR_RETURN(parts.sizes, IntsInput(node, shapes, 1));
  } else {
    parts.sizes = IntsAttr(node, "split", {});
  }
  if (parts.sizes.empty()) {
    const int64_t count = IntAttr(node, "num_outputs", outputs);
    const int64_t each = (length + count - 1) / std::max<int64_t>(count, 1);
    for (int64_t i = 0; i < count; ++i) {
      parts.sizes.push_back(std::max<int64_t>(0, std::min(each, length - i * each)));
    }
  }
  int64_t total = 0;
  bool negative = false;
  for (int64_t size : parts.sizes) {
    total += size;
    negative |= size < 0;
  }
  if (static_cast<int64_t>(parts.sizes.size()) != outputs || total != length || negative) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": parts [",
                                                   absl::StrJoin(parts.sizes, ","), "] for ",
                                                   outputs, " output(s) of an axis of ", length));
  }
  return parts;
}

absl::StatusOr<std::vector<Shape>> SplitShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (x == nullptr)
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs data"));
  ASSIGN_OR_RETURN(const SplitParts parts, ReadSplit(node, shapes, *x));
  std::vector<Shape> shapes_out;
  for (int64_t size : parts.sizes) {
    Shape part = *x;
    part[static_cast<size_t>(parts.axis)] = size;
    shapes_out.push_back(std::move(part));
  }
  return shapes_out;
}

// Each part is a Slice's copy of its window.
absl::Status CompileSplit(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::vector<int64_t> dims = c.Dims(node.inputs[0]);
  ASSIGN_OR_RETURN(const SplitParts parts, ReadSplit(node, c.shapes(), dims));
  const size_t axis = static_cast<size_t>(parts.axis);
  SliceWindow window{std::vector<int64_t>(dims.size(), 0), std::vector<int64_t>(dims.size(), 1),
                     dims};
  for (size_t i = 0; i < parts.sizes.size(); ++i) {
    window.count[axis] = parts.sizes[i];
    if (!node.outputs[i].empty()) RETURN_IF_ERROR(CopyWindow(c, node, window, node.outputs[i]));
    window.begin[axis] += parts.sizes[i];
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterSliceOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Slice",
                 .shape = SliceShape,
                 .compile = CompileSlice,
                 .int8_input = Int8FirstInput});
  ops.push_back({.op_type = "Split",
                 .shape = SplitShape,
                 .compile = CompileSplit,
                 .int8_input = Int8FirstInput});
  ops.push_back({.op_type = "Gather",
                 .shape = GatherShape,
                 .compile = CompileGather,
                 .int8_input = Int8FirstInput});
}

}  // namespace quantd::engine
