#include "engine/runtime/quantization_scheme.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Ops whose int8 form the runtime implements; only these can be excluded.
constexpr const char* kQuantizedOps[] = {"Conv",        "Gemm",          "MatMul",
                                         "MaxPool",     "AveragePool",   "GlobalAveragePool"};

bool IsQuantizedOp(const std::string& op_type) {
  return std::find(std::begin(kQuantizedOps), std::end(kQuantizedOps), op_type) !=
         std::end(kQuantizedOps);
}

// The threshold t <= max_abs minimizing sum (w - q_t(w))^2 over
// weights[begin, end), where q_t rounds onto `levels` steps of t / levels
// each side of 0 and clips. A grid search over t: fine enough for weights.
float MseThreshold(const std::vector<float>& weights, int64_t begin, int64_t end, float max_abs,
                   float levels) {
  float best_t = max_abs;
  double best_error = -1.0;
  for (int i = 0; i < 80; ++i) {
    const float t = max_abs * (1.0f - 0.01f * static_cast<float>(i));
    const float scale = levels / t;
    double error = 0.0;
    for (int64_t k = begin; k < end; ++k) {
      const float q = std::clamp(std::nearbyint(weights[k] * scale), -levels, levels) / scale;
      error += static_cast<double>(q - weights[k]) * (q - weights[k]);
    }
    if (best_error < 0.0 || error < best_error) {
      best_error = error;
      best_t = t;
    }
  }
  return best_t;
}

absl::Status Invalid(const std::string& field, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat("quantization.", field, " ", message));
}

