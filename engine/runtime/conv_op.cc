// Conv (ONNX opset 1-11 semantics; 2-D and 3-D, and 1-D lifted to 2-D by
// the Lift1dWindowsTo2d pass) as a oneDNN convolution with fused post-ops; int8
// with s8 weights (scales per QuantizationOptions) when calibrated, or fp32
// with fake-quantized weights and activations when simulated.

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/window_geometry.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/table_activation.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

struct ConvGeometry {
  memory::dims strides, dilates, pad_l, pad_r;  // dilates in oneDNN form (d - 1)
  memory::dims dst_dims;
};

// x [N, C, spatial...] and w [OC, C / group, kernel...]: 2-D or 3-D (1-D
// arrives lifted to 2-D by Lift1dWindowsTo2d).
absl::StatusOr<ConvGeometry> ComputeGeometry(const Node& node, const std::vector<int64_t>& x,
                                             const std::vector<int64_t>& w) {
  if ((x.size() != 4 && x.size() != 5) || w.size() != x.size()) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": only 2-D and 3-D convolutions are supported"));
  }
  const std::vector<int64_t> kernel(w.begin() + 2, w.end());
  ASSIGN_OR_RETURN(const WindowAttributes window, ReadWindowAttributes(node, kernel));
  if (window.kernel != kernel) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": kernel_shape [", absl::StrJoin(window.kernel, ","),
                     "] does not match weight shape [", absl::StrJoin(w, ","), "]"));
  }
  ASSIGN_OR_RETURN(const WindowGeometry geometry,
                   ComputeWindowGeometry(node, window, {x.begin() + 2, x.end()}));
  ConvGeometry g;
  g.dst_dims = {x[0], w[0]};
  g.dst_dims.insert(g.dst_dims.end(), geometry.out.begin(), geometry.out.end());
  for (size_t i = 0; i < kernel.size(); ++i) {
    g.strides.push_back(window.strides[i]);
    g.dilates.push_back(window.dilations[i] - 1);
    g.pad_l.push_back(geometry.pad_begin[i]);
    g.pad_r.push_back(geometry.pad_end[i]);
  }
  return g;
}

absl::StatusOr<std::vector<Shape>> ConvShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.size() > 1 ? shapes.Dims(node.inputs[0]) : nullptr;
  const std::vector<int64_t>* w = node.inputs.size() > 1 ? shapes.Dims(node.inputs[1]) : nullptr;
  if (x == nullptr || w == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X and W"));
  }
  ASSIGN_OR_RETURN(const ConvGeometry geometry, ComputeGeometry(node, *x, *w));
  return std::vector<Shape>{geometry.dst_dims};
}

absl::Status CompileConv(PlanCompiler& c, const Node& node);

