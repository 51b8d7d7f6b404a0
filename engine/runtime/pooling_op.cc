// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (2-D, 3-D) as oneDNN
// pooling on the activation's own layout and data type: int8 values stay
// int8 with the same scale (f32 when the node is excluded from quantization).

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/window_geometry.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

namespace {

bool IsGlobal(const Node& node) {
  return node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool";
}

// The window of a pooling node over x [N, C, spatial...]; a global pool's
// window is the whole input.
absl::StatusOr<WindowAttributes> PoolingWindow(const Node& node, const std::vector<int64_t>& x) {
  if (x.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": input [", absl::StrJoin(x, ","), "] has no spatial axes"));
  }
  if (IsGlobal(node)) {
    WindowAttributes window;
    window.kernel.assign(x.begin() + 2, x.end());
    window.strides.assign(x.size() - 2, 1);
    window.dilations.assign(x.size() - 2, 1);
    window.pads.assign(2 * (x.size() - 2), 0);
    return window;
  }
  if (!FindIntsAttr(node, "kernel_shape")) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": kernel_shape is required"));
  }
  return ReadWindowAttributes(node, {});
}

absl::StatusOr<std::vector<Shape>> PoolingShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (x == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X"));
  }
  ASSIGN_OR_RETURN(const WindowAttributes window, PoolingWindow(node, *x));
  ASSIGN_OR_RETURN(const WindowGeometry geometry,
                   ComputeWindowGeometry(node, window, {x->begin() + 2, x->end()}));
  Shape out = {(*x)[0], (*x)[1]};
  out.insert(out.end(), geometry.out.begin(), geometry.out.end());
  // MaxPool's optional second output (Indices) is not computed; see
  // CompilePooling.
  return std::vector<Shape>(node.outputs.size(), out);
}

absl::Status CompilePooling(PlanCompiler& c, const Node& node) {
  if (node.inputs.empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X"));
  }
  if (node.outputs.size() > 1 && !node.outputs[1].empty()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": the Indices output"));
  }
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> xd = c.Dims(x);
  // 1-D pools arrive lifted to 2-D (Lift1dWindowsTo2d).
  if (xd.size() != 4 && xd.size() != 5) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": only 2-D and 3-D pooling is supported, input is [",
                     absl::StrJoin(xd, ","), "]"));
  }
  const size_t spatial = xd.size() - 2;
  const bool average = node.op_type == "AveragePool" || node.op_type == "GlobalAveragePool";
  const bool count_include_pad = IntAttr(node, "count_include_pad", 0) != 0;
  ASSIGN_OR_RETURN(const WindowAttributes window, PoolingWindow(node, xd));
  ASSIGN_OR_RETURN(const WindowGeometry geometry,
                   ComputeWindowGeometry(node, window, {xd.begin() + 2, xd.end()}));
  if (average && window.dilations != std::vector<int64_t>(spatial, 1)) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": dilated average pooling"));
  }
  memory::dims dst_dims = {xd[0], xd[1]};
  dst_dims.insert(dst_dims.end(), geometry.out.begin(), geometry.out.end());
  memory::dims pad_l(spatial), pad_r(spatial), dilation(spatial);
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t extent = (window.kernel[i] - 1) * window.dilations[i] + 1;
    pad_l[i] = geometry.pad_begin[i];
    // oneDNN derives the output size from the padding: extend the end pad to
    // cover ceil_mode's partial window.
    pad_r[i] = (geometry.out[i] - 1) * window.strides[i] + extent - xd[2 + i] - pad_l[i];
    dilation[i] = window.dilations[i] - 1;
    if (average && count_include_pad && pad_r[i] > geometry.pad_end[i]) {
      // oneDNN would count the ceil_mode extension as padding too.
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": ceil_mode with count_include_pad and a partial window"));
    }
  }
  const dnnl::algorithm algorithm =
      !average ? dnnl::algorithm::pooling_max
               : (count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                    : dnnl::algorithm::pooling_avg_exclude_padding);

  ASSIGN_OR_RETURN(memory::desc src_desc, c.CurrentDesc(x));
  QuantParams quant = c.Quant(x);
  const bool excluded = c.Excluded(node);
  if (excluded && quant.quantized()) {
    src_desc.data.data_type = dnnl_f32;
    quant = QuantParams{};
  }
  std::optional<dnnl::pooling_v2_forward::primitive_desc> pd;
  try {
    const memory::desc dst_md(dst_dims, src_desc.data_type(), memory::format_tag::any);
    const dnnl::pooling_v2_forward::desc desc(
        dnnl::prop_kind::forward_inference, algorithm, src_desc, dst_md,
        memory::dims(window.strides.begin(), window.strides.end()),
        memory::dims(window.kernel.begin(), window.kernel.end()), dilation, pad_l, pad_r);
    pd.emplace(desc, StepAttr(), c.engine());
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, src_desc, quant.scale, node.name));
  const int dst_buffer = c.AddBuffer(pd->dst_desc());
  dnnl::primitive primitive;
  try {
    primitive = dnnl::pooling_v2_forward(*pd);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.AddStep(node.name, std::move(primitive),
            {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}});
  // Simulated Plans: a max stays on its input's grid. An average is left
  // unrounded; its consumer quantizes it with the average's own calibrated
  // range (rounding a mean back onto the input's coarse low-bit grid would
  // leave it only a few levels).
  const std::optional<ActivationGrid> grid =
      c.simulated() && !excluded && !average ? c.Grid(x) : std::nullopt;
  c.DefineValue(node.outputs[0], dst_dims, dst_buffer, quant);
  if (grid) c.SetGrid(node.outputs[0], *grid);
  return absl::OkStatus();
}

}  // namespace

void RegisterPoolingOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
    ops.push_back({.op_type = op_type,
                   .shape = PoolingShape,
                   .compile = CompilePooling,
                   .int8_input = Int8FirstInput});
  }
}

}  // namespace quantd::engine
