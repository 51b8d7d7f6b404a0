#include "engine/quant/histogram.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

namespace quantd::engine {

Histogram::Histogram(int num_bins)
    : counts_(std::max(num_bins, 1), 0), negative_counts_(counts_.size(), 0) {}

void Histogram::Add(const float* values, int64_t count) {
  bool any = false;
  float lo = 0.0f;
  float hi = 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) continue;
    if (!any) {
      lo = hi = v;
      any = true;
    } else {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!any) return;
  if (total_ == 0) {
    range_ = {lo, hi};
  } else {
    range_ = {std::min(range_.min, lo), std::max(range_.max, hi)};
  }
  GrowToCover(std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi))));

  const int64_t last = num_bins() - 1;
  // While only zeros were seen, limit_ is 0 and every value is 0: bin 0.
  const double per_unit = limit_ > 0.0 ? static_cast<double>(num_bins()) / limit_ : 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) continue;
    const double bin = std::fabs(static_cast<double>(v)) * per_unit;
    // |v| == limit_ (and rounding just above it) belongs to the last bin.
    const auto index = static_cast<size_t>(std::min(static_cast<int64_t>(bin), last));
    ++counts_[index];
    negative_counts_[index] += v < 0.0f;
    ++total_;
    zeros_ += v == 0.0f;
  }
}

void Histogram::GrowToCover(double magnitude) {
  if (magnitude <= limit_) return;
  if (limit_ == 0.0) {
    // Everything counted so far is an exact zero, which stays in bin 0
    // whatever the limit becomes.
    limit_ = magnitude;
    return;
  }
  int64_t factor = 1;
  while (limit_ < magnitude) {
    limit_ *= 2.0;
    // Past num_bins the merge puts everything in bin 0; stop multiplying
    // before the factor could overflow.
    if (factor <= num_bins()) factor *= 2;
  }
  for (std::vector<int64_t>* counts : {&counts_, &negative_counts_}) {
    std::vector<int64_t> merged(counts->size(), 0);
    for (size_t old_bin = 0; old_bin < counts->size(); ++old_bin) {
      merged[old_bin / static_cast<size_t>(factor)] += (*counts)[old_bin];
    }
    *counts = std::move(merged);
  }
}

}  // namespace quantd::engine
