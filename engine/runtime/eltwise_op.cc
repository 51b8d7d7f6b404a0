// Standalone Relu, Clip, LeakyRelu and Sigmoid (those not fused into a
// producer by the passes) as oneDNN eltwise in f32 on the current layout.

#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Clip's bounds: attributes before opset 11, optional constant inputs since.
absl::StatusOr<float> ClipBound(PlanCompiler& c, const Node& node, size_t input,
                                const std::string& attribute, float def) {
  if (node.inputs.size() > input && !node.inputs[input].empty()) {
    const Constant* bound = c.FindConstant(node.inputs[input]);
    if (bound == nullptr || bound->type != Constant::Type::kFloat32 || bound->floats.size() != 1) {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": bound '", node.inputs[input],
                                                   "' must be a float scalar constant"));
    }
    return bound->floats[0];
  }
  return FloatAttr(node, attribute, def);
}

}  // namespace

absl::Status CompileEltwise(PlanCompiler& c, const Node& node) {
  if (node.inputs.empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  dnnl::algorithm algorithm = dnnl::algorithm::eltwise_relu;
  float alpha = 0.0f, beta = 0.0f;
  if (node.op_type == "LeakyRelu") {
    alpha = FloatAttr(node, "alpha", 0.01f);
  } else if (node.op_type == "Sigmoid") {
    algorithm = dnnl::algorithm::eltwise_logistic;
  } else if (node.op_type == "Clip") {
    algorithm = dnnl::algorithm::eltwise_clip;
    ASSIGN_OR_RETURN(alpha, ClipBound(c, node, 1, "min", std::numeric_limits<float>::lowest()));
    ASSIGN_OR_RETURN(beta, ClipBound(c, node, 2, "max", std::numeric_limits<float>::max()));
  }
  const std::string& x = node.inputs[0];
  ASSIGN_OR_RETURN(const int src_buffer, c.F32BufferFor(x, node.name));
  ASSIGN_OR_RETURN(const dnnl::memory::desc desc, c.CurrentDesc(x));
  try {
    dnnl::memory::desc f32_desc = desc;
    f32_desc.data.data_type = dnnl_f32;
    const dnnl::eltwise_forward::desc op_desc(dnnl::prop_kind::forward_inference, algorithm,
                                              f32_desc, alpha, beta);
    const dnnl::eltwise_forward::primitive_desc pd(op_desc, StepAttr(), c.engine());
    const int dst_buffer = c.AddBuffer(pd.dst_desc());
    c.AddStep(node.name, dnnl::eltwise_forward(pd),
              {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], c.Dims(x), dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
