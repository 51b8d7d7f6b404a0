#ifndef QUANTD_ENGINE_QUANT_QUANTIZATION_OPTIONS_H_
#define QUANTD_ENGINE_QUANT_QUANTIZATION_OPTIONS_H_

// How an int8 session quantizes a model: weight granularity, bit widths,
// activation data type and symmetry, and which nodes stay fp32. Plain data;
// the runtime validates it (ValidateQuantizationOptions in
// engine/runtime/quantization_scheme.h) and applies it when compiling Plans.

#include <string>
#include <vector>

namespace quantd::engine {

enum class WeightGranularity {
  kPerTensor,   // one scale for the whole weight tensor
  kPerChannel,  // one scale per output channel
  kPerGroup,    // one scale per `group_size` consecutive output channels
};

enum class ActivationType {
  kAuto,   // unsigned when the calibrated range is non-negative (after ReLU), else signed
  kUint8,  // unsigned everywhere; signed ranges get a zero point (simulated sessions only)
  kInt8,   // signed everywhere
};

enum class WeightClipping {
  kMaxAbs,  // the scale maps max|w| to the largest level
  kMse,     // the clipping threshold minimizing the squared rounding error
};

struct QuantizationOptions {
  WeightGranularity weight_granularity = WeightGranularity::kPerChannel;
  // kPerGroup only: output channels sharing one scale (>= 1).
  int group_size = 0;
  // 2..8. Below 8 the session is simulated: an fp32 Plan whose weights and
  // quantized activations are rounded to this many bits (fake quantization).
  int weight_bits = 8;
  int activation_bits = 8;
  // kMse matters at low bit widths, where a few large weights would
  // otherwise leave the rest of their channel (or group) with few levels.
  WeightClipping weight_clipping = WeightClipping::kMaxAbs;
  ActivationType activation_type = ActivationType::kAuto;
  // false: unsigned activations with a zero point spanning [min, max]
  // (simulated sessions only, see docs/decisions/0006).
  bool symmetric_activations = true;
  // Simulate even at 8 bits (for comparing simulated with real int8).
  bool simulate = false;

  // Nodes that run fp32, with quantize/dequantize reorders at their
  // boundaries. Names and op types refer to the graph after the standard
  // passes (a Relu fused into its Conv is excluded through the Conv).
  std::vector<std::string> exclude_nodes = {};
  std::vector<std::string> exclude_op_types = {};
  bool exclude_first_conv = false;  // the first Conv in graph order
  bool exclude_last_fc = false;     // the last Gemm or MatMul in graph order

  // Whether sessions with these options run fake-quantized fp32 Plans.
  bool simulated() const { return simulate || weight_bits < 8 || activation_bits < 8; }
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_QUANTIZATION_OPTIONS_H_
