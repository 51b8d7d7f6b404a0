#include "engine/quant/calibrator.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
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
         method == CalibrationMethod::kMse || method == CalibrationMethod::kAuto;
}

// The histogram methods kAuto chooses among, in order of preference on ties.
constexpr CalibrationMethod kAutoCandidates[] = {
    CalibrationMethod::kEntropy, CalibrationMethod::kMse, CalibrationMethod::kPercentile};

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

  // The table for `method`: options.method, or for kAuto one of its
  // candidates (the histograms serve every histogram method).
  CalibrationTable Finish(CalibrationMethod method) {
    absl::MutexLock lock(&mutex_);
    CalibrationTable table;
    for (const auto& [name, ema] : emas_) {
      if (!ema.empty()) table.ranges[name] = ema.range();
    }
    for (const auto& [name, histogram] : histograms_) {
      // A value seen only as NaN/inf has no range, as with naive.
      if (histogram.empty()) continue;
      table.ranges[name] = HistogramRange(histogram, method);
    }
    // Copied, not merged: Finish may be called once per kAuto candidate.
    for (const auto& [name, range] : ranges_) table.ranges.emplace(name, range);
    return table;
  }

 private:
  TensorRange HistogramRange(const Histogram& histogram, CalibrationMethod method) const {
    switch (method) {
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

// How far a quantized session's outputs are from fp32's (summed squared
// difference) and how often its top-1 matches fp32's, on the scoring samples.
// The error decides: on a few hundred samples top-1 agreement barely tells
// candidates apart (mobilenetv2 at 4 bits: entropy and MSE ranges agree about
// equally often, MSE is 1.5 points better on the test set), the error does.
struct Agreement {
  int64_t matches = 0;
  double squared_error = 0.0;

  bool BetterThan(const Agreement& other) const {
    if (squared_error != other.squared_error) return squared_error < other.squared_error;
    return matches > other.matches;
  }
};

// Index of the largest value in each of `tensor`'s rows (dimension 0).
std::vector<int64_t> RowArgmax(const Tensor& tensor) {
  const int64_t rows = tensor.shape.empty() ? 1 : tensor.shape[0];
  std::vector<int64_t> argmax(static_cast<size_t>(rows), 0);
  if (rows <= 0) return argmax;
  const int64_t row_size = static_cast<int64_t>(tensor.data.size()) / rows;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = tensor.data.data() + r * row_size;
    argmax[r] = std::max_element(row, row + row_size) - row;
  }
  return argmax;
}

// The samples kAuto scores candidates on, in batches, with fp32's first
// output for each batch. Inputs are gathered again for every candidate rather
// than kept: on ImageNet-sized samples they would outweigh everything else
// calibration holds.
struct ScoringSet {
  std::function<Tensor(size_t batch)> input;
  std::vector<Tensor> fp32_outputs;
};

absl::StatusOr<Agreement> ScoreCandidate(InferenceSession& session, const ScoringSet& scoring,
                                         const std::function<bool(int64_t)>& batch_done) {
  Agreement agreement;
  for (size_t b = 0; b < scoring.fp32_outputs.size(); ++b) {
    const Tensor input = scoring.input(b);
    ASSIGN_OR_RETURN(const std::vector<Tensor> outputs, session.Run(input));
    const Tensor& reference = scoring.fp32_outputs[b];
    if (outputs.empty() || outputs[0].data.size() != reference.data.size()) {
      return absl::InternalError("quantized session's first output differs in size from fp32's");
    }
    const std::vector<int64_t> got = RowArgmax(outputs[0]);
    const std::vector<int64_t> want = RowArgmax(reference);
    for (size_t i = 0; i < got.size(); ++i) agreement.matches += got[i] == want[i] ? 1 : 0;
    for (size_t i = 0; i < reference.data.size(); ++i) {
      const double d = static_cast<double>(outputs[0].data[i]) - reference.data[i];
      agreement.squared_error += d * d;
    }
    if (!batch_done(input.shape[0])) {
      return absl::CancelledError("calibration cancelled while scoring candidate ranges");
    }
  }
  return agreement;
}

}  // namespace

absl::StatusOr<CalibrationTable> Calibrate(InferenceSession& fp32_session, const Dataset& data,
                                           const CalibrationOptions& options,
                                           const CalibrationProgress& progress,
                                           const QuantizedSessionFactory& quantized_session,
                                           CalibrationMethod* chosen) {
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError("calibration dataset is empty");
  }
  RETURN_IF_ERROR(ValidateCalibrationOptions(options));
  const bool automatic = options.method == CalibrationMethod::kAuto;
  if (automatic && !quantized_session) {
    return absl::InvalidArgumentError(
        "calibration method auto needs a quantized session to score its candidates");
  }
  const std::vector<int64_t> order =
      SelectCalibrationSamples(data.num_samples, options.max_samples, options.sample_seed);
  const int64_t per_pass = static_cast<int64_t>(order.size());
  // More passes only help EMA, whose result depends on how many updates it
  // gets; min/max and histogram shapes would not change.
  const int passes = options.method == CalibrationMethod::kEma ? options.ema_passes : 1;
  const int64_t scored = automatic ? std::min(per_pass, kAutoScoringSamples) : 0;
  const int64_t total =
      per_pass * passes + scored * static_cast<int64_t>(std::size(kAutoCandidates));

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
  if (!automatic) {
    if (chosen != nullptr) *chosen = options.method;
    return statistics.Finish(options.method);
  }

  // Scoring reruns the first `scored` selected samples: cheap next to
  // calibration, and fp32 top-1 needs no labels.
  ScoringSet scoring;
  scoring.input = [&](size_t b) {
    const int64_t start = static_cast<int64_t>(b) * options.batch_size;
    const int64_t count = std::min(options.batch_size, scored - start);
    return options.sample_seed ? GatherBatch(data, order, start, count) : data.Batch(start, count);
  };
  for (size_t b = 0; static_cast<int64_t>(b) * options.batch_size < scored; ++b) {
    ASSIGN_OR_RETURN(std::vector<Tensor> outputs, fp32_session.Run(scoring.input(b)));
    if (outputs.empty()) return absl::InternalError("fp32 session returned no outputs");
    scoring.fp32_outputs.push_back(std::move(outputs[0]));
  }
  const auto batch_done = [&](int64_t count) {
    done += count;
    return !progress || progress(done, total);
  };
  std::optional<CalibrationTable> best_table;
  std::optional<Agreement> best;
  CalibrationMethod best_method = kAutoCandidates[0];
  for (const CalibrationMethod candidate : kAutoCandidates) {
    CalibrationTable table = statistics.Finish(candidate);
    absl::StatusOr<std::shared_ptr<InferenceSession>> session = quantized_session(table);
    if (!session.ok()) {
      return absl::Status(
          session.status().code(),
          absl::StrCat("quantizing with ", std::string(CalibrationMethodName(candidate)),
                       " ranges: ", session.status().message()));
    }
    ASSIGN_OR_RETURN(const Agreement agreement, ScoreCandidate(**session, scoring, batch_done));
    if (!best || agreement.BetterThan(*best)) {
      best = agreement;
      best_table = std::move(table);
      best_method = candidate;
    }
  }
  if (chosen != nullptr) *chosen = best_method;
  return std::move(*best_table);
}

}  // namespace quantd::engine
