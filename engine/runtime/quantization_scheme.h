#ifndef QUANTD_ENGINE_RUNTIME_QUANTIZATION_SCHEME_H_
#define QUANTD_ENGINE_RUNTIME_QUANTIZATION_SCHEME_H_

// QuantizationOptions applied to a graph: validation, the nodes that stay
// fp32, the integer grid of each activation and the weight scales. Free of
// oneDNN so it can be checked on its own; the op compile functions turn these
// numbers into oneDNN attributes (real int8) or fake quantization (simulated).

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/graph/graph.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"

namespace quantd::engine {

// INVALID_ARGUMENT naming the offending field ("quantization.weight_bits ...").
// `simulated` sessions accept zero points; real int8 sessions do not.
absl::Status ValidateQuantizationOptions(const QuantizationOptions& options);
// Also checks that every excluded node name exists in `graph` (post-pass).
absl::Status ValidateQuantizationOptions(const QuantizationOptions& options, const Graph& graph);

// Names of the nodes that run fp32.
std::set<std::string> ExcludedNodes(const Graph& graph, const QuantizationOptions& options);

// The integer grid of a quantized activation:
// x_int = clamp(round(x_real * scale) + zero_point, qmin, qmax).
struct ActivationGrid {
  float scale = 1.0f;
  int32_t zero_point = 0;
  int32_t qmin = 0;
  int32_t qmax = 255;
  bool is_signed() const { return qmin < 0; }
};

// The grid for a calibrated range: scale = levels / range for
// `activation_bits`; with default options u8 255/max (min >= 0) or s8
// 127/max|x|, as the int8 runtime has always done.
ActivationGrid ActivationGridForRange(const TensorRange& range, const QuantizationOptions& options);

// Symmetric weight multipliers (w_int = w * scale), one per output channel of
// `weights` (rows of `channels` equal parts), equal across the tensor
// (kPerTensor) or within groups of `group_size` channels (kPerGroup). With
// WeightClipping::kMse the largest level maps to the threshold with the least
// squared rounding error instead of max|w|.
std::vector<float> WeightScales(const std::vector<float>& weights, int64_t channels,
                                const QuantizationOptions& options);

// Rounds `weights` to the grid of `scales` (one per row) with `bits`-bit
// symmetric integers and maps them back to real values.
void FakeQuantizeWeights(std::vector<float>& weights, const std::vector<float>& scales, int bits);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_QUANTIZATION_SCHEME_H_
