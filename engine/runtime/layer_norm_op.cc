// LayerNormalization (opset 17, and the written-out form CollapseLayerNorm
// turns into it) over the last axis, as one oneDNN layer-normalization
// primitive in f32 on a plain layout, with the constant scale and bias.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

namespace {

// The scale or bias input `index`: a float constant with one value per
// element of the normalized axis (`channels`), or nullptr when absent.
absl::StatusOr<const Constant*> AffineInput(PlanCompiler& c, const Node& node, size_t index,
                                            int64_t channels) {
  if (node.inputs.size() <= index || node.inputs[index].empty()) return nullptr;
  const Constant* constant = c.FindConstant(node.inputs[index]);
  if (constant == nullptr || constant->type != Constant::Type::kFloat32 ||
      constant->NumElements() != channels) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input '", node.inputs[index],
                                                 "' must be a float constant of ", channels,
                                                 " values"));
  }
  return constant;
}

absl::Status CompileLayerNorm(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t axis = IntAttr(node, "axis", -1);
  if (axis < 0) axis += rank;
  if (rank < 2 || rank > 6 || axis != rank - 1) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": normalizes axis ",
                                                 IntAttr(node, "axis", -1), " of rank ", rank,
                                                 "; quantd normalizes the last axis of rank 2-6"));
  }
  if (node.outputs.size() > 1) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": Mean and InvStdDev outputs are for training"));
  }
  const int64_t channels = dims.back();
  ASSIGN_OR_RETURN(const Constant* scale, AffineInput(c, node, 1, channels));
  ASSIGN_OR_RETURN(const Constant* bias, AffineInput(c, node, 2, channels));
  if (scale == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs Scale"));
  }
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(plain);
  std::unordered_map<int, int> args = {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}};
  auto flags = dnnl::normalization_flags::use_scale;
  args[DNNL_ARG_SCALE] = c.AddF32Constant({channels}, memory::format_tag::a, scale->floats.data());
  if (bias != nullptr) {
    flags = flags | dnnl::normalization_flags::use_shift;
    args[DNNL_ARG_SHIFT] = c.AddF32Constant({channels}, memory::format_tag::a, bias->floats.data());
  }
  try {
    const dnnl::layer_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, plain,
                                                       FloatAttr(node, "epsilon", 1e-5f), flags);
    const dnnl::layer_normalization_forward::primitive_desc pd(desc, StepAttr(), c.engine());
    c.AddStep(node.name, dnnl::layer_normalization_forward(pd), std::move(args));
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterLayerNormOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "LayerNormalization",
                 .shape = SameShapeAsInput,
                 .compile = CompileLayerNorm});
}

}  // namespace quantd::engine
