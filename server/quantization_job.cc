#include "server/quantization_job.h"

#include <algorithm>
#include <exception>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/eval/accuracy.h"
#include "engine/quant/minmax_calibrator.h"
#include "engine/status_macros.h"
#include "server/proto_conversion.h"
#include "server/session_loader.h"

namespace quantd::server {
namespace {

// Where each phase ends on the job's single progress scale.
struct ProgressPlan {
  double calibrated;
  double quantized;
  double fp32_evaluated;
  double int8_evaluated;
};

ProgressPlan PlanFor(bool evaluate) {
  if (evaluate) return {0.6, 0.65, 0.8, 0.95};
  return {0.9, 0.95, 0.95, 0.95};
}

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
                                           double progress) {
  LogIfError(tracker_->Update(
                 job_id,
                 [&](v1::Job& job) {
                   job.set_phase(phase);
                   job.set_progress(std::clamp(progress, 0.0, 1.0));
                 },
                 /*persist=*/false),
             job_id);
}

void QuantizationJobRunner::Run(const std::string& job_id, const std::atomic<bool>& stopping) {
  absl::StatusOr<v1::Job> job = tracker_->Get(job_id);
  // A job taken off the queue just as the server stops stays QUEUED for the next start.
  if (!job.ok() || job->state() != v1::QUEUED || stopping.load()) return;
  const absl::Time start = absl::Now();
  absl::Status status = tracker_->Update(
      job_id,
      [](v1::Job& j) {
        j.set_state(v1::RUNNING);
        j.set_started_unix_ms(NowUnixMs());
        j.set_phase("loading");
        j.set_progress(0);
      },
      /*persist=*/true);
  if (!status.ok()) {
    LogIfError(status, job_id);
    return;
  }

  absl::StatusOr<Outcome> outcome;
  try {
    outcome = Execute(*job, stopping);
  } catch (const std::exception& e) {
    outcome = absl::InternalError(absl::StrCat("job '", job_id, "' crashed: ", e.what()));
  }

  if (!outcome.ok() && stopping.load()) {
    Requeue(job_id);
  } else if (!outcome.ok()) {
    MarkFailed(job_id, outcome.status());
    metrics_->RecordJobFinished(false, absl::Now() - start);
  } else {
    MarkSucceeded(job_id, *outcome);
    metrics_->RecordJobFinished(true, absl::Now() - start);
    if (outcome->fp32_accuracy && outcome->int8_accuracy) {
      metrics_->SetModelTop1(job->model_id(), outcome->version, outcome->fp32_accuracy->top1(),
                             outcome->int8_accuracy->top1());
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
                   j.set_result_version(outcome.version);
                   j.set_finished_unix_ms(NowUnixMs());
                   if (outcome.fp32_accuracy) *j.mutable_fp32_accuracy() = *outcome.fp32_accuracy;
                   if (outcome.int8_accuracy) *j.mutable_int8_accuracy() = *outcome.int8_accuracy;
                 },
                 /*persist=*/true),
             job_id);
}

absl::StatusOr<QuantizationJobRunner::Outcome> QuantizationJobRunner::Execute(
    const v1::Job& job, const std::atomic<bool>& stopping) {
  const v1::QuantizeModelRequest& request = job.request();
  const std::string& model_id = request.model_id();
  const bool evaluate = !request.evaluation_dataset_id().empty();
  const ProgressPlan plan = PlanFor(evaluate);
  auto cancelled = [&] {
    return absl::CancelledError(absl::StrCat("job '", job.id(), "' stopped: server shutting down"));
  };

  ASSIGN_OR_RETURN(const std::string onnx, repository_->ReadModelFile(model_id, 1));
  ASSIGN_OR_RETURN(const engine::Dataset calibration_set,
                   repository_->LoadDataset(request.calibration_dataset_id()));
  ASSIGN_OR_RETURN(std::shared_ptr<engine::InferenceSession> fp32,
                   CreateSession(onnx, std::nullopt, absl::StrCat("model '", model_id, "'")));

  ReportProgress(job.id(), "calibrating", 0);
  engine::CalibrationOptions options;
  options.max_samples = request.num_calibration_samples();
  ASSIGN_OR_RETURN(
      engine::CalibrationTable table,
      engine::CalibrateMinMax(*fp32, calibration_set, options, [&](int64_t done, int64_t total) {
        const double fraction = total > 0 ? static_cast<double>(done) / total : 1.0;
        ReportProgress(job.id(), "calibrating", fraction * plan.calibrated);
        return !stopping.load();
      }));
  if (stopping.load()) return cancelled();

  ReportProgress(job.id(), "quantizing", plan.calibrated);
  const std::string calibration_text = table.Serialize();
  ASSIGN_OR_RETURN(
      std::shared_ptr<engine::InferenceSession> int8,
      CreateSession(onnx, std::move(table), absl::StrCat("int8 model '", model_id, "'")));

  Outcome outcome;
  if (evaluate) {
    if (stopping.load()) return cancelled();
    ReportProgress(job.id(), "evaluating", plan.quantized);
    const std::string& dataset_id = request.evaluation_dataset_id();
    ASSIGN_OR_RETURN(const engine::Dataset evaluation_set, repository_->LoadDataset(dataset_id));
    ASSIGN_OR_RETURN(const engine::AccuracyReport fp32_report,
                     engine::EvaluateAccuracy(*fp32, evaluation_set));
    outcome.fp32_accuracy = ToProtoAccuracy(fp32_report, dataset_id);
    if (stopping.load()) return cancelled();
    ReportProgress(job.id(), "evaluating", plan.fp32_evaluated);
    ASSIGN_OR_RETURN(const engine::AccuracyReport int8_report,
                     engine::EvaluateAccuracy(*int8, evaluation_set));
    outcome.int8_accuracy = ToProtoAccuracy(int8_report, dataset_id);
  }
  if (stopping.load()) return cancelled();

  ReportProgress(job.id(), "publishing", plan.int8_evaluated);
  ASSIGN_OR_RETURN(
      const v1::ModelVersion version,
      repository_->AddInt8Version(model_id, job.id(), calibration_text, outcome.int8_accuracy));
  outcome.version = version.version();
  // The first Infer on the new version should not pay for loading it again.
  sessions_->Insert(model_id, version.version(), std::move(int8));
  sessions_->Insert(model_id, 1, std::move(fp32));
  return outcome;
}

}  // namespace quantd::server
