#ifndef QUANTD_ENGINE_QUANT_CALIBRATION_RANGES_H_
#define QUANTD_ENGINE_QUANT_CALIBRATION_RANGES_H_

// Pure functions from calibration statistics (a histogram, or per-batch
// ranges) to the activation range stored in a CalibrationTable. They know
// nothing about sessions or datasets, so each is tested on synthetic data.
//
// Every threshold t is on |x| because the runtime quantizes symmetrically
// (see histogram.h); the returned range is the observed range clipped to
// [-t, t], so max(|min|, |max|) == t and the sign of min is preserved.
// Entropy and MSE compare distributions of the non-zero values only (see
// Histogram::zeros()); a percentile counts every value.

#include <cstdint>
#include <optional>

#include "engine/quant/calibration_table.h"
#include "engine/quant/histogram.h"

namespace quantd::engine {

// The finite min and max of `values`; nullopt when there is none.
std::optional<TensorRange> FiniteRange(const float* values, int64_t count);

// TensorRT's entropy calibration: the threshold t (a bin edge) minimizing
// KL(P || Q), where P is the histogram of |x| cut at t with the clipped mass
// folded into its last bin and Q is P's in-range part quantized to the number
// of levels `bits` gives (2^bits for non-negative values, else 2^(bits-1)) and
// expanded back. Thresholds below that many bins are not searched.
TensorRange EntropyRange(const Histogram& histogram, int bits);

// The |x| below which `percentile` percent of the values lie (interpolated
// within a bin); 100 gives the observed range. With `per_tail`, for
// asymmetric activations (a zero point spanning [min, max]): max is the value
// with (100 - percentile) percent of all values above it, and min the value
// with as many below it, so each tail is clipped on its own.
TensorRange PercentileRange(const Histogram& histogram, double percentile, bool per_tail = false);

// The threshold t (a bin edge) minimizing the expected squared error of
// quantizing the histogram on the runtime's grid for `bits` (2^bits - 1 steps
// over [0, t] for non-negative values, else 2^(bits-1) - 1 steps per side):
// clipping error for |x| > t plus rounding error inside, with the values
// taken as uniform within each bin.
TensorRange MseRange(const Histogram& histogram, int bits);

// Exponential moving average of per-batch ranges, as TensorFlow's
// quantization-aware training keeps it: the first batch sets the range, each
// later one moves it by range = decay * range + (1 - decay) * batch.
class EmaRange {
 public:
  explicit EmaRange(double decay) : decay_(decay) {}

  void Update(const TensorRange& batch);
  bool empty() const { return !initialized_; }
  TensorRange range() const { return {static_cast<float>(min_), static_cast<float>(max_)}; }

 private:
  double decay_;
  bool initialized_ = false;
  double min_ = 0.0;
  double max_ = 0.0;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_CALIBRATION_RANGES_H_
