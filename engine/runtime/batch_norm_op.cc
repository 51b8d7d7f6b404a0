// BatchNormalization that was not folded into a Conv (DenseNet's after a
// Concat, pre-activation blocks). On a 4-D input it is a per-channel affine
// map, compiled as a 1x1 depthwise convolution: that runs int8 in int8 Plans
// (u8/s8 in and out, the fused ReLU included) and stays in the activations'
// layout. Other ranks run oneDNN batch normalization in inference mode.

#include "absl/strings/str_cat.h"
#include "engine/graph/batch_norm_affine.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

namespace {

// The convolution form reads int8.
bool Int8On4DInput(const PlanCompiler& c, const Node& node, size_t index) {
  const std::vector<int64_t>* dims = c.InferredDims(node.inputs[0]);
  return index == 0 && dims != nullptr && dims->size() == 4;
}

// A multiply-add per element (its convolution form: a 1x1 depthwise one).
int64_t OneMacPerElement(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* out = shapes.Dims(node.outputs[0]);
  return out == nullptr ? 0 : NumElements(*out);
}

absl::Status CompileBatchNorm(PlanCompiler& c, const Node& node) {
  if (node.inputs.size() != 5 || node.outputs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": needs X, scale, B, mean and var"));
  }
  const std::string& x = node.inputs[0];
  const std::vector<int64_t>& xd = c.Dims(x);
  if (xd.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input rank < 2"));
  }
  const int64_t channels = xd[1];
  std::vector<const Constant*> params;
  for (size_t i = 1; i < 5; ++i) {
    const Constant* p = c.FindConstant(node.inputs[i]);
    if (p == nullptr || p->type != Constant::Type::kFloat32 || p->NumElements() != channels) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": '", node.inputs[i],
                                                   "' must be a constant with ", channels,
                                                   " floats"));
    }
    params.push_back(p);
  }
  const float epsilon = FloatAttr(node, "epsilon", 1e-5f);
  if (xd.size() == 4) {
    // y = (x - mean) / sqrt(var + eps) * scale + shift = w * x + b.
    Constant weight{.type = Constant::Type::kFloat32, .dims = {channels, 1, 1, 1}, .floats = {},
                    .ints = {}};
    Constant bias{.type = Constant::Type::kFloat32, .dims = {channels}, .floats = {}, .ints = {}};
    const ChannelAffine affine =
        BatchNormAffine(node, *params[0], *params[1], *params[2], *params[3]);
    for (int64_t i = 0; i < channels; ++i) {
      weight.floats.push_back(static_cast<float>(affine.scale[i]));
      bias.floats.push_back(static_cast<float>(affine.shift[i]));
    }
    Node conv = node;
    conv.op_type = "Conv";
    conv.inputs = {x, c.AddPlanConstant(node.name + "_weight", std::move(weight)),
                   c.AddPlanConstant(node.name + "_bias", std::move(bias))};
    conv.attributes = {{"group", channels}};
    return FindOp("Conv")->compile(c, conv);
  }
  std::vector<float> scale_shift(params[0]->floats);
  scale_shift.insert(scale_shift.end(), params[1]->floats.begin(), params[1]->floats.end());
  const int scale_shift_buffer =
      c.AddF32Constant({2, channels}, memory::format_tag::nc, scale_shift.data());
  const int mean_buffer =
      c.AddF32Constant({channels}, memory::format_tag::a, params[2]->floats.data());
  const int variance_buffer =
      c.AddF32Constant({channels}, memory::format_tag::a, params[3]->floats.data());

  ASSIGN_OR_RETURN(const int src_buffer, c.F32BufferFor(x, node.name));
  ASSIGN_OR_RETURN(memory::desc desc, c.CurrentDesc(x));
  desc.data.data_type = dnnl_f32;
  try {
    const dnnl::batch_normalization_forward::desc op_desc(
        dnnl::prop_kind::forward_inference, desc, epsilon,
        dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale_shift);
    dnnl::primitive_attr attr = StepAttr();
    ASSIGN_OR_RETURN(const dnnl::post_ops post_ops, MakePostOps(node, PostOpDomain{}, ResidualSum{}));
    attr.set_post_ops(post_ops);
    const dnnl::batch_normalization_forward::primitive_desc pd(op_desc, attr, c.engine());
    const int dst_buffer = c.AddBuffer(pd.dst_desc());
    c.AddStep(node.name, dnnl::batch_normalization_forward(pd),
              {{DNNL_ARG_SRC, src_buffer},
               {DNNL_ARG_MEAN, mean_buffer},
               {DNNL_ARG_VARIANCE, variance_buffer},
               {DNNL_ARG_SCALE_SHIFT, scale_shift_buffer},
               {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], xd, dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterBatchNormOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "BatchNormalization",
                 .shape = SameShapeAsInput,
                 .compile = CompileBatchNorm,
                 .int8_input = Int8On4DInput,
                 .macs = OneMacPerElement,
                 .takes_post_ops = true});
}

}  // namespace quantd::engine
