// Fused post-ops: mapping PostOp onto dnnl::post_ops (in the destination's
// quantized domain), the residual sum's destination and scale, and the
// output quantization of int8 producers.

#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

std::vector<EltwiseStage> EltwiseStages(const PostOp& op) {
  using dnnl::algorithm;
  switch (op.kind) {
    case PostOp::Kind::kRelu:
      return {{algorithm::eltwise_relu, 0.0f, 0.0f}};
    case PostOp::Kind::kLeakyRelu:
      return {{algorithm::eltwise_relu, op.alpha, 0.0f}};
    case PostOp::Kind::kClip:
      return {{algorithm::eltwise_clip, op.alpha, op.beta}};
    case PostOp::Kind::kSigmoid:
      return {{algorithm::eltwise_logistic, 0.0f, 0.0f}};
    case PostOp::Kind::kTanh:
      return {{algorithm::eltwise_tanh, 0.0f, 0.0f}};
    case PostOp::Kind::kHardSigmoid:
      // oneDNN 2.6 has no eltwise_hardsigmoid: clip(alpha * x + beta, 0, 1).
      return {{algorithm::eltwise_linear, op.alpha, op.beta},
              {algorithm::eltwise_clip, 0.0f, 1.0f}};
    case PostOp::Kind::kHardSwish:
      // oneDNN 2.6: x * min(max(x + 3, 0), 6) / 6 = ONNX HardSwish (opset 14).
      return {{algorithm::eltwise_hardswish, 0.0f, 0.0f}};
    case PostOp::Kind::kSwish:
      // oneDNN's swish is x * sigmoid(alpha * x).
      return {{algorithm::eltwise_swish, 1.0f, 0.0f}};
    case PostOp::Kind::kGeluErf:
      return {{algorithm::eltwise_gelu_erf, 0.0f, 0.0f}};
    case PostOp::Kind::kSum:
      break;
  }
  return {};
}

bool IsScaleInvariant(const PostOp& op) {
  return op.kind == PostOp::Kind::kRelu || op.kind == PostOp::Kind::kLeakyRelu ||
         op.kind == PostOp::Kind::kClip || op.kind == PostOp::Kind::kSum;
}

PostOpDomain ChoosePostOpDomain(const Node& node, QuantParams dst_quant) {
  for (const PostOp& op : node.post_ops) {
    if (!IsScaleInvariant(op)) return PostOpDomain{1.0f, dst_quant.scale};
  }
  return PostOpDomain{dst_quant.scale, 1.0f};
}

absl::StatusOr<dnnl::post_ops> MakePostOps(const Node& node, PostOpDomain domain,
                                           ResidualSum sum) {
  dnnl::post_ops ops;
  bool uses_linear = false;
  for (const PostOp& op : node.post_ops) {
    switch (op.kind) {
      case PostOp::Kind::kRelu:
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        break;
      case PostOp::Kind::kLeakyRelu:
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, op.alpha, 0.0f);
        break;
      case PostOp::Kind::kClip:
        // Bounds are real values; post-ops see x_real * domain.scale.
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, op.alpha * domain.scale,
                           op.beta * domain.scale);
        break;
      case PostOp::Kind::kSum:
        ops.append_sum(sum.scale, sum.type);
        break;
      default:
        if (domain.scale != 1.0f) {
          return absl::InternalError(absl::StrCat(
              NodeLabel(node), ": a non-linear fused activation outside the real domain"));
        }
        for (const EltwiseStage& stage : EltwiseStages(op)) {
          uses_linear |= stage.algorithm == dnnl::algorithm::eltwise_linear;
          ops.append_eltwise(1.0f, stage.algorithm, stage.alpha, stage.beta);
        }
        break;
    }
  }
  if (domain.final_scale != 1.0f) {
    // Into the quantized destination's domain. oneDNN 2.6's brgconv applies
    // a repeated eltwise algorithm with its first occurrence's alpha and beta
    // (see FakeQuantStages), so after a HardSigmoid (linear, clip) the
    // scaling is written as pow(x, 1) * scale.
    if (uses_linear) {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_pow, domain.final_scale, 1.0f);
    } else {
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, domain.final_scale, 0.0f);
    }
  }
  return ops;
}

namespace {
const PostOp* FindSum(const Node& node) {
  for (const PostOp& op : node.post_ops) {
    if (op.kind == PostOp::Kind::kSum) return &op;
  }
  return nullptr;
}

// Whether the residual's own bytes go into dst (read as its own type) rather
// than a copy converted into dst's type and domain: when both are quantized
// (u8 and s8 have the same size) or both f32.
bool ResidualReadRaw(QuantParams residual, QuantParams dst_quant) {
  return residual.type == dst_quant.type || (residual.quantized() && dst_quant.quantized());
}

// Whether the residual has other dims than the node's output, which ONNX's
// Add broadcast it to (a graph input of one row added to every row): dst is
// then prefilled with it expanded, from f32.
bool ResidualBroadcasts(const PlanCompiler& c, const Node& node, const PostOp& sum) {
  const std::vector<int64_t>* out = c.InferredDims(node.outputs[0]);
  return out != nullptr && c.HasValue(sum.sum_input) && c.Dims(sum.sum_input) != *out;
}
}  // namespace

