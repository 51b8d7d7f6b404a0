// Standalone Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish and
// Gelu (those not fused into a producer by the passes), Sqrt, Pow by a
// constant scalar exponent, and the element-wise math oneDNN has a kernel for
// (Exp, Abs, Neg, Reciprocal, Round, Elu, Selu, Celu, Softplus), as oneDNN
// eltwise in f32 on the current layout. Log is not oneDNN's (unary_math_op.cc):
// its log is off by up to 3.4e-6 near log(1) = 0 (ONNX's test_log), over the
// 1e-5 relative tolerance the conformance test holds every op to.

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/op_registry.h"
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

// The activation as a PostOp (the same mapping onto oneDNN serves both).
absl::StatusOr<PostOp> AsPostOp(PlanCompiler& c, const Node& node) {
  PostOp op;
  const std::string& type = node.op_type;
  if (type == "Relu") {
    op.kind = PostOp::Kind::kRelu;
  } else if (type == "LeakyRelu") {
    op.kind = PostOp::Kind::kLeakyRelu;
    op.alpha = FloatAttr(node, "alpha", 0.01f);
  } else if (type == "Sigmoid") {
    op.kind = PostOp::Kind::kSigmoid;
  } else if (type == "Tanh") {
    op.kind = PostOp::Kind::kTanh;
  } else if (type == "HardSigmoid") {
    op.kind = PostOp::Kind::kHardSigmoid;
    op.alpha = FloatAttr(node, "alpha", 0.2f);
    op.beta = FloatAttr(node, "beta", 0.5f);
  } else if (type == "HardSwish") {
    op.kind = PostOp::Kind::kHardSwish;
  } else if (type == "Gelu") {
    if (StringAttr(node, "approximate", "none") != "none") {
      return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": approximate=\"",
                                                   StringAttr(node, "approximate"), "\""));
    }
    op.kind = PostOp::Kind::kGeluErf;
  } else if (type == "Clip") {
    op.kind = PostOp::Kind::kClip;
    ASSIGN_OR_RETURN(op.alpha, ClipBound(c, node, 1, "min", std::numeric_limits<float>::lowest()));
    ASSIGN_OR_RETURN(op.beta, ClipBound(c, node, 2, "max", std::numeric_limits<float>::max()));
  } else {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": not an eltwise op"));
  }
  return op;
}

// Element-wise math that is no activation a producer takes: one or more
// oneDNN eltwise stages each (alpha, beta as oneDNN defines them per
// algorithm), or nullopt for an op not listed here.
std::optional<std::vector<EltwiseStage>> MathStages(const Node& node) {
  using dnnl::algorithm;
  const std::string& type = node.op_type;
  if (type == "Sqrt") return std::vector<EltwiseStage>{{algorithm::eltwise_sqrt}};
  if (type == "Exp") return std::vector<EltwiseStage>{{algorithm::eltwise_exp}};
  if (type == "Abs") return std::vector<EltwiseStage>{{algorithm::eltwise_abs}};
  // Round: oneDNN rounds half to even, as ONNX does.
  if (type == "Round") return std::vector<EltwiseStage>{{algorithm::eltwise_round}};
  // linear is alpha * x + beta; pow is alpha * x^beta.
  if (type == "Neg") return std::vector<EltwiseStage>{{algorithm::eltwise_linear, -1.0f, 0.0f}};
  if (type == "Reciprocal") {
    return std::vector<EltwiseStage>{{algorithm::eltwise_pow, 1.0f, -1.0f}};
  }
  // log(1 + e^x).
  if (type == "Softplus") return std::vector<EltwiseStage>{{algorithm::eltwise_soft_relu}};
  if (type == "Elu") {
    return std::vector<EltwiseStage>{{algorithm::eltwise_elu, FloatAttr(node, "alpha", 1.0f)}};
  }
  if (type == "Selu") {  // gamma * elu(x, alpha)
    return std::vector<EltwiseStage>{
        {algorithm::eltwise_elu, FloatAttr(node, "alpha", 1.67326319217681884765625f)},
        {algorithm::eltwise_linear, FloatAttr(node, "gamma", 1.05070102214813232421875f), 0.0f}};
  }
  if (type == "Celu") {  // alpha * elu(x / alpha, 1)
    const float alpha = FloatAttr(node, "alpha", 1.0f);
    return std::vector<EltwiseStage>{{algorithm::eltwise_linear, 1.0f / alpha, 0.0f},
                                     {algorithm::eltwise_elu, 1.0f},
                                     {algorithm::eltwise_linear, alpha, 0.0f}};
  }
  return std::nullopt;
}

// Pow needs its exponent; the activations map as their post-op does.
absl::StatusOr<std::vector<EltwiseStage>> Stages(PlanCompiler& c, const Node& node) {
  if (std::optional<std::vector<EltwiseStage>> math = MathStages(node)) return *math;
  if (node.op_type == "Pow") {
    const Constant* exponent = node.inputs.size() == 2 ? c.FindConstant(node.inputs[1]) : nullptr;
    if (exponent == nullptr || exponent->type != Constant::Type::kFloat32 ||
        exponent->floats.size() != 1) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": the exponent must be a float scalar constant"));
    }
    // oneDNN's pow is alpha * x^beta.
    return std::vector<EltwiseStage>{{dnnl::algorithm::eltwise_pow, 1.0f, exponent->floats[0]}};
  }
  ASSIGN_OR_RETURN(const PostOp op, AsPostOp(c, node));
  return EltwiseStages(op);
}

absl::Status CompileEltwise(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  ASSIGN_OR_RETURN(const std::vector<EltwiseStage> stages, Stages(c, node));
  const std::string& x = node.inputs[0];
  ASSIGN_OR_RETURN(int buffer, c.F32BufferFor(x, node.name));
  ASSIGN_OR_RETURN(dnnl::memory::desc desc, c.CurrentDesc(x));
  desc.data.data_type = dnnl_f32;
  try {
    for (const EltwiseStage& stage : stages) {
      const dnnl::eltwise_forward::desc op_desc(dnnl::prop_kind::forward_inference, stage.algorithm,
                                                desc, stage.alpha, stage.beta);
      const dnnl::eltwise_forward::primitive_desc pd(op_desc, StepAttr(), c.engine());
      const int dst_buffer = c.AddBuffer(pd.dst_desc());
      c.AddStep(node.name, dnnl::eltwise_forward(pd),
                {{DNNL_ARG_SRC, buffer}, {DNNL_ARG_DST, dst_buffer}});
      buffer = dst_buffer;
    }
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.DefineValue(node.outputs[0], c.Dims(x), buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterEltwiseOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type :
       {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "Sqrt",
        "Pow", "Exp", "Abs", "Neg", "Reciprocal", "Round", "Softplus", "Elu", "Selu",
        "Celu"}) {
    ops.push_back({.op_type = op_type, .shape = SameShapeAsInput, .compile = CompileEltwise});
  }
}

}  // namespace quantd::engine