absl::Status CheckBits(const std::string& field, int bits) {
  if (bits < 2 || bits > 8) return Invalid(field, absl::StrCat("must be in 2..8, got ", bits));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateQuantizationOptions(const QuantizationOptions& options) {
  RETURN_IF_ERROR(CheckBits("weight_bits", options.weight_bits));
  RETURN_IF_ERROR(CheckBits("activation_bits", options.activation_bits));
  if (options.group_size < 0) {
    return Invalid("group_size", absl::StrCat("must not be negative, got ", options.group_size));
  }
  if (options.weight_granularity == WeightGranularity::kPerGroup && options.group_size < 1) {
    return Invalid("group_size", absl::StrCat("must be >= 1 with per-group weights, got ",
                                              options.group_size));
  }
  if (!options.symmetric_activations && options.activation_type == ActivationType::kInt8) {
    return Invalid("activation_type",
                   "kInt8 is symmetric; asymmetric activations are unsigned with a zero point");
  }
  // Real int8 Plans have no zero points: oneDNN 2.6's int8 inner product has
  // no kernel with zero points at all (docs/decisions/0006).
  if (!options.simulated()) {
    if (!options.symmetric_activations) {
      return Invalid("symmetric_activations",
                     "false needs activation zero points, which real int8 sessions do not support "
                     "on oneDNN 2.6 (no int8 inner product with zero points); use a simulated "
                     "session (simulate, or fewer than 8 bits)");
    }
    if (options.activation_type == ActivationType::kUint8) {
      return Invalid("activation_type",
                     "kUint8 gives signed activations a zero point, which real int8 sessions do "
                     "not support on oneDNN 2.6; use kAuto, kInt8 or a simulated session");
    }
  }
  for (const std::string& op_type : options.exclude_op_types) {
    if (!IsQuantizedOp(op_type)) {
      return Invalid("exclude_op_types",
                     absl::StrCat("'", op_type, "' is not an op the runtime quantizes (",
                                  absl::StrJoin(kQuantizedOps, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateQuantizationOptions(const QuantizationOptions& options, const Graph& graph) {
  RETURN_IF_ERROR(ValidateQuantizationOptions(options));
  for (const std::string& name : options.exclude_nodes) {
    const bool found = std::any_of(graph.nodes.begin(), graph.nodes.end(),
                                   [&](const Node& node) { return node.name == name; });
    if (!found) {
      return Invalid("exclude_nodes",
                     absl::StrCat("names '", name,
                                  "', which is no node of the graph after the standard passes "
                                  "(a fused activation is excluded through its producer)"));
    }
  }
  return absl::OkStatus();
}

std::set<std::string> ExcludedNodes(const Graph& graph, const QuantizationOptions& options) {
  std::set<std::string> excluded(options.exclude_nodes.begin(), options.exclude_nodes.end());
  const Node* first_conv = nullptr;
  const Node* last_fc = nullptr;
  for (const Node& node : graph.nodes) {
    if (std::find(options.exclude_op_types.begin(), options.exclude_op_types.end(),
                  node.op_type) != options.exclude_op_types.end()) {
      excluded.insert(node.name);
    }
    if (node.op_type == "Conv" && first_conv == nullptr) first_conv = &node;
    if (node.op_type == "Gemm" || node.op_type == "MatMul") last_fc = &node;
  }
  if (options.exclude_first_conv && first_conv != nullptr) excluded.insert(first_conv->name);
  if (options.exclude_last_fc && last_fc != nullptr) excluded.insert(last_fc->name);
  return excluded;
}

ActivationGrid ActivationGridForRange(const TensorRange& range, const QuantizationOptions& options) {
  const int bits = options.activation_bits;
  const int32_t unsigned_max = (1 << bits) - 1;
  const int32_t signed_max = (1 << (bits - 1)) - 1;
  ActivationGrid grid;
  grid.qmin = 0;
  grid.qmax = unsigned_max;
  if (!options.symmetric_activations) {
    // The grid must hold 0 exactly (ReLU outputs, padding).
    const float lo = std::min(range.min, 0.0f);
    const float hi = std::max(range.max, 0.0f);
    grid.scale = hi > lo ? static_cast<float>(unsigned_max) / (hi - lo) : 1.0f;
    grid.zero_point = std::clamp(static_cast<int32_t>(std::nearbyint(-lo * grid.scale)), 0,
                                 unsigned_max);
    return grid;
  }
  if (range.min >= 0.0f && options.activation_type != ActivationType::kInt8) {
    grid.scale = range.max > 0.0f ? static_cast<float>(unsigned_max) / range.max : 1.0f;
    return grid;
  }
  const float m = std::max(std::fabs(range.min), std::fabs(range.max));
  grid.scale = m > 0.0f ? static_cast<float>(signed_max) / m : 1.0f;
  if (options.activation_type == ActivationType::kUint8) {
    grid.zero_point = signed_max + 1;
  } else {
    grid.qmin = -signed_max;
    grid.qmax = signed_max;
  }
  return grid;
}

std::vector<float> WeightScales(const std::vector<float>& weights, int64_t channels,
                                const QuantizationOptions& options) {
  const int64_t per_channel = static_cast<int64_t>(weights.size()) / channels;
  std::vector<float> max_abs(channels, 0.0f);
  for (int64_t oc = 0; oc < channels; ++oc) {
    for (int64_t i = 0; i < per_channel; ++i) {
      max_abs[oc] = std::max(max_abs[oc], std::fabs(weights[oc * per_channel + i]));
    }
  }
  int64_t group = 1;
  if (options.weight_granularity == WeightGranularity::kPerTensor) group = channels;
  if (options.weight_granularity == WeightGranularity::kPerGroup) group = options.group_size;
  const float levels = static_cast<float>((1 << (options.weight_bits - 1)) - 1);
  std::vector<float> scales(channels);
  for (int64_t begin = 0; begin < channels; begin += group) {
    const int64_t end = std::min(channels, begin + group);
    float m = *std::max_element(max_abs.begin() + begin, max_abs.begin() + end);
    if (options.weight_clipping == WeightClipping::kMse && m > 0.0f) {
      m = MseThreshold(weights, begin * per_channel, end * per_channel, m, levels);
    }
    std::fill(scales.begin() + begin, scales.begin() + end, m > 0.0f ? levels / m : 1.0f);
  }
  return scales;
}

void FakeQuantizeWeights(std::vector<float>& weights, const std::vector<float>& scales, int bits) {
  const int64_t channels = static_cast<int64_t>(scales.size());
  const int64_t per_channel = static_cast<int64_t>(weights.size()) / channels;
  const float levels = static_cast<float>((1 << (bits - 1)) - 1);
  for (int64_t oc = 0; oc < channels; ++oc) {
    for (int64_t i = 0; i < per_channel; ++i) {
      float& w = weights[oc * per_channel + i];
      w = std::clamp(std::nearbyint(w * scales[oc]), -levels, levels) / scales[oc];
    }
  }
}

}  // namespace quantd::engine
