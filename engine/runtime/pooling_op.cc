// MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool (2-D) as oneDNN
// pooling on the activation's own layout and data type: int8 values stay
// int8 with the same scale (f32 when the node is excluded from quantization).

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

absl::Status CompilePooling(PlanCompiler& c, const Node& node) {
  if (node.inputs.empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X"));
  }
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> xd = c.Dims(x);
  if (xd.size() != 4) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node),
                                                 ": only 2-D pooling is supported, input is [",
                                                 absl::StrJoin(xd, ","), "]"));
  }
  const bool global = node.op_type == "GlobalAveragePool" || node.op_type == "GlobalMaxPool";
  const bool average = node.op_type == "AveragePool" || node.op_type == "GlobalAveragePool";
  std::vector<int64_t> kernel =
      global ? std::vector<int64_t>{xd[2], xd[3]} : IntsAttr(node, "kernel_shape", {});
  const std::vector<int64_t> strides =
      global ? std::vector<int64_t>{1, 1} : IntsAttr(node, "strides", {1, 1});
  std::vector<int64_t> pads =
      global ? std::vector<int64_t>{0, 0, 0, 0} : IntsAttr(node, "pads", {0, 0, 0, 0});
  const std::vector<int64_t> dilations = IntsAttr(node, "dilations", {1, 1});
  const bool ceil_mode = !global && IntAttr(node, "ceil_mode", 0) != 0;
  const bool count_include_pad = IntAttr(node, "count_include_pad", 0) != 0;
  const std::string auto_pad = global ? "NOTSET" : StringAttr(node, "auto_pad", "NOTSET");
  if (kernel.size() != 2 || strides.size() != 2 || pads.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        NodeLabel(node), ": kernel_shape, strides and pads must describe 2 spatial axes"));
  }
  if (dilations != std::vector<int64_t>{1, 1}) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": dilated pooling"));
  }

  memory::dims dst_dims = {xd[0], xd[1], 0, 0};
  memory::dims pad_l(2), pad_r(2);
  for (int i = 0; i < 2; ++i) {
    const int64_t in = xd[2 + i];
    if (auto_pad == "VALID") {
      pads[i] = pads[i + 2] = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (in + strides[i] - 1) / strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * strides[i] + kernel[i] - in);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[i + 2] = total - pads[i];
    }
    const int64_t span = in + pads[i] + pads[i + 2] - kernel[i];
    int64_t out = (ceil_mode ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
    // ceil_mode: the last window must start inside the input or its left pad.
    if (ceil_mode && (out - 1) * strides[i] >= in + pads[i]) --out;
    if (out <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          NodeLabel(node), ": input [", absl::StrJoin(xd, ","), "] is smaller than the kernel"));
    }
    dst_dims[2 + i] = out;
    pad_l[i] = pads[i];
    // oneDNN derives the output size from the padding: extend the right pad to
    // cover ceil_mode's partial window.
    pad_r[i] = (out - 1) * strides[i] + kernel[i] - in - pads[i];
    if (average && count_include_pad && pad_r[i] > pads[i + 2]) {
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
  std::optional<dnnl::pooling_forward::primitive_desc> pd;
  try {
    const memory::desc dst_md(dst_dims, src_desc.data_type(), memory::format_tag::any);
    const dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, src_desc,
                                           dst_md, {strides[0], strides[1]}, {kernel[0], kernel[1]},
                                           pad_l, pad_r);
    pd.emplace(desc, StepAttr(), c.engine());
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, src_desc, quant.scale, node.name));
  const int dst_buffer = c.AddBuffer(pd->dst_desc());
  dnnl::primitive primitive;
  try {
    primitive = dnnl::pooling_forward(*pd);
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

}  // namespace quantd::engine
