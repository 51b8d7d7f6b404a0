#include "engine/eval/accuracy.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Whether class `a` (score `sa`) ranks above class `b` (score `sb`): higher
// score first, ties to the lower index. NaN ranks below every number, so a
// model that emits NaN for the true class never gets credit for it.
bool RanksAbove(float sa, int64_t a, float sb, int64_t b) {
  const bool a_nan = std::isnan(sa);
  const bool b_nan = std::isnan(sb);
  if (a_nan != b_nan) return b_nan;
  if (!a_nan && sa != sb) return sa > sb;
  return a < b;
}

// 0 for the top-ranked class, 1 for the runner-up, ...; stops counting at
// `limit` since callers only ask "is it in the top k".
int64_t RankOfClass(const float* scores, int64_t num_classes, int64_t cls, int64_t limit) {
  int64_t rank = 0;
  for (int64_t j = 0; j < num_classes && rank < limit; ++j) {
    if (j != cls && RanksAbove(scores[j], j, scores[cls], cls)) ++rank;
  }
  return rank;
}

}  // namespace

absl::Status AccuracyCounter::Add(const Dataset& data, int64_t first, int64_t count,
                                  const std::vector<Tensor>& outputs) {
  if (!data.has_labels()) {
    return absl::InvalidArgumentError("accuracy needs a labelled dataset; this one has no labels");
  }
  if (static_cast<int64_t>(data.labels.size()) != data.num_samples) {
    return absl::InvalidArgumentError(absl::StrCat("dataset has ", data.labels.size(),
                                                   " labels for ", data.num_samples, " samples"));
  }
  if (outputs.empty()) {
    return absl::InvalidArgumentError("model produced no outputs; expected class scores");
  }
  const Tensor& scores = outputs[0];
  if (scores.shape.size() != 2 || scores.shape[0] != count || scores.shape[1] <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model output '", scores.name, "' has shape [", absl::StrJoin(scores.shape, ", "),
        "], expected class scores of shape [", count, ", classes]"));
  }
  const int64_t num_classes = scores.shape[1];
  if (static_cast<int64_t>(scores.data.size()) != count * num_classes) {
    return absl::InternalError(absl::StrCat("model output '", scores.name, "' holds ",
                                            scores.data.size(), " values, its shape needs ",
                                            count * num_classes));
  }
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = data.labels[first + i];
    if (label < 0 || label >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("sample ", first + i, ": label ", label,
                                                     " is outside the model's classes 0..",
                                                     num_classes - 1));
    }
    const int64_t rank = RankOfClass(&scores.data[i * num_classes], num_classes, label, 5);
    if (rank < 1) ++top1_hits_;
    if (rank < 5) ++top5_hits_;
  }
  samples_ += count;
  return absl::OkStatus();
}

AccuracyReport AccuracyCounter::Report() const {
  AccuracyReport report;
  report.num_samples = samples_;
  if (samples_ > 0) {
    report.top1 = static_cast<double>(top1_hits_) / static_cast<double>(samples_);
    report.top5 = static_cast<double>(top5_hits_) / static_cast<double>(samples_);
  }
  return report;
}

absl::StatusOr<AccuracyReport> EvaluateAccuracy(InferenceSession& session, const Dataset& data,
                                                int64_t batch_size) {
  if (!data.has_labels()) {
    return absl::InvalidArgumentError("accuracy needs a labelled dataset; this one has no labels");
  }
  if (static_cast<int64_t>(data.labels.size()) != data.num_samples) {
    return absl::InvalidArgumentError(absl::StrCat("dataset has ", data.labels.size(),
                                                   " labels for ", data.num_samples, " samples"));
  }
  if (batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("accuracy batch_size must be positive, got ", batch_size));
  }
  AccuracyCounter counter;
  for (int64_t start = 0; start < data.num_samples; start += batch_size) {
    const int64_t count = std::min(batch_size, data.num_samples - start);
    ASSIGN_OR_RETURN(const std::vector<Tensor> outputs, session.Run(data.Batch(start, count)));
    RETURN_IF_ERROR(counter.Add(data, start, count, outputs));
  }
  return counter.Report();
}

}  // namespace quantd::engine
