#include "server/metrics/infer_statistics.h"

namespace quantd::server {

void InferStatistics::Record(const InferCall& outcome, absl::Time now) {
  if (outcome.model == "unknown" || outcome.version == "none") return;
  absl::MutexLock lock(&mu_);
  VersionStatistics& stats = versions_[{outcome.model, outcome.version}];
  stats.model = outcome.model;
  stats.version = outcome.version;
  if (outcome.code != absl::StatusCode::kOk) {
    stats.fail.Add(outcome.latency);
    return;
  }
  stats.last_inference = now;
  stats.inference_count += static_cast<uint64_t>(outcome.batch_size);
  stats.success.Add(outcome.latency);
  stats.queue.Add(outcome.queue_time);
  stats.compute_input.Add(outcome.input_time);
  stats.compute_infer.Add(outcome.compute_time);
  stats.compute_output.Add(outcome.output_time);
  if (outcome.counts_execution) {
    ++stats.execution_count;
    // A run's input and output times are those of the call that led it.
    BatchStat& batch = stats.batches[outcome.merged_batch_rows];
    batch.compute_input.Add(outcome.input_time);
    batch.compute_infer.Add(outcome.compute_time);
    batch.compute_output.Add(outcome.output_time);
  }
}

std::vector<VersionStatistics> InferStatistics::Snapshot(const std::string& model,
                                                         const std::string& version) const {
  absl::MutexLock lock(&mu_);
  std::vector<VersionStatistics> result;
  for (const auto& [key, stats] : versions_) {
    if (!model.empty() && key.first != model) continue;
    if (!version.empty() && key.second != version) continue;
    result.push_back(stats);
  }
  return result;
}

void InferStatistics::Remove(const std::string& model, const std::string& version) {
  absl::MutexLock lock(&mu_);
  std::erase_if(versions_, [&](const auto& entry) {
    return entry.first.first == model && (version.empty() || entry.first.second == version);
  });
}

}  // namespace quantd::server
