#ifndef QUANTD_SERVER_METRICS_INFER_STATISTICS_H_
#define QUANTD_SERVER_METRICS_INFER_STATISTICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace quantd::server {

// How often something happened and how long it took in total.
struct DurationStat {
  uint64_t count = 0;
  absl::Duration total;
  void Add(absl::Duration d) {
    ++count;
    total += d;
  }
};

// One model run of a given batch size (dynamic batching merges requests).
struct BatchStat {
  DurationStat compute_input;
  DurationStat compute_infer;
  DurationStat compute_output;
};

// Cumulative serving statistics of one model version, as Triton keeps them
// (its ModelStatistics RPC and nv_inference_* metrics): requests that
// succeeded and failed with their end-to-end time, and of the successful
// ones the time queued, preparing inputs, running, and building outputs.
struct VersionStatistics {
  std::string model;    // model id
  std::string version;  // "1", "2", ...
  absl::Time last_inference = absl::UnixEpoch();
  uint64_t inference_count = 0;  // samples of successful requests
  uint64_t execution_count = 0;  // model runs; requests merged into one run count once
  DurationStat success;
  DurationStat fail;
  DurationStat queue;
  DurationStat compute_input;
  DurationStat compute_infer;
  DurationStat compute_output;
  std::map<int64_t, BatchStat> batches;  // by rows of the run
};

// One finished inference call, from either API: what metrics and statistics
// record. `model` is the model id ("unknown" when the request named no
// stored model), `version` the version number served ("none" before one was
// chosen), `precision` "fp32", "int8" or "unspecified".
struct InferCall {
  std::string model = "unknown";
  std::string version = "none";
  std::string precision = "unspecified";
  absl::StatusCode code = absl::StatusCode::kUnknown;
  absl::Duration latency;       // request received to response ready
  absl::Duration queue_time;    // waiting for its (merged) run to start
  absl::Duration input_time;    // request tensors to engine tensors
  absl::Duration compute_time;  // running the model
  absl::Duration output_time;   // engine tensors to the response
  int64_t batch_size = 0;
  int64_t merged_batch_rows = 0;  // rows of the run it was merged into (>= batch_size)
  // The first call of its run: the one that counts the execution, so that
  // calls merged into one run add one execution between them.
  bool counts_execution = false;
  int64_t request_bytes = 0;   // serialized request
  int64_t response_bytes = 0;  // serialized response
};

// Thread-safe store of VersionStatistics, fed by every inference request.
// Requests that never reached a version (unknown model) are not counted,
// as Triton does not count requests for models it does not have.
class InferStatistics {
 public:
  void Record(const InferCall& call, absl::Time now = absl::Now());
  // Every version's statistics, ordered by model id and version; `model`
  // (and `version`) empty means all.
  std::vector<VersionStatistics> Snapshot(const std::string& model = "",
                                          const std::string& version = "") const;
  // Forgets a deleted version (version "") or every version of a model.
  void Remove(const std::string& model, const std::string& version = "");

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, VersionStatistics> versions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_METRICS_INFER_STATISTICS_H_
