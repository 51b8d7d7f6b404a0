#ifndef QUANTD_ENGINE_QUANT_HISTOGRAM_H_
#define QUANTD_ENGINE_QUANT_HISTOGRAM_H_

#include <cstdint>
#include <vector>

#include "engine/quant/calibration_table.h"

namespace quantd::engine {

// Counts of |x| in a fixed number of equal bins over [0, limit], plus the
// exact extremes of x, for one activation over all calibration batches.
//
// Why |x|: the runtime quantizes activations symmetrically (u8 over [0, t]
// when the value is never negative, s8 over [-t, t] otherwise), so a clipping
// threshold is one number t on |x| and the sign only decides the level count.
//
// Why a growing range: a value's range is unknown before its first batch, and
// storing activations to find it first would make memory grow with the sample
// count. The first batch with a non-zero value sets `limit` to its largest
// |x|; a later batch that exceeds it doubles `limit` as often as needed and
// merges each group of 2^k adjacent bins into one. Because the new bin edges
// are a subset of the old ones, no count is redistributed or approximated,
// the bin count never changes, and memory stays O(num_bins) per value. The
// price: the data may end up occupying only just over half of the bins.
class Histogram {
 public:
  explicit Histogram(int num_bins);

  // Adds the finite entries of `values`; NaN and infinities carry no range.
  void Add(const float* values, int64_t count);
  void Add(const std::vector<float>& values) {
    Add(values.data(), static_cast<int64_t>(values.size()));
  }

  int num_bins() const { return static_cast<int>(counts_.size()); }
  // Upper edge of the last bin; 0 while only zeros (or nothing) were added.
  double limit() const { return limit_; }
  double bin_width() const { return limit_ / static_cast<double>(counts_.size()); }
  const std::vector<int64_t>& counts() const { return counts_; }
  // The part of counts() that came from negative values, bin by bin; the
  // rest came from x >= 0. Lets a percentile clip each tail separately.
  const std::vector<int64_t>& negative_counts() const { return negative_counts_; }
  int64_t total() const { return total_; }
  // How many of the values were exactly zero (they are also in bin 0). After
  // ReLU this is often half the values; zero is exact at any threshold, so
  // threshold searches leave these out (see calibration_ranges.h).
  int64_t zeros() const { return zeros_; }
  bool empty() const { return total_ == 0; }
  // Exact extremes of the finite values added; {0, 0} while empty.
  TensorRange range() const { return range_; }
  bool non_negative() const { return range_.min >= 0.0f; }

 private:
  void GrowToCover(double magnitude);

  std::vector<int64_t> counts_;
  std::vector<int64_t> negative_counts_;
  double limit_ = 0.0;
  int64_t total_ = 0;
  int64_t zeros_ = 0;
  TensorRange range_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_HISTOGRAM_H_
