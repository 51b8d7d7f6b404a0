#ifndef QUANTD_SERVER_JOBS_QUANTIZATION_JOB_H_
#define QUANTD_SERVER_JOBS_QUANTIZATION_JOB_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quantd/v1/quantd.pb.h"
#include "server/jobs/eta_estimator.h"
#include "server/jobs/job_tracker.h"
#include "server/metrics/metrics.h"
#include "server/serving/session_cache.h"
#include "server/storage/repository.h"

namespace quantd::server {

// Runs one QuantizeModel job: calibrate on the fp32 model with the request's
// method, build the int8 session with its quantization settings, report how
// much of it runs in int8, optionally evaluate both, time both (the measured
// speed-up; coverage and timing are skipped for simulated sessions), publish
// the next model version with those settings. Job progress is one fraction
// across all phases, so clients can draw a single bar; each update carries an ETA.
// Cancellation (CancelJob, or server shutdown) is checked during
// calibration, evaluation and benchmarking and between every phase.
class QuantizationJobRunner {
 public:
  // `idle_memory`: the budget of the sessions a job leaves in `sessions`
  // for Infer (null: uncapped).
  QuantizationJobRunner(Repository* repository, JobTracker* tracker, SessionCache* sessions,
                        Metrics* metrics,
                        std::shared_ptr<engine::IdleMemoryBudget> idle_memory = nullptr)
      : repository_(repository),
        tracker_(tracker),
        sessions_(sessions),
        metrics_(metrics),
        idle_memory_(std::move(idle_memory)) {}

  // Takes a QUEUED job to SUCCEEDED, FAILED or (after CancelJob) CANCELLED.
  // If `stopping` becomes true the job is abandoned at the next cancellation
  // point and put back to QUEUED so the next server start runs it again.
  // Never throws.
  void Run(const std::string& job_id, const std::atomic<bool>& stopping);

 private:
  struct Outcome {
    int32_t version = 0;
    int64_t published_unix_ms = 0;
    std::optional<v1::AccuracyReport> fp32_accuracy;
    std::optional<v1::AccuracyReport> int8_accuracy;
    std::optional<v1::SpeedupReport> speedup;  // unset for simulated versions
    bool simulated = false;
    std::optional<v1::OutputAgreement> agreement;
    std::vector<v1::LayerSqnr> layer_sqnr;  // graph order
    // Unset for simulated versions, and when it could not be measured.
    std::optional<v1::Int8Coverage> int8_coverage;
  };

  absl::StatusOr<Outcome> Execute(const v1::Job& job, const std::atomic<bool>& stopping,
                                  EtaEstimator& eta);
  // Terminal (or, on shutdown, initial) states; saved before watchers see them.
  void Requeue(const std::string& job_id);
  void MarkFailed(const std::string& job_id, const absl::Status& error);
  // In memory only: the row was saved with the version it published.
  void MarkSucceeded(const std::string& job_id, const Outcome& outcome);
  // The version's Prometheus gauges, unless it was deleted already.
  void SetVersionGauges(const std::string& model_id, const Outcome& outcome);
  // The job as SUCCEEDED with the outcome's reports.
  static void RecordSuccess(const Outcome& outcome, v1::Job& job);
  void MarkCancelled(const std::string& job_id);
  // Publishes phase, progress and ETA to watchers (memory only).
  void ReportProgress(const std::string& job_id, const std::string& phase, double progress,
                      EtaEstimator& eta);

  Repository* const repository_;
  JobTracker* const tracker_;
  SessionCache* const sessions_;
  Metrics* const metrics_;
  const std::shared_ptr<engine::IdleMemoryBudget> idle_memory_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_JOBS_QUANTIZATION_JOB_H_
