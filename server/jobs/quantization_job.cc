#include "server/jobs/quantization_job.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/eval/layer_sqnr.h"
#include "engine/eval/paired_evaluation.h"
#include "engine/export/calibration_json.h"
#include "engine/export/qdq_export.h"
#include "engine/quant/calibrator.h"
#include "engine/runtime/int8_coverage.h"
#include "engine/status_macros.h"
#include "server/jobs/speedup_benchmark.h"
#include "server/serving/session_loader.h"
#include "server/storage/mapped_file.h"
#include "server/wire/proto_conversion.h"
#include "server/wire/quantization_settings.h"

namespace quantd::server {
namespace {

// Where each phase ends on the job's single progress scale.
struct ProgressPlan {
  double calibrated;
  double quantized;
  double evaluated;  // accuracy (labelled evaluation sets) and agreement with fp32
  double compared;   // layer SQNR
  double benchmarked;
};

ProgressPlan PlanFor(bool evaluate) {
  if (evaluate) return {0.5, 0.55, 0.73, 0.85, 0.97};
  return {0.75, 0.8, 0.82, 0.88, 0.97};
}

// Evaluation runs fp32 and int8 side by side this many samples at a time,
// reporting progress (and checking for cancellation) after each batch.
constexpr int64_t kEvaluationBatchSamples = 64;
// Not the speed-up benchmark's batch size: a session measures how to split a
// batch size during its first runs of it (BatchSplitTuner), and evaluation
// alternates fp32 and int8 batches, so a split chosen there is measured with
// the other session's data in the caches, and the benchmark and every later
// Infer of that size inherit it. Evaluating at 32 (trial, 2026-12-06): 3 of
// 4 jobs on the Fashion-MNIST resnet timed fp32 at about half its usual
// throughput (a 5.3x "speed-up" instead of 2.9x); at 64, 2 of 12.
static_assert(kEvaluationBatchSamples != SpeedupOptions{}.throughput_batch_size,
              "evaluation must not tune the batch size the speed-up benchmark times");
// Without an evaluation set, agreement, layer SQNR and timing use this many
// calibration samples at most (timing needs one batch of 32).
constexpr int64_t kComparisonCalibrationSamples = 256;
// Layer SQNR observes every value, so it runs on fewer, smaller batches.
constexpr engine::LayerSqnrOptions kLayerSqnrOptions = {.max_samples = 256, .batch_size = 16};

// The first `count` samples of `data` (all of them if it has fewer).
engine::Dataset FirstSamples(const engine::Dataset& data, int64_t count) {
  engine::Dataset first;
  first.sample_shape = data.sample_shape;
  first.num_samples = std::min(count, data.num_samples);
  first.samples.assign(data.samples.begin(),
                       data.samples.begin() + first.num_samples * data.SampleSize());
  if (data.has_labels()) {
    first.labels.assign(data.labels.begin(), data.labels.begin() + first.num_samples);
  }
  return first;
}

// Per-layer SQNR of `quantized` against `same_graph_fp32` (an fp32 session
// with the quantized session's passes, so values pair by name) on `data`.
// `progress` gets the fraction done and returns false to stop (CANCELLED).
absl::StatusOr<std::vector<v1::LayerSqnr>> MeasureLayerSqnr(
    engine::InferenceSession& same_graph_fp32, engine::InferenceSession& quantized,
    const std::vector<engine::QuantizedLayer>& layers, const engine::Dataset& data,
    const std::function<bool(double)>& progress) {
  ASSIGN_OR_RETURN(const std::vector<engine::LayerSqnr> sqnr,
                   engine::MeasureLayerSqnr(same_graph_fp32, quantized, layers, data,
                                            kLayerSqnrOptions, [&](int64_t done, int64_t total) {
                                              return progress(static_cast<double>(done) / total);
                                            }));
  std::vector<v1::LayerSqnr> layer_sqnr;
  for (const engine::LayerSqnr& layer : sqnr) layer_sqnr.push_back(ToProtoLayerSqnr(layer));
  return layer_sqnr;
}

std::string ErrorText(const absl::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message());
}

// An fp32 session on the unfused (BatchNorm-folded unless kept) graph.
absl::StatusOr<std::shared_ptr<engine::InferenceSession>> CreateUnfusedSession(
    std::string_view onnx, bool fold_batch_norm, const std::string& model_id) {
  engine::SessionOptions options;
  options.fold_batch_norm = fold_batch_norm;
  options.fuse_operators = false;
  absl::StatusOr<std::unique_ptr<engine::InferenceSession>> session;
  try {
    session = engine::InferenceSession::Create(onnx, options);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("cannot load model '", model_id, "' for calibration: ", e.what()));
  }
  if (!session.ok()) return session.status();
  return std::shared_ptr<engine::InferenceSession>(std::move(*session));
}

