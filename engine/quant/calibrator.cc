#include "engine/quant/calibrator.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/quant/calibration_ranges.h"
#include "engine/quant/calibration_samples.h"
#include "engine/quant/histogram.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

bool UsesHistogram(CalibrationMethod method) {
  return method == CalibrationMethod::kEntropy || method == CalibrationMethod::kPercentile ||
         method == CalibrationMethod::kMse;
}

// What calibration keeps about every observed value: only the state its
// method needs, each of bounded size. The session contract does not promise
// that the observer is called from one thread, so updates are locked; there
// is one call per value per batch, and binning a batch costs far less than
// computing it.
class ActivationStatistics {
 public:
  explicit ActivationStatistics(const CalibrationOptions& options) : options_(options) {}

  void Observe(const std::string& name, const Tensor& value) {
    const int64_t size = static_cast<int64_t>(value.data.size());
    if (UsesHistogram(options_.method)) {
      absl::MutexLock lock(&mutex_);
      auto it = histograms_.find(name);
      if (it == histograms_.end()) {
        it = histograms_.emplace(name, Histogram(options_.histogram_bins)).first;
      }
      it->second.Add(value.data.data(), size);
      return;
    }
    const std::optional<TensorRange> batch = FiniteRange(value.data.data(), size);
    if (!batch) return;
    absl::MutexLock lock(&mutex_);
    if (options_.method == CalibrationMethod::kEma) {
      emas_.try_emplace(name, options_.ema_decay).first->second.Update(*batch);
      return;
    }
    const auto [it, inserted] = ranges_.try_emplace(name, *batch);
    if (!inserted) {
      it->second.min = std::min(it->second.min, batch->min);
      it->second.max = std::max(it->second.max, batch->max);
    }
  }

  CalibrationTable Finish() {
    absl::MutexLock lock(&mutex_);
    CalibrationTable table;
    for (const auto& [name, ema] : emas_) {
      if (!ema.empty()) table.ranges[name] = ema.range();
    }
    for (const auto& [name, histogram] : histograms_) {
      // A value seen only as NaN/inf has no range, as with naive.
      if (histogram.empty()) continue;
      table.ranges[name] = HistogramRange(histogram);
    }
    if (!ranges_.empty()) table.ranges.merge(ranges_);
    return table;
  }

 private:
  TensorRange HistogramRange(const Histogram& histogram) const {
    switch (options_.method) {
      case CalibrationMethod::kEntropy:
        return EntropyRange(histogram, options_.activation_bits);
      case CalibrationMethod::kPercentile:
        return PercentileRange(histogram, options_.percentile, options_.percentile_per_tail);
      case CalibrationMethod::kMse:
        return MseRange(histogram, options_.activation_bits);
      default:
        return histogram.range();
    }
  }

  const CalibrationOptions options_;
  absl::Mutex mutex_;
  std::map<std::string, TensorRange> ranges_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, EmaRange> emas_ ABSL_GUARDED_BY(mutex_);
  std::map<std::string, Histogram> histograms_ ABSL_GUARDED_BY(mutex_);
};

// Samples order[start, start + count) as one batch tensor.
Tensor GatherBatch(const Dataset& data, const std::vector<int64_t>& order, int64_t start,
                   int64_t count) {
  Tensor batch;
  batch.shape.push_back(count);
  batch.shape.insert(batch.shape.end(), data.sample_shape.begin(), data.sample_shape.end());
  const int64_t sample_size = data.SampleSize();
  batch.data.resize(static_cast<size_t>(count * sample_size));
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(batch.data.data() + i * sample_size,
                data.samples.data() + order[start + i] * sample_size,
                static_cast<size_t>(sample_size) * sizeof(float));
  }
  return batch;
}

}  // namespace

absl::StatusOr<CalibrationTable> Calibrate(InferenceSession& fp32_session, const Dataset& data,
                                           const CalibrationOptions& options,
                                           const CalibrationProgress& progress) {
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError("calibration dataset is empty");
  }
  RETURN_IF_ERROR(ValidateCalibrationOptions(options));
  const std::vector<int64_t> order =
      SelectCalibrationSamples(data.num_samples, options.max_samples, options.sample_seed);
  const int64_t per_pass = static_cast<int64_t>(order.size());
  // More passes only help EMA, whose result depends on how many updates it
  // gets; min/max and histogram shapes would not change.
  const int passes = options.method == CalibrationMethod::kEma ? options.ema_passes : 1;
  const int64_t total = per_pass * passes;

  ActivationStatistics statistics(options);
  const ActivationObserver observer = [&statistics](const std::string& name, const Tensor& value) {
    statistics.Observe(name, value);
  };
  int64_t done = 0;
  for (int pass = 0; pass < passes; ++pass) {
    for (int64_t start = 0; start < per_pass;) {
      const int64_t count = std::min(options.batch_size, per_pass - start);
      // Unseeded selections are the dataset's first samples: no copy needed.
      const Tensor batch =
          options.sample_seed ? GatherBatch(data, order, start, count) : data.Batch(start, count);
      const absl::StatusOr<std::vector<Tensor>> outputs = fp32_session.RunObserved(batch, observer);
      if (!outputs.ok()) {
        return absl::Status(
            outputs.status().code(),
            absl::StrCat("calibration batch of samples [", start, ", ", start + count, ")",
                         options.sample_seed ? " of the seeded selection" : "", ": ",
                         outputs.status().message()));
      }
      start += count;
      done += count;
      if (progress && !progress(done, total)) {
        return absl::CancelledError(
            absl::StrCat("calibration cancelled after ", done, " of ", total, " samples"));
      }
    }
  }
  return statistics.Finish();
}

}  // namespace quantd::engine
