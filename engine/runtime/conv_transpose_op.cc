// ConvTranspose (2-D, fp32) as a oneDNN deconvolution. ONNX weights are
// [C_in, C_out / group, kH, kW], i.e. oneDNN's iohw (giohw with groups).

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

struct DeconvGeometry {
  memory::dims strides, dilates, pad_l, pad_r;  // dilates in oneDNN form (d - 1)
  memory::dims dst_dims;
};

// Output size per ONNX ConvTranspose (opset 11): out = s * (in - 1) +
// output_padding + (k - 1) * d + 1 - pad_begin - pad_end; with output_shape
// or SAME_* auto_pad the pads follow from the requested size.
absl::StatusOr<DeconvGeometry> ComputeGeometry(const Node& node, const std::vector<int64_t>& x,
                                               const std::vector<int64_t>& w, int64_t oc) {
  const std::vector<int64_t> strides = IntsAttr(node, "strides", {1, 1});
  const std::vector<int64_t> dilations = IntsAttr(node, "dilations", {1, 1});
  const std::vector<int64_t> output_padding = IntsAttr(node, "output_padding", {0, 0});
  std::vector<int64_t> pads = IntsAttr(node, "pads", {0, 0, 0, 0});
  std::vector<int64_t> output_shape = IntsAttr(node, "output_shape", {});
  const std::string auto_pad = StringAttr(node, "auto_pad", "NOTSET");
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4 ||
      output_padding.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        NodeLabel(node), ": strides, dilations, pads and output_padding must describe 2 axes"));
  }
  if (output_shape.size() == 4) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": output_shape [", absl::StrJoin(output_shape, ","), "]"));
  }
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
      auto_pad != "SAME_LOWER") {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": auto_pad '", auto_pad, "'"));
  }
  DeconvGeometry g;
  g.dst_dims = {x[0], oc, 0, 0};
  for (int i = 0; i < 2; ++i) {
    const int64_t effective_kernel = (w[2 + i] - 1) * dilations[i] + 1;
    const int64_t full = strides[i] * (x[2 + i] - 1) + output_padding[i] + effective_kernel;
    int64_t target = -1;
    if (!output_shape.empty()) {
      target = output_shape[i];
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      target = x[2 + i] * strides[i];
    } else if (auto_pad == "VALID") {
      pads[i] = pads[i + 2] = 0;
    }
    if (target >= 0) {
      // SAME_UPPER puts the odd pad at the end, otherwise at the start. As in
      // the ONNX reference (Python), halves round down: a larger output than
      // `full` becomes a negative end pad, i.e. extra bias-only rows.
      const int64_t total = full - target;
      const int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);
      pads[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      pads[i + 2] = total - pads[i];
      if (pads[i] < 0) {
        return absl::UnimplementedError(
            absl::StrCat(NodeLabel(node), ": output size ", target, " needs a negative start pad"));
      }
    } else if (pads[i] < 0 || pads[i + 2] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": negative pads [", absl::StrJoin(pads, ","), "]"));
    }
    const int64_t out = full - pads[i] - pads[i + 2];
    if (out <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input [", absl::StrJoin(x, ","), "] with pads [",
                       absl::StrJoin(pads, ","), "] gives no output"));
    }
    g.dst_dims[2 + i] = out;
    g.strides.push_back(strides[i]);
    g.dilates.push_back(dilations[i] - 1);
    g.pad_l.push_back(pads[i]);
    // oneDNN derives the output size from the padding: output_padding shows
    // up as less right padding.
    g.pad_r.push_back(pads[i + 2] - output_padding[i]);
  }
  return g;
}

// Checks x [N, C, H, W] against w [C, OC / group, kH, kW]; returns OC.
absl::StatusOr<int64_t> OutputChannels(const Node& node, const std::vector<int64_t>& xd,
                                       const std::vector<int64_t>& wd) {
  if (xd.size() != 4 || wd.size() != 4) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": only 2-D transposed convolutions are supported"));
  }
  const int64_t groups = IntAttr(node, "group", 1);
  if (groups <= 0 || xd[1] != wd[0] || wd[0] % groups != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": weight shape [", absl::StrJoin(wd, ","), "] with group ",
                     groups, " does not match input channels ", xd[1]));
  }
  const std::vector<int64_t> kernel_shape = IntsAttr(node, "kernel_shape", {wd[2], wd[3]});
  if (kernel_shape != std::vector<int64_t>{wd[2], wd[3]}) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": kernel_shape [", absl::StrJoin(kernel_shape, ","),
                     "] does not match weight shape [", absl::StrJoin(wd, ","), "]"));
  }
  return wd[1] * groups;
}

