#include "engine/quant/calibration_samples.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <utility>

namespace quantd::engine {

std::vector<int64_t> SelectCalibrationSamples(int64_t num_samples, int64_t max_samples,
                                              std::optional<uint64_t> seed) {
  const int64_t count =
      std::max<int64_t>(0, max_samples == 0 ? num_samples : std::min(max_samples, num_samples));
  if (!seed) {
    std::vector<int64_t> first(count);
    std::iota(first.begin(), first.end(), 0);
    return first;
  }
  // Partial Fisher-Yates: position i takes a uniform pick among the samples
  // not yet taken. The index vector is as long as the dataset, which is
  // already in memory and far larger.
  std::vector<int64_t> order(std::max<int64_t>(num_samples, 0));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 random(*seed);
  for (int64_t i = 0; i < count; ++i) {
    // The modulo bias is below 2^-40 for any dataset that fits in memory.
    const int64_t pick =
        i + static_cast<int64_t>(random() % static_cast<uint64_t>(num_samples - i));
    std::swap(order[i], order[pick]);
  }
  order.resize(count);
  return order;
}

}  // namespace quantd::engine