// The version's exports for other runtimes: the calibration table as JSON
// always, the QDQ ONNX model when the version runs real int8 kernels. A model
// the QDQ export cannot write (UNIMPLEMENTED naming the op) still gets its
// int8 version, without the QDQ file; the reason goes to the log.
absl::StatusOr<VersionExports> MakeExports(std::string_view onnx,
                                           const engine::CalibrationTable& table,
                                           const engine::QuantizationOptions& quantization,
                                           bool fold_batch_norm, const std::string& job_id) {
  VersionExports exports;
  exports.calibration_json = engine::CalibrationTableToJson(table, quantization);
  if (!quantization.simulated()) {
    absl::StatusOr<std::string> qdq =
        // Signed activations as uint8 + 128: the same values, but ONNX
        // Runtime fuses every Conv/Add only when their types agree (0007).
        engine::ExportQdqModel(
            onnx, table, quantization,
            {.fold_batch_norm = fold_batch_norm, .signed_activations_as_uint8 = true});
    if (absl::IsUnimplemented(qdq.status())) {
      std::cerr << "quantd: job '" << job_id << "' publishes no QDQ model: " << qdq.status()
                << std::endl;
    } else if (!qdq.ok()) {
      return qdq.status();
    } else {
      exports.qdq_model = std::move(*qdq);
    }
  }
  return exports;
}

// How much of the int8 session runs in int8, on the Plan for one sample of
// `sample_shape` (the comparison set's: a model with dynamic height and
// width is measured at the size it is evaluated at). A failure here does
// not fail the job: the coverage describes the version, it is not part of
// it, and an int8 session that cannot run fails the job in evaluation
// anyway; a user would rather get the version without the report than lose
// it to a diagnostic. The reason goes to the log and the field stays unset.
std::optional<v1::Int8Coverage> MeasureInt8Coverage(engine::InferenceSession& int8,
                                                    const std::vector<int64_t>& sample_shape,
                                                    const std::string& job_id) {
  std::vector<int64_t> input_shape = {1};
  input_shape.insert(input_shape.end(), sample_shape.begin(), sample_shape.end());
  const absl::StatusOr<engine::Int8Coverage> coverage = int8.Coverage(input_shape);
  if (!coverage.ok()) {
    std::cerr << "quantd: job '" << job_id << "' reports no int8 coverage: " << coverage.status()
              << std::endl;
    return std::nullopt;
  }
  return ToProtoInt8Coverage(*coverage, input_shape);
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
    SetVersionGauges(job->model_id(), *outcome);
  }
}

void QuantizationJobRunner::SetVersionGauges(const std::string& model_id, const Outcome& outcome) {
  // The job is SUCCEEDED already: a client may have deleted the version.
  const auto version_exists = [&] { return repository_->HasVersion(model_id, outcome.version); };
  if (outcome.fp32_accuracy && outcome.int8_accuracy) {
    metrics_->SetModelTop1(model_id, outcome.version, outcome.fp32_accuracy->top1(),
                           outcome.int8_accuracy->top1(), version_exists);
  }
  if (outcome.speedup) {
    metrics_->SetModelSpeedup(model_id, outcome.version, outcome.speedup->throughput_speedup(),
                              version_exists);
  }
  if (outcome.int8_coverage) {
    metrics_->SetModelInt8MacShare(model_id, outcome.version, outcome.int8_coverage->mac_share(),
                                   version_exists);
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
                 job_id, [&](v1::Job& j) { RecordSuccess(outcome, j); }, /*persist=*/false),
             job_id);
}