absl::StatusOr<std::vector<Shape>> ConvTransposeShape(const Node& node,
                                                      const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.size() > 1 ? shapes.Dims(node.inputs[0]) : nullptr;
  const std::vector<int64_t>* w = node.inputs.size() > 1 ? shapes.Dims(node.inputs[1]) : nullptr;
  if (x == nullptr || w == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X and W"));
  }
  ASSIGN_OR_RETURN(const int64_t oc, OutputChannels(node, *x, *w));
  ASSIGN_OR_RETURN(const DeconvGeometry geometry, ComputeGeometry(node, *x, *w, oc));
  return std::vector<Shape>{geometry.dst_dims};
}

// Each input element meets OC / group * kH * kW weights.
int64_t ConvTransposeMacs(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = shapes.Dims(node.inputs[0]);
  const std::vector<int64_t>* w = node.inputs.size() > 1 ? shapes.Dims(node.inputs[1]) : nullptr;
  if (x == nullptr || w == nullptr || w->empty() || (*w)[0] == 0) return 0;
  return NumElements(*x) * (NumElements(*w) / (*w)[0]);
}

absl::Status CompileConvTranspose(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const std::string& x = node.inputs[0];
  const Constant* w = c.FindConstant(node.inputs[1]);
  const bool has_bias = node.inputs.size() > 2 && !node.inputs[2].empty();
  const Constant* b = has_bias ? c.FindConstant(node.inputs[2]) : nullptr;
  if (w == nullptr || w->type != Constant::Type::kFloat32 ||
      (has_bias && (b == nullptr || b->type != Constant::Type::kFloat32))) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": weights and bias must be float constants"));
  }
  const std::vector<int64_t> xd = c.Dims(x);
  ASSIGN_OR_RETURN(const int64_t oc, OutputChannels(node, xd, w->dims));
  const int64_t groups = IntAttr(node, "group", 1);
  const int64_t ic = w->dims[0];
  if (b != nullptr && b->NumElements() != oc) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": bias has ", b->NumElements(), " elements, expected ", oc));
  }
  ASSIGN_OR_RETURN(const DeconvGeometry geometry, ComputeGeometry(node, xd, w->dims, oc));

  const memory::dims weight_dims =
      groups > 1 ? memory::dims{groups, oc / groups, ic / groups, w->dims[2], w->dims[3]}
                 : memory::dims{oc, ic, w->dims[2], w->dims[3]};
  const memory::format_tag weight_tag =
      groups > 1 ? memory::format_tag::giohw : memory::format_tag::iohw;
  std::vector<float> bias(oc, 0.0f);
  if (b != nullptr) std::copy(b->floats.begin(), b->floats.end(), bias.begin());
  std::optional<dnnl::deconvolution_forward::primitive_desc> pd;
  dnnl::primitive primitive;
  try {
    const memory::desc src_md(xd, memory::data_type::f32, memory::format_tag::any);
    const memory::desc weight_md(weight_dims, memory::data_type::f32, memory::format_tag::any);
    const memory::desc bias_md({oc}, memory::data_type::f32, memory::format_tag::a);
    const memory::desc dst_md(geometry.dst_dims, memory::data_type::f32, memory::format_tag::any);
    const dnnl::deconvolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                                 dnnl::algorithm::deconvolution_direct, src_md,
                                                 weight_md, bias_md, dst_md, geometry.strides,
                                                 geometry.dilates, geometry.pad_l, geometry.pad_r);
    pd.emplace(desc, StepAttr(), c.engine());
    primitive = dnnl::deconvolution_forward(*pd);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  ASSIGN_OR_RETURN(const int weight_buffer,
                   c.AddReorderedConstant(node.name, weight_dims, weight_tag, w->floats.data(),
                                          pd->weights_desc(), 0, {}));
  const int bias_buffer = c.AddF32Constant({oc}, memory::format_tag::a, bias.data());
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, pd->src_desc(), 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(pd->dst_desc());
  c.AddStep(node.name, std::move(primitive),
            {{DNNL_ARG_SRC, src_buffer},
             {DNNL_ARG_WEIGHTS, weight_buffer},
             {DNNL_ARG_BIAS, bias_buffer},
             {DNNL_ARG_DST, dst_buffer}});
  c.DefineValue(node.outputs[0], geometry.dst_dims, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterConvTransposeOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "ConvTranspose",
                 .shape = ConvTransposeShape,
                 .compile = CompileConvTranspose,
                 .macs = ConvTransposeMacs});
}

}  // namespace quantd::engine
