// LayerNormalization (opset 17, and the written-out form CollapseLayerNorm
// turns into it) over axes [axis, rank), as one oneDNN layer-normalization
// primitive in f32 on the plain values seen as [rows, normalized elements],
// with the constant scale and bias; its optional Mean and InvStdDev outputs
// from the same primitive's statistics.

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

// Mean and InvStdDev keep the leading axes and one element of each
// normalized one.
std::vector<int64_t> StatisticsDims(std::vector<int64_t> dims, int64_t axis) {
  for (size_t d = static_cast<size_t>(axis); d < dims.size(); ++d) dims[d] = 1;
  return dims;
}

absl::Status CompileLayerNorm(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  const int64_t rank = static_cast<int64_t>(dims.size());
  int64_t axis = IntAttr(node, "axis", -1);
  if (axis < 0) axis += rank;
  if (rank < 1 || rank > 6 || axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", -1), " of rank ", rank));
  }
  // ONNX normalizes over axes [axis, rank): seen as [rows, channels], that is
  // oneDNN's normalization over the last axis.
  int64_t rows = 1, channels = 1;
  for (int64_t d = 0; d < rank; ++d) (d < axis ? rows : channels) *= dims[d];
  ASSIGN_OR_RETURN(const Constant* scale, AffineInput(c, node, 1, channels));
  ASSIGN_OR_RETURN(const Constant* bias, AffineInput(c, node, 2, channels));
  if (scale == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs Scale"));
  }
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(plain);
  const memory::desc matrix({rows, channels}, memory::data_type::f32, memory::format_tag::ab);
  std::unordered_map<int, int> args = {{DNNL_ARG_SRC, c.AddAlias(matrix, src_buffer)},
                                       {DNNL_ARG_DST, c.AddAlias(matrix, dst_buffer)}};
  auto flags = dnnl::normalization_flags::use_scale;
  args[DNNL_ARG_SCALE] = c.AddF32Constant({channels}, memory::format_tag::a, scale->floats.data());
  if (bias != nullptr) {
    flags = flags | dnnl::normalization_flags::use_shift;
    args[DNNL_ARG_SHIFT] = c.AddF32Constant({channels}, memory::format_tag::a, bias->floats.data());
  }
  const float epsilon = FloatAttr(node, "epsilon", 1e-5f);
  // The optional Mean and InvStdDev outputs: oneDNN's training-mode
  // normalization also writes each row's mean and variance.
  const bool mean_wanted = node.outputs.size() > 1 && !node.outputs[1].empty();
  const bool inv_std_wanted = node.outputs.size() > 2 && !node.outputs[2].empty();
  const memory::desc row_stats({rows}, memory::data_type::f32, memory::format_tag::a);
  int mean_buffer = -1, variance_buffer = -1;
  if (mean_wanted || inv_std_wanted) {
    mean_buffer = c.AddBuffer(row_stats);
    variance_buffer = c.AddBuffer(row_stats);
    args[DNNL_ARG_MEAN] = mean_buffer;
    args[DNNL_ARG_VARIANCE] = variance_buffer;
  }
  try {
    const dnnl::layer_normalization_forward::desc desc(
        mean_buffer >= 0 ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
        matrix, epsilon, flags);
    const dnnl::layer_normalization_forward::primitive_desc pd(desc, StepAttr(), c.engine());
    c.AddStep(node.name, dnnl::layer_normalization_forward(pd), std::move(args));
    c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
    const std::vector<int64_t> stats_dims = StatisticsDims(dims, axis);
    const memory::desc stats(stats_dims, memory::data_type::f32, PlainTag(dims.size()));
    if (mean_wanted) {
      c.DefineValue(node.outputs[1], stats_dims, c.AddAlias(stats, mean_buffer), QuantParams{});
    }
    if (inv_std_wanted) {
      // 1 / sqrt(variance + epsilon) = (variance + epsilon) ^ -0.5, as two
      // steps (oneDNN 2.6 runs an eltwise with post-ops on its reference
      // kernel only).
      auto eltwise = [&](dnnl::algorithm algorithm, float alpha, float beta, int from) {
        const int to = c.AddBuffer(row_stats);
        const dnnl::eltwise_forward::primitive_desc pd(
            dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, algorithm, row_stats,
                                        alpha, beta),
            StepAttr(), c.engine());
        c.AddStep(node.name, dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, from}, {DNNL_ARG_DST, to}});
        return to;
      };
      const int inv_std =
          eltwise(dnnl::algorithm::eltwise_pow, 1.0f, -0.5f,
                  eltwise(dnnl::algorithm::eltwise_linear, 1.0f, epsilon, variance_buffer));
      c.DefineValue(node.outputs[2], stats_dims, c.AddAlias(stats, inv_std), QuantParams{});
    }
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Shape>> LayerNormShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* dims = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (dims == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X"));
  }
  const int64_t rank = static_cast<int64_t>(dims->size());
  int64_t axis = IntAttr(node, "axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": axis ", IntAttr(node, "axis", -1), " of rank ", rank));
  }
  std::vector<Shape> out = {*dims};
  for (size_t i = 1; i < node.outputs.size(); ++i) out.push_back(StatisticsDims(*dims, axis));
  return out;
}

}  // namespace

void RegisterLayerNormOps(std::vector<OpDefinition>& ops) {
  ops.push_back(
      {.op_type = "LayerNormalization", .shape = LayerNormShape, .compile = CompileLayerNorm});
}

}  // namespace quantd::engine