void QuantizationJobRunner::RecordSuccess(const Outcome& outcome, v1::Job& j) {
  j.set_state(v1::SUCCEEDED);
  j.set_phase("done");
  j.set_progress(1);
  j.clear_eta_seconds();
  j.clear_error();
  j.set_result_version(outcome.version);
  j.set_finished_unix_ms(outcome.published_unix_ms);
  if (outcome.fp32_accuracy) *j.mutable_fp32_accuracy() = *outcome.fp32_accuracy;
  if (outcome.int8_accuracy) *j.mutable_int8_accuracy() = *outcome.int8_accuracy;
  if (outcome.speedup) *j.mutable_speedup() = *outcome.speedup;
  if (outcome.agreement) *j.mutable_agreement() = *outcome.agreement;
  j.clear_layer_sqnr();
  for (const v1::LayerSqnr& layer : outcome.layer_sqnr) *j.add_layer_sqnr() = layer;
  if (outcome.int8_coverage) *j.mutable_int8_coverage() = *outcome.int8_coverage;
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

  // Memory: each session holds its weights and activation buffers, and a
  // dataset is held whole as float32 (602 MB for 1,000 ImageNet-sized
  // samples), so each is created as late and released as early as its phase
  // allows: the calibration session and the calibration set are gone before
  // the fp32 and int8 sessions exist (only the first samples stay when they
  // stand in for an evaluation set), and the evaluation set loads last.
  ASSIGN_OR_RETURN(const MappedFile model_file, repository_->ReadModelFile(model_id, 1));
  const std::string_view onnx = model_file.bytes();
  std::optional<engine::Dataset> calibration_set;
  ASSIGN_OR_RETURN(calibration_set, repository_->LoadDataset(request.calibration_dataset_id()));
  if (stop_requested()) return stopped();

  // Calibration runs on the unfused graph, with BatchNorm folded as the
  // version will be: its values are a superset of the fused graph's (same
  // names, same numbers), so the int8 session finds every range it reads,
  // and the QDQ export also finds the values fusion hides (a Conv's output
  // before its residual Add). fp32 evaluation and timing keep the fused graph.
  const bool fold_batch_norm = !request.quantization().keep_batchnorm();
  ASSIGN_OR_RETURN(std::shared_ptr<engine::InferenceSession> calibration_session,
                   CreateUnfusedSession(onnx, fold_batch_norm, model_id));

  report("calibrating", 0);
  ASSIGN_OR_RETURN(
      engine::CalibrationTable table,
      engine::Calibrate(
          *calibration_session, *calibration_set, ToCalibrationOptions(request),
          [&](int64_t done, int64_t total) {
            const double fraction = total > 0 ? static_cast<double>(done) / total : 1.0;
            report("calibrating", fraction * plan.calibrated);
            return !stop_requested();
          },
          // Calibration method auto scores its candidates on the version's session.
          [&](const engine::CalibrationTable& candidate) {
            return CreateSession(onnx, candidate, "auto calibration candidate",
                                 ToQuantizationOptions(request.quantization()), fold_batch_norm);
          }));
  calibration_session.reset();
  // Without an evaluation set, agreement, layer SQNR and timing run on the
  // first calibration samples; the rest are not needed any more.
  std::optional<engine::Dataset> first_calibration_samples;
  if (!evaluate) {
    first_calibration_samples = FirstSamples(*calibration_set, kComparisonCalibrationSamples);
  }
  calibration_set.reset();
  if (stop_requested()) return stopped();

  report("quantizing", plan.calibrated);
  ASSIGN_OR_RETURN(std::shared_ptr<engine::InferenceSession> fp32,
                   CreateSession(onnx, std::nullopt, absl::StrCat("model '", model_id, "'"), {},
                                 true, idle_memory_));
  const std::string calibration_text = table.Serialize();
  ASSIGN_OR_RETURN(const VersionExports exports,
                   MakeExports(onnx, table, ToQuantizationOptions(request.quantization()),
                               fold_batch_norm, job.id()));
  ASSIGN_OR_RETURN(
      std::shared_ptr<engine::InferenceSession> int8,
      CreateSession(onnx, std::move(table), absl::StrCat("int8 model '", model_id, "'"),
                    ToQuantizationOptions(request.quantization()), fold_batch_norm, idle_memory_));
  if (stop_requested()) return stopped();

  Outcome outcome;
  std::optional<engine::Dataset> evaluation_set;
  if (evaluate) {
    ASSIGN_OR_RETURN(evaluation_set, repository_->LoadDataset(request.evaluation_dataset_id()));
  }
  const engine::Dataset& comparison_set =
      evaluation_set ? *evaluation_set : *first_calibration_samples;
  const std::string& comparison_dataset_id =
      evaluate ? request.evaluation_dataset_id() : request.calibration_dataset_id();
  // Simulated sessions run fp32 kernels throughout: there is no int8 to cover.
  outcome.simulated = int8->simulated();
  if (!outcome.simulated) {
    outcome.int8_coverage = MeasureInt8Coverage(*int8, comparison_set.sample_shape, job.id());
  }

  // One pass through both sessions gives accuracy (labelled evaluation sets;
  // never on calibration samples, which would flatter the version) and
  // agreement with fp32.
  report("evaluating", plan.quantized);
  ASSIGN_OR_RETURN(
      const engine::PairedEvaluation evaluation,
      engine::EvaluatePair(
          *fp32, *int8, comparison_set, kEvaluationBatchSamples, [&](int64_t done, int64_t total) {
            report("evaluating", plan.quantized + (plan.evaluated - plan.quantized) * done / total);
            return !stop_requested();
          }));
  if (evaluation_set && evaluation.reference_accuracy && evaluation.candidate_accuracy) {
    outcome.fp32_accuracy = ToProtoAccuracy(*evaluation.reference_accuracy, comparison_dataset_id);
    outcome.int8_accuracy = ToProtoAccuracy(*evaluation.candidate_accuracy, comparison_dataset_id);
  }
  outcome.agreement = ToProtoAgreement(evaluation.agreement, comparison_dataset_id);
  if (stop_requested()) return stopped();

  {
    // Per-layer SQNR pairs values by name, so its fp32 side runs the graph
    // the int8 session runs: the served fp32 session when BatchNorm is folded.
    std::shared_ptr<engine::InferenceSession> same_graph_fp32 = fp32;
    if (!fold_batch_norm) {
      ASSIGN_OR_RETURN(same_graph_fp32,
                       CreateSession(onnx, std::nullopt,
                                     absl::StrCat("model '", model_id, "' with BatchNorm kept"), {},
                                     /*fold_batch_norm=*/false));
    }
    ASSIGN_OR_RETURN(const std::vector<engine::QuantizedLayer> layers,
                     engine::ListQuantizedLayers(onnx, fold_batch_norm,
                                                 ToQuantizationOptions(request.quantization())));
    report("evaluating", plan.evaluated);
    ASSIGN_OR_RETURN(
        outcome.layer_sqnr,
        MeasureLayerSqnr(*same_graph_fp32, *int8, layers, comparison_set, [&](double done) {
          report("evaluating", plan.evaluated + (plan.compared - plan.evaluated) * done);
          return !stop_requested();
        }));
  }
  if (stop_requested()) return stopped();

  // A simulated session runs fp32 kernels on fake-quantized values: timing it
  // against fp32 would report a speed-up that no int8 kernel ever gave.
  if (!outcome.simulated) {
    // Timed on evaluation samples when there are some: those are what the
    // client cares about; otherwise on the first calibration samples.
    report("benchmarking", plan.compared);
    ASSIGN_OR_RETURN(
        v1::SpeedupReport speedup,
        MeasureSpeedup(*fp32, *int8, comparison_set, SpeedupOptions{}, [&](double done) {
          report("benchmarking", plan.compared + (plan.benchmarked - plan.compared) * done);
          return !stop_requested();
        }));
    speedup.set_dataset_id(comparison_dataset_id);
    outcome.speedup = std::move(speedup);
  }
  if (stop_requested()) return stopped();

  report("publishing", plan.benchmarked);
  // The job's final row commits with the version: a crash cannot leave a
  // published version whose job still reads RUNNING.
  ASSIGN_OR_RETURN(const v1::Job running, tracker_->Get(job.id()));
  auto ended_job = [&](const v1::ModelVersion& published) {
    outcome.version = published.version();
    outcome.published_unix_ms = published.created_unix_ms();
    v1::Job ended = running;
    RecordSuccess(outcome, ended);
    return ended;
  };
  ASSIGN_OR_RETURN(
      const v1::ModelVersion version,
      repository_->AddInt8Version(model_id, job.id(), calibration_text, outcome.int8_accuracy,
                                  outcome.speedup, WithDefaults(request), outcome.simulated,
                                  exports, outcome.int8_coverage, ended_job));
  // The first Infer on the new version should not pay for loading it again.
  sessions_->Insert(model_id, version.version(), std::move(int8));
  sessions_->Insert(model_id, 1, std::move(fp32));
  return outcome;
}

}  // namespace quantd::server