absl::Status CompileConv(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() < 2 || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X and W"));
  }
  const std::string& x = node.inputs[0];
  const Constant* w = c.FindConstant(node.inputs[1]);
  const Constant* b =
      node.inputs.size() > 2 && !node.inputs[2].empty() ? c.FindConstant(node.inputs[2]) : nullptr;
  if (w == nullptr || w->type != Constant::Type::kFloat32 ||
      (node.inputs.size() > 2 && !node.inputs[2].empty() && b == nullptr)) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": weights and bias must be float constants"));
  }
  if (!c.HasValue(x)) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": no input"));
  }
  const std::vector<int64_t> xd = c.Dims(x);
  ASSIGN_OR_RETURN(const ConvGeometry geometry, ComputeGeometry(node, xd, w->dims));
  const int64_t groups = IntAttr(node, "group", 1);
  const int64_t oc = w->dims[0];
  if (groups <= 0 || xd[1] != w->dims[1] * groups || oc % groups != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": weight shape [", absl::StrJoin(w->dims, ","),
                     "] with group ", groups, " does not match input channels ", xd[1]));
  }
  if (b != nullptr && b->NumElements() != oc) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": bias has ", b->NumElements(), " elements, expected ", oc));
  }

  // int8 when the source is (or can be) quantized; excluded nodes read f32.
  const bool quantize = (c.int8() || c.simulated()) && !c.Excluded(node);
  QuantParams src_q;
  if (c.int8() && quantize) {
    src_q = c.Quant(x);
    if (!src_q.quantized()) {
      if (std::optional<QuantParams> q = c.CalibratedQuant(x)) src_q = *q;
    }
  }
  const bool int8 = src_q.quantized();
  const bool simulated = c.simulated() && quantize && (c.Grid(x) || c.CalibratedGrid(x));
  const QuantParams dst_q = int8 ? ChooseDstQuant(c, node) : QuantParams{};
  // A costly activation by table: the convolution writes its raw result on
  // that result's own grid (`conv_q`), a table step maps it into dst_q.
  const std::optional<TableActivation> table =
      int8 ? ChooseTableActivation(c, node, dst_q) : std::nullopt;
  const Node& conv = table ? table->without_activation : node;
  const QuantParams conv_q = table ? table->raw : dst_q;
  const PostOpDomain domain = ChoosePostOpDomain(conv, conv_q);
  const std::optional<ActivationGrid> dst_grid = simulated ? ChooseDstGrid(c, node) : std::nullopt;

  const bool three_d = xd.size() == 5;
  memory::dims weight_dims(w->dims.begin(), w->dims.end());
  if (groups > 1) {
    weight_dims[0] = oc / groups;
    weight_dims.insert(weight_dims.begin(), groups);
  }
  const memory::format_tag weight_tag =
      groups > 1 ? (three_d ? memory::format_tag::goidhw : memory::format_tag::goihw)
                 : (three_d ? memory::format_tag::oidhw : memory::format_tag::oihw);
  const memory::format_tag channels_last =
      three_d ? memory::format_tag::acdeb : memory::format_tag::acdb;
  std::vector<float> weight_scales, output_scales;
  std::vector<float> bias(oc, 0.0f);
  if (b != nullptr) std::copy(b->floats.begin(), b->floats.end(), bias.begin());
  const float* weight_data = w->floats.data();
  std::vector<float> fake_weights;
  if (simulated) {
    fake_weights = w->floats;
    FakeQuantizeWeights(fake_weights, WeightScales(fake_weights, oc, c.quantization()),
                        c.quantization().weight_bits);
    weight_data = fake_weights.data();
  }
  if (int8) {
    c.RecordInt8Input(node, src_q);
    weight_scales = WeightScales(w->floats, oc, c.quantization());
    output_scales.resize(oc);
    for (int64_t i = 0; i < oc; ++i) {
      output_scales[i] = domain.scale / (src_q.scale * weight_scales[i]);
      // oneDNN 2.x adds the bias to the s32 accumulator before applying the
      // output scales, so it lives in the accumulator's domain.
      bias[i] *= src_q.scale * weight_scales[i];
    }
  }

  std::optional<dnnl::convolution_forward::primitive_desc> pd;
  try {
    const memory::desc src_md(xd, int8 ? src_q.type : memory::data_type::f32,
                              memory::format_tag::any);
    const memory::desc weight_md(weight_dims, int8 ? memory::data_type::s8 : memory::data_type::f32,
                                 memory::format_tag::any);
    const memory::desc bias_md({oc}, memory::data_type::f32, memory::format_tag::a);
    const memory::desc dst_md(geometry.dst_dims, conv_q.type, memory::format_tag::any);
    dnnl::primitive_attr attr = StepAttr();
    ASSIGN_OR_RETURN(dnnl::post_ops post_ops,
                     MakePostOps(conv, domain, SumParams(c, conv, conv_q, domain)));
    if (dst_grid) AppendFakeQuant(post_ops, *dst_grid);
    attr.set_post_ops(post_ops);
    if (int8) attr.set_output_scales(1 << 1, output_scales);
    // fp32 3x3 stride-1 convolutions run about 1.2-1.5x faster as Winograd
    // F(4x4, 3x3) here (ResNet-18/50 at batch 32), at a cost of ~1e-6 relative
    // error and larger transformed weights. oneDNN refuses the shapes it has
    // no Winograd kernel for; those fall back to direct convolution. int8
    // stays direct: int8 Winograd loses accuracy. See docs/decisions/0005.
    if (!int8 && c.fp32_winograd()) {
      try {
        const dnnl::convolution_forward::desc winograd_desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd, src_md,
            weight_md, bias_md, dst_md, geometry.strides, geometry.dilates, geometry.pad_l,
            geometry.pad_r);
        pd.emplace(winograd_desc, attr, c.engine());
      } catch (const dnnl::error&) {
        // No Winograd implementation for this shape: expected, use direct.
      }
    }
    // Direct convolutions read and write channels-last, the layout every
    // other op here keeps activations in. Left to choose ("any"), oneDNN
    // picks 8-channel blocks for grouped fp32 convolutions (RegNet), which
    // its binary primitive then runs on the reference kernel.
    const memory::desc src_nhwc(xd, src_md.data_type(), channels_last);
    const memory::desc dst_nhwc(geometry.dst_dims, conv_q.type, channels_last);
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                               dnnl::algorithm::convolution_direct, src_nhwc,
                                               weight_md, bias_md, dst_nhwc, geometry.strides,
                                               geometry.dilates, geometry.pad_l, geometry.pad_r);
    if (!pd) pd.emplace(desc, attr, c.engine());
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }

  const int weight_mask = groups > 1 ? (1 << 0) | (1 << 1) : (1 << 0);
  ASSIGN_OR_RETURN(const int weight_buffer,
                   c.AddReorderedConstant(node.name, weight_dims, weight_tag, weight_data,
                                          pd->weights_desc(), weight_mask, weight_scales));
  const int bias_buffer = c.AddF32Constant({oc}, memory::format_tag::a, bias.data());
  ASSIGN_OR_RETURN(const int src_buffer,
                   simulated ? c.FakeQuantizedBufferFor(x, pd->src_desc(), node.name)
                             : c.BufferFor(x, pd->src_desc(), src_q.scale, node.name));
  ASSIGN_OR_RETURN(const int conv_buffer, SumDestination(c, conv, pd->dst_desc(), conv_q));
  dnnl::primitive primitive;
  try {
    primitive = dnnl::convolution_forward(*pd);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.AddStep(node.name, std::move(primitive),
            {{DNNL_ARG_SRC, src_buffer},
             {DNNL_ARG_WEIGHTS, weight_buffer},
             {DNNL_ARG_BIAS, bias_buffer},
             {DNNL_ARG_DST, conv_buffer}});
  int dst_buffer = conv_buffer;
  if (table) {
    memory::desc dst_desc = pd->dst_desc();
    dst_desc.data.data_type = memory::convert_to_c(dst_q.type);
    dst_buffer = c.AddBuffer(dst_desc);
    c.AddHostStep(node.name,
                  std::make_shared<const ByteTableKernel>(
                      ActivationTable(table->activation, conv_q, dst_q), dst_desc.get_size()),
                  conv_buffer, dst_buffer);
    c.RecordQuantizedValue(table->activation.pre_activation, conv_q);
  }
  c.DefineValue(node.outputs[0], geometry.dst_dims, dst_buffer, dst_q);
  if (dst_grid) c.SetGrid(node.outputs[0], *dst_grid);
  return absl::OkStatus();
}

}  // namespace

void RegisterConvOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Conv",
                 .shape = ConvShape,
                 .compile = CompileConv,
                 .int8_input = Int8FirstInput,
                 .macs = MacsPerOutputTimesWeightRow,
                 .takes_post_ops = true});
}

}  // namespace quantd::engine
