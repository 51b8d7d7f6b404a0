#ifndef QUANTD_ENGINE_QUANT_CALIBRATION_SAMPLES_H_
#define QUANTD_ENGINE_QUANT_CALIBRATION_SAMPLES_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace quantd::engine {

// Indices of the dataset samples calibration uses, in the order it feeds them:
// min(max_samples, num_samples) of them (max_samples 0: all). Without a seed,
// the first ones in order. With a seed, distinct samples drawn uniformly; the
// draw uses std::mt19937_64, whose output sequence the C++ standard fixes, and
// no std distribution (those differ between standard libraries), so a seed
// picks the same samples on every platform.
std::vector<int64_t> SelectCalibrationSamples(int64_t num_samples, int64_t max_samples,
                                              std::optional<uint64_t> seed);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_QUANT_CALIBRATION_SAMPLES_H_