ResidualSum SumParams(PlanCompiler& c, const Node& node, QuantParams dst_quant,
                      PostOpDomain domain) {
  const PostOp* sum = FindSum(node);
  if (sum == nullptr) return ResidualSum{};
  const QuantParams residual = c.Quant(sum->sum_input);
  // The values placed in dst are x_real * prefill_scale; the sum post-op
  // rescales them into the post-ops' domain with a single rounding.
  if (!ResidualBroadcasts(c, node, *sum) && ResidualReadRaw(residual, dst_quant)) {
    return ResidualSum{domain.scale / residual.scale,
                       residual.type == dst_quant.type ? memory::data_type::undef : residual.type};
  }
  return ResidualSum{domain.scale / dst_quant.scale, memory::data_type::undef};
}

absl::StatusOr<int> SumDestination(PlanCompiler& c, const Node& node, const memory::desc& dst_desc,
                                   QuantParams dst_quant) {
  const PostOp* sum = FindSum(node);
  if (sum == nullptr) return c.AddBuffer(dst_desc);
  if (!c.HasValue(sum->sum_input)) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": sum input '", sum->sum_input, "' is not defined"));
  }
  if (ResidualBroadcasts(c, node, *sum)) {
    const int dst_buffer = c.AddBuffer(dst_desc);
    ASSIGN_OR_RETURN(const int expanded, BroadcastF32(c, sum->sum_input, dst_desc.dims(), node));
    RETURN_IF_ERROR(c.AddReorderStep(node.name, expanded, dst_buffer, dst_quant.scale));
    return dst_buffer;
  }
  ASSIGN_OR_RETURN(const memory::desc residual_desc, c.CurrentDesc(sum->sum_input));
  const QuantParams residual = c.Quant(sum->sum_input);
  const bool raw = ResidualReadRaw(residual, dst_quant);
  // dst's layout holding the residual's type.
  memory::desc prefill_desc = dst_desc;
  if (raw) prefill_desc.data.data_type = memory::convert_to_c(residual.type);

  const int residual_buffer = c.BufferOf(sum->sum_input);
  if (raw && c.IsLastUseAsSum(sum->sum_input, node) &&
      c.BufferDesc(residual_buffer) == prefill_desc) {
    if (residual.type == dst_quant.type) return residual_buffer;
    return c.AddAlias(dst_desc, residual_buffer);
  }
  const int dst_buffer = c.AddBuffer(dst_desc);
  const int prefill_buffer =
      prefill_desc == dst_desc ? dst_buffer : c.AddAlias(prefill_desc, dst_buffer);
  ASSIGN_OR_RETURN(const int source,
                   c.BufferFor(sum->sum_input, residual_desc, residual.scale, node.name));
  RETURN_IF_ERROR(c.AddReorderStep(node.name, source, prefill_buffer,
                                   raw ? 1.0f : dst_quant.scale / residual.scale));
  return dst_buffer;
}

std::optional<ActivationGrid> ChooseDstGrid(PlanCompiler& c, const Node& node) {
  const std::string& output = node.outputs[0];
  if (!c.ConsumersTakeInt8(output)) return std::nullopt;
  // Simulated Plans fake-quantize with post-ops of their own (FakeQuantStages),
  // which a Sigmoid, Tanh, HardSigmoid or HardSwish before them would clash
  // with: keep the destination f32 and let the consumer quantize it.
  if (c.simulated()) {
    for (const PostOp& op : node.post_ops) {
      if (!IsScaleInvariant(op)) return std::nullopt;
    }
  }
  return c.CalibratedGrid(output);
}

QuantParams ChooseDstQuant(PlanCompiler& c, const Node& node) {
  if (!c.int8()) return QuantParams{};
  const std::optional<ActivationGrid> grid = ChooseDstGrid(c, node);
  return grid ? QuantParamsForGrid(*grid) : QuantParams{};
}

std::vector<EltwiseStage> FakeQuantStages(const ActivationGrid& grid) {
  // (clip(round(x * s) + zp, qmin, qmax) - zp) / s, with the zero point
  // folded into the clip bounds. Every algorithm appears once, and none that
  // a fusable activation uses (relu, clip): oneDNN 2.6's brgconv applies a
  // repeated eltwise algorithm with its first occurrence's alpha and beta
  // (linear, round, clip, linear returns levels * s instead of levels / s).
  const float zero_point = static_cast<float>(grid.zero_point);
  return {{dnnl::algorithm::eltwise_linear, grid.scale, 0.0f},
          {dnnl::algorithm::eltwise_round, 0.0f, 0.0f},
          {dnnl::algorithm::eltwise_clip_v2, static_cast<float>(grid.qmin) - zero_point,
           static_cast<float>(grid.qmax) - zero_point},
          {dnnl::algorithm::eltwise_pow, 1.0f / grid.scale, 1.0f}};
}

void AppendFakeQuant(dnnl::post_ops& ops, const ActivationGrid& grid) {
  for (const EltwiseStage& stage : FakeQuantStages(grid)) {
    ops.append_eltwise(1.0f, stage.algorithm, stage.alpha, stage.beta);
  }
}

}  // namespace quantd::engine
