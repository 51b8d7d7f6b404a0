#include "engine/quant/minmax_calibrator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace quantd::engine {
namespace {

// Running ranges of every observed value. The session contract does not
// promise that the observer is called from one thread, so updates are locked;
// there is one call per value per batch, so the lock is cheap.
class RangeTracker {
 public:
  void Observe(const std::string& name, const Tensor& value) {
    float lo = 0.0f;
    float hi = 0.0f;
    bool any = false;
    for (float v : value.data) {
      // NaN and infinities carry no usable range; a scale derived from them
      // would quantize every finite value to the same level.
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
    absl::MutexLock lock(&mutex_);
    const auto [it, inserted] = ranges_.try_emplace(name, TensorRange{lo, hi});
    if (!inserted) {
      it->second.min = std::min(it->second.min, lo);
      it->second.max = std::max(it->second.max, hi);
    }
  }

  std::map<std::string, TensorRange> TakeRanges() {
    absl::MutexLock lock(&mutex_);
    return std::move(ranges_);
  }

 private:
  absl::Mutex mutex_;
  std::map<std::string, TensorRange> ranges_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace

absl::StatusOr<CalibrationTable> CalibrateMinMax(InferenceSession& fp32_session,
                                                 const Dataset& data,
                                                 const CalibrationOptions& options,
                                                 const CalibrationProgress& progress) {
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError("calibration dataset is empty");
  }
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration batch_size must be positive, got ", options.batch_size));
  }
  if (options.max_samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration max_samples must be 0 (all) or positive, got ", options.max_samples));
  }
  const int64_t total =
      options.max_samples == 0 ? data.num_samples : std::min(options.max_samples, data.num_samples);

  RangeTracker tracker;
  const ActivationObserver observer = [&tracker](const std::string& name, const Tensor& value) {
    tracker.Observe(name, value);
  };
  for (int64_t done = 0; done < total;) {
    const int64_t count = std::min(options.batch_size, total - done);
    const absl::StatusOr<std::vector<Tensor>> outputs =
        fp32_session.RunObserved(data.Batch(done, count), observer);
    if (!outputs.ok()) {
      return absl::Status(outputs.status().code(),
                          absl::StrCat("calibration batch of samples [", done, ", ", done + count,
                                       "): ", outputs.status().message()));
    }
    done += count;
    if (progress && !progress(done, total)) {
      return absl::CancelledError(
          absl::StrCat("calibration cancelled after ", done, " of ", total, " samples"));
    }
  }

  CalibrationTable table;
  table.ranges = tracker.TakeRanges();
  return table;
}

}  // namespace quantd::engine
