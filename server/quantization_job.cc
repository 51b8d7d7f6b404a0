#include "server/quantization_job.h"

#include <algorithm>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/quant/calibrator.h"
#include "engine/status_macros.h"
#include "server/proto_conversion.h"
#include "server/quantization_settings.h"
#include "server/session_loader.h"
#include "server/sliced_evaluation.h"
#include "server/speedup_benchmark.h"

namespace quantd::server {
namespace {

// Where each phase ends on the job's single progress scale.
struct ProgressPlan {
  double calibrated;
  double quantized;
  double fp32_evaluated;
  double int8_evaluated;
  double benchmarked;
};

ProgressPlan PlanFor(bool evaluate) {
  if (evaluate) return {0.55, 0.6, 0.72, 0.84, 0.97};
  return {0.8, 0.85, 0.85, 0.85, 0.97};
}

// Evaluation reports progress (and can be cancelled) after each slice.
constexpr int64_t kEvaluationSliceSamples = 256;

std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

void LogIfError(const absl::Status& status, const std::string& job_id) {
  if (!status.ok()) {
    std::cerr << "quantd: cannot update job '" << job_id << "': " << status << std::endl;
  }
}

}  // namespace

void QuantizationJobRunner::ReportProgress(const std::string& job_id, const std::string& phase,
                                           double progress, EtaEstimator& eta) {
  const double clamped = std::clamp(progress, 0.0, 1.0);
  const std::optional<double> eta_seconds = eta.Update(phase, clamped, absl::Now());
  LogIfError(tracker_->Update(
                 job_id,
                 [&](v1::Job& job) {
                   job.set_phase(phase);
                   job.set_progress(clamped);
                   if (eta_seconds.has_value()) {
                     job.set_eta_seconds(*eta_seconds);
                   } else {
                     job.clear_eta_seconds();
                   }
                 },
                 /*persist=*/false),
             job_id);
}

void QuantizationJobRunner::Run(const std::string& job_id, const std::atomic<bool>& stopping) {
  absl::StatusOr<v1::Job> job = tracker_->Get(job_id);
  // A job taken off the queue just as the server stops stays QUEUED for the next start.
  if (!job.ok() || job->state() != v1::QUEUED || stopping.load()) return;
  const absl::Time start = absl::Now();
  // Conditional: CancelJob may have cancelled the job since it was read.
  absl::Status status = tracker_->UpdateIf(
      job_id, v1::QUEUED,
      [](v1::Job& j) {
        j.set_state(v1::RUNNING);
        j.set_started_unix_ms(NowUnixMs());
        j.set_phase("loading");
        j.set_progress(0);
      },
      /*persist=*/true);
  if (absl::IsFailedPrecondition(status)) return;
  if (!status.ok()) {
    LogIfError(status, job_id);
    return;
  }

  EtaEstimator eta;
  absl::StatusOr<Outcome> outcome;
  try {
    outcome = Execute(*job, stopping, eta);
  } catch (const std::exception& e) {
    outcome = absl::InternalError(absl::StrCat("job '", job_id, "' crashed: ", e.what()));
  }

  if (!outcome.ok() && tracker_->IsCancelRequested(job_id)) {
    MarkCancelled(job_id);
    metrics_->RecordJobFinished(JobOutcome::kCancelled, absl::Now() - start);
  } else if (!outcome.ok() && stopping.load()) {
    Requeue(job_id);
  } else if (!outcome.ok()) {
    MarkFailed(job_id, outcome.status());
    metrics_->RecordJobFinished(JobOutcome::kFailed, absl::Now() - start);
  } else {
    MarkSucceeded(job_id, *outcome);
    metrics_->RecordJobFinished(JobOutcome::kSucceeded, absl::Now() - start);
    if (outcome->fp32_accuracy && outcome->int8_accuracy) {
      metrics_->SetModelTop1(job->model_id(), outcome->version, outcome->fp32_accuracy->top1(),
                             outcome->int8_accuracy->top1());
    }
    if (outcome->speedup) {
      metrics_->SetModelSpeedup(job->model_id(), outcome->version,
                                outcome->speedup->throughput_speedup());
    }
  }
}

void QuantizationJobRunner::Requeue(const std::string& job_id) {
  LogIfError(tracker_->Update(
                 job_id,
                 [](v1::Job& j) {
                   j.set_state(v1::QUEUED);
                   j.set_phase("");
                   j.set_progress(0);
                   j.clear_eta_seconds();
                   j.set_started_unix_ms(0);
                 },
                 /*persist=*/true),
             job_id);
}

void QuantizationJobRunner::MarkFailed(const std::string& job_id, const absl::Status& error) {
  // The phase is kept: it tells the client where the job failed.
  LogIfError(tracker_->Update(
                 job_id,
                 [&](v1::Job& j) {
                   j.set_state(v1::FAILED);
                   j.set_error(ErrorText(error));
                   j.clear_eta_seconds();
                   j.set_finished_unix_ms(NowUnixMs());
                 },
                 /*persist=*/true),
             job_id);
}

void QuantizationJobRunner::MarkCancelled(const std::string& job_id) {
  // The phase is kept: it tells the client how far the job got.
  LogIfError(tracker_->Update(
                 job_id,
                 [&](v1::Job& j) {
                   j.set_state(v1::CANCELLED);
                   j.set_error(kCancelledJobError);
                   j.clear_eta_seconds();
                   j.set_finished_unix_ms(NowUnixMs());
                 },
                 /*persist=*/true),
             job_id);
}

void QuantizationJobRunner::MarkSucceeded(const std::string& job_id, const Outcome& outcome) {
  LogIfError(tracker_->Update(
                 job_id,
                 [&](v1::Job& j) {
                   j.set_state(v1::SUCCEEDED);
                   j.set_phase("done");
                   j.set_progress(1);
                   j.clear_eta_seconds();
                   j.set_result_version(outcome.version);
                   j.set_finished_unix_ms(NowUnixMs());
                   if (outcome.fp32_accuracy) *j.mutable_fp32_accuracy() = *outcome.fp32_accuracy;
                   if (outcome.int8_accuracy) *j.mutable_int8_accuracy() = *outcome.int8_accuracy;
                   if (outcome.speedup) *j.mutable_speedup() = *outcome.speedup;
                 },
                 /*persist=*/true),
             job_id);
}

absl::StatusOr<QuantizationJobRunner::Outcome> QuantizationJobRunner::Execute(
    const v1::Job& job, const std::atomic<bool>& stopping, EtaEstimator& eta) {
  const v1::QuantizeModelRequest& request = job.request();
  const std::string& model_id = request.model_id();
  const bool evaluate = !request.evaluation_dataset_id().empty();
  const ProgressPlan plan = PlanFor(evaluate);
  auto stop_requested = [&] { return stopping.load() || tracker_->IsCancelRequested(job.id()); };
  auto stopped = [&] { return absl::CancelledError(absl::StrCat("job '", job.id(), "' stopped")); };
  auto report = [&](const std::string& phase, double progress) {
    ReportProgress(job.id(), phase, progress, eta);
  };

  ASSIGN_OR_RETURN(const std::string onnx, repository_->ReadModelFile(model_id, 1));
  ASSIGN_OR_RETURN(const engine::Dataset calibration_set,
                   repository_->LoadDataset(request.calibration_dataset_id()));
  ASSIGN_OR_RETURN(std::shared_ptr<engine::InferenceSession> fp32,
                   CreateSession(onnx, std::nullopt, absl::StrCat("model '", model_id, "'")));
  if (stop_requested()) return stopped();

  // Unfolded BatchNorm leaves values the folded graph does not have (the
  // Conv's own output): those need ranges too, so calibrate on a session
  // with the same passes. fp32 evaluation and timing keep the folded graph.
  const bool fold_batch_norm = !request.quantization().keep_batchnorm();
  std::shared_ptr<engine::InferenceSession> calibration_session = fp32;
  if (!fold_batch_norm) {
    ASSIGN_OR_RETURN(calibration_session,
                     CreateSession(onnx, std::nullopt,
                                   absl::StrCat("model '", model_id, "' with BatchNorm kept"), {},
                                   /*fold_batch_norm=*/false));
  }

  report("calibrating", 0);
  ASSIGN_OR_RETURN(
      engine::CalibrationTable table,
      engine::Calibrate(*calibration_session, calibration_set, ToCalibrationOptions(request),
                        [&](int64_t done, int64_t total) {
                          const double fraction =
                              total > 0 ? static_cast<double>(done) / total : 1.0;
                          report("calibrating", fraction * plan.calibrated);
                          return !stop_requested();
                        }));
  if (stop_requested()) return stopped();

  report("quantizing", plan.calibrated);
  const std::string calibration_text = table.Serialize();
  ASSIGN_OR_RETURN(
      std::shared_ptr<engine::InferenceSession> int8,
      CreateSession(onnx, std::move(table), absl::StrCat("int8 model '", model_id, "'"),
                    ToQuantizationOptions(request.quantization()), fold_batch_norm));
  calibration_session.reset();
  if (stop_requested()) return stopped();

  Outcome outcome;
  std::optional<engine::Dataset> evaluation_set;
  if (evaluate) {
    const std::string& dataset_id = request.evaluation_dataset_id();
    ASSIGN_OR_RETURN(evaluation_set, repository_->LoadDataset(dataset_id));
    double from = plan.quantized;
    for (const auto& [session, end, result] :
         {std::tuple{fp32.get(), plan.fp32_evaluated, &outcome.fp32_accuracy},
          std::tuple{int8.get(), plan.int8_evaluated, &outcome.int8_accuracy}}) {
      const double to = end;
      report("evaluating", from);
      ASSIGN_OR_RETURN(const engine::AccuracyReport accuracy,
                       EvaluateAccuracyInSlices(*session, *evaluation_set, kEvaluationSliceSamples,
                                                [&](int64_t done, int64_t total) {
                                                  report("evaluating",
                                                         from + (to - from) * done / total);
                                                  return !stop_requested();
                                                }));
      *result = ToProtoAccuracy(accuracy, dataset_id);
      from = to;
    }
  }
  if (stop_requested()) return stopped();

  // A simulated session runs fp32 kernels on fake-quantized values: timing it
  // against fp32 would report a speed-up that no int8 kernel ever gave.
  outcome.simulated = int8->simulated();
  if (!outcome.simulated) {
    // Timed on evaluation samples when there are some: those are what the
    // client cares about; otherwise on the calibration samples.
    report("benchmarking", plan.int8_evaluated);
    const engine::Dataset& timing_set = evaluation_set ? *evaluation_set : calibration_set;
    ASSIGN_OR_RETURN(v1::SpeedupReport speedup,
                     MeasureSpeedup(*fp32, *int8, timing_set, SpeedupOptions{}, [&](double done) {
                       report("benchmarking", plan.int8_evaluated +
                                                  (plan.benchmarked - plan.int8_evaluated) * done);
                       return !stop_requested();
                     }));
    speedup.set_dataset_id(evaluate ? request.evaluation_dataset_id()
                                    : request.calibration_dataset_id());
    outcome.speedup = std::move(speedup);
  }
  if (stop_requested()) return stopped();

  report("publishing", plan.benchmarked);
  ASSIGN_OR_RETURN(
      const v1::ModelVersion version,
      repository_->AddInt8Version(model_id, job.id(), calibration_text, outcome.int8_accuracy,
                                  outcome.speedup, WithDefaults(request), outcome.simulated));
  outcome.version = version.version();
  // The first Infer on the new version should not pay for loading it again.
  sessions_->Insert(model_id, version.version(), std::move(int8));
  sessions_->Insert(model_id, 1, std::move(fp32));
  return outcome;
}

}  // namespace quantd::server
