// quantize, get-job, watch, list-jobs, cancel.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/list_pages.h"
#include "client/proto_printer.h"
#include "client/rpc_error.h"

namespace quantd::client {
namespace {

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

// Shows progress on stderr: rewritten in place on a terminal, one line per
// phase or 10% step otherwise (logs, pipes).
class ProgressLine {
 public:
  ProgressLine() : interactive_(isatty(STDERR_FILENO) != 0) {}

  void Show(const v1::Job& job) {
    const std::string line = FormatJobProgress(job);
    if (interactive_) {
      std::fprintf(stderr, "\r%-70s", line.c_str());
      std::fflush(stderr);
      shown_ = true;
      return;
    }
    const std::string key =
        absl::StrCat(job.state(), "/", job.phase(), "/", static_cast<int>(job.progress() * 10), "/",
                     job.cancel_requested());
    if (key != last_key_) std::fprintf(stderr, "%s\n", line.c_str());
    last_key_ = key;
  }

  void Finish() {
    if (interactive_ && shown_) std::fprintf(stderr, "\n");
  }

 private:
  bool interactive_;
  bool shown_ = false;
  std::string last_key_;
};

// The job as get-job and watch print it: --all_layers lists every layer's
// SQNR and every fp32 island, not only the 10 worst and largest.
std::string FormatJobFor(const v1::Job& job, const ClientOptions& options) {
  return options.all_layers ? FormatJob(job, 0, 0) : FormatJob(job);
}

// Streams the job until it ends, prints it, and maps FAILED to exit code 1.
// `initial`, when set, is the job as QuantizeModel returned it.
int WatchUntilDone(const CommandContext& ctx, const std::string& job_id,
                   const v1::Job* initial = nullptr) {
  ProgressLine progress;
  if (initial != nullptr) progress.Show(*initial);
  grpc::ClientContext context;
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto reader = ctx.stub.WatchJob(&context, request);
  v1::Job job;
  v1::Job last;
  bool any = false;
  while (reader->Read(&job)) {
    progress.Show(job);
    last = job;
    any = true;
  }
  progress.Finish();
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError("watch", status, ctx.options.server);
  if (!any || !IsTerminal(last.state())) {
    std::fprintf(stderr,
                 "quantctl: watch ended before job %s finished; run `quantctl get-job %s`\n",
                 job_id.c_str(), job_id.c_str());
    return kExitFailure;
  }
  std::printf("%s", FormatJobFor(last, ctx.options).c_str());
  if (last.state() == v1::FAILED) {
    std::fprintf(stderr, "quantctl: job %s FAILED: %s\n", last.id().c_str(), last.error().c_str());
    return kExitFailure;
  }
  if (last.state() == v1::CANCELLED) {
    std::fprintf(stderr,
                 "quantctl: job %s was CANCELLED; start a new one with `quantctl quantize`\n",
                 last.id().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

// Parses the quantization flags into `request`; false (after reporting a
// usage error) if one does not parse. The server validates the values.
bool ParseKnobs(const ClientOptions& o, v1::QuantizeModelRequest& request) {
  const auto bad = [](const std::string& flag, const std::string& value, const char* allowed) {
    ReportUsageError(absl::StrCat("--", flag, "=", value, ": expected ", allowed));
    return false;
  };
  if (!o.calibration_method.empty()) {
    v1::CalibrationMethod method;
    if (!v1::CalibrationMethod_Parse(absl::AsciiStrToUpper(o.calibration_method), &method) ||
        method == v1::CALIBRATION_METHOD_UNSPECIFIED) {
      return bad("calibration_method", o.calibration_method,
                 "naive|entropy|percentile|ema|mse|auto");
    }
    request.set_calibration(method);
  }
  if (!o.calibration_seed.empty()) {
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(o.calibration_seed, &seed)) {
      return bad("calibration_seed", o.calibration_seed, "a non-negative integer");
    }
    request.set_calibration_seed(seed);
  }
  for (const auto& [flag, text, setter] :
       {std::tuple{"percentile", &o.percentile, &v1::QuantizeModelRequest::set_percentile},
        std::tuple{"ema_decay", &o.ema_decay, &v1::QuantizeModelRequest::set_ema_decay}}) {
    if (text->empty()) continue;
    double value = 0;
    if (!absl::SimpleAtod(*text, &value)) return bad(flag, *text, "a number");
    (request.*setter)(value);
  }
  request.set_ema_passes(o.ema_passes);

  v1::QuantizationSettings& q = *request.mutable_quantization();
  if (o.granularity == "per-channel") {
    q.set_weight_granularity(v1::PER_CHANNEL);
  } else if (o.granularity == "per-tensor") {
    q.set_weight_granularity(v1::PER_TENSOR);
  } else if (o.granularity == "per-group") {
    q.set_weight_granularity(v1::PER_GROUP);
  } else if (!o.granularity.empty()) {
    return bad("granularity", o.granularity, "per-channel|per-tensor|per-group");
  }
  q.set_weight_group_size(o.group_size);
  q.set_weight_bits(o.weight_bits);
  q.set_activation_bits(o.activation_bits);
  if (o.activation_type == "auto") {
    q.set_activation_type(v1::ACTIVATION_TYPE_AUTO);
  } else if (o.activation_type == "uint8") {
    q.set_activation_type(v1::ACTIVATION_TYPE_UINT8);
  } else if (o.activation_type == "int8") {
    q.set_activation_type(v1::ACTIVATION_TYPE_INT8);
  } else if (!o.activation_type.empty()) {
    return bad("activation_type", o.activation_type, "auto|uint8|int8");
  }
  q.set_asymmetric_activations(o.asymmetric_activations);
  if (o.weight_clipping == "max-abs") {
    q.set_weight_clipping(v1::WEIGHT_CLIPPING_MAX_ABS);
  } else if (o.weight_clipping == "mse") {
    q.set_weight_clipping(v1::WEIGHT_CLIPPING_MSE);
  } else if (!o.weight_clipping.empty()) {
    return bad("weight_clipping", o.weight_clipping, "max-abs|mse");
  }
  for (const std::string& name : o.exclude_nodes) q.add_exclude_nodes(name);
  for (const std::string& op_type : o.exclude_op_types) q.add_exclude_op_types(op_type);
  q.set_exclude_first_conv(o.exclude_first_conv);
  q.set_exclude_last_fc(o.exclude_last_fc);
  q.set_keep_batchnorm(o.keep_batchnorm);
  return true;
}

}  // namespace

int QuantizeCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (ctx.args.size() != 1) return ReportUsageError("quantize takes one MODEL_ID");
  if (o.calibration_dataset.empty()) {
    return ReportUsageError("quantize needs --calibration=DATASET_ID");
  }
  if (o.calibration_samples < 0) return ReportUsageError("--calibration_samples must be >= 0");
  v1::QuantizeModelRequest request;
  request.set_model_id(ctx.args[0]);
  request.set_calibration_dataset_id(o.calibration_dataset);
  request.set_calibration(v1::NAIVE);
  request.set_num_calibration_samples(o.calibration_samples);
  request.set_evaluation_dataset_id(o.evaluation_dataset);
  if (!ParseKnobs(o, request)) return kExitUsage;

  grpc::ClientContext context;
  SetUnaryDeadline(context, o);
  v1::Job job;
  const grpc::Status status = ctx.stub.QuantizeModel(&context, request, &job);
  if (!status.ok()) return ReportRpcError("quantize", status, o.server);
  if (!o.wait) {
    std::fprintf(stderr, "%s\nfollow it with `quantctl watch %s`\n", FormatJobProgress(job).c_str(),
                 job.id().c_str());
    std::printf("%s\n", job.id().c_str());
    return kExitOk;
  }
  return WatchUntilDone(ctx, job.id(), &job);
}

int GetJobCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("get-job takes one JOB_ID");
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::GetJobRequest request;
  request.set_job_id(ctx.args[0]);
  v1::Job job;
  const grpc::Status status = ctx.stub.GetJob(&context, request, &job);
  if (!status.ok()) return ReportRpcError("get-job", status, ctx.options.server);
  std::printf("%s",
              ctx.options.json ? FormatJson(job).c_str() : FormatJobFor(job, ctx.options).c_str());
  return kExitOk;
}

int ListJobsCommand(const CommandContext& ctx) {
  if (!ctx.args.empty())
    return ReportUsageError("list-jobs takes no arguments; filter with --model / --state");
  v1::ListJobsRequest request;
  request.set_model_id(ctx.options.model_filter);
  if (!ctx.options.state_filter.empty()) {
    v1::JobState state;
    if (!v1::JobState_Parse(absl::AsciiStrToUpper(ctx.options.state_filter), &state) ||
        state == v1::JOB_STATE_UNSPECIFIED) {
      return ReportUsageError(
          "--state must be one of queued, running, succeeded, failed, cancelled");
    }
    request.set_state(state);
  }
  v1::ListJobsResponse response;
  const grpc::Status status = ListAllPages(
      request, ctx.options, response,
      [&](grpc::ClientContext* c, const auto& q, auto* r) { return ctx.stub.ListJobs(c, q, r); });
  if (!status.ok()) return ReportRpcError("list-jobs", status, ctx.options.server);
  if (ctx.options.json) {
    std::printf("%s", FormatJson(response).c_str());
    return kExitOk;
  }
  std::printf("%s\n", JobListHeader().c_str());
  for (const auto& job : response.jobs()) std::printf("%s\n", FormatJobRow(job).c_str());
  return kExitOk;
}

int CancelJobCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("cancel takes one JOB_ID");
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::CancelJobRequest request;
  request.set_job_id(ctx.args[0]);
  v1::Job job;
  const grpc::Status status = ctx.stub.CancelJob(&context, request, &job);
  if (!status.ok()) return ReportRpcError("cancel", status, ctx.options.server);
  if (job.state() == v1::CANCELLED) {
    std::printf("job %s CANCELLED\n", job.id().c_str());
  } else {
    std::printf(
        "job %s %s: cancellation requested; it stops within seconds (follow it with "
        "`quantctl watch %s`)\n",
        job.id().c_str(), JobStateName(job.state()).c_str(), job.id().c_str());
  }
  return kExitOk;
}

int WatchJobCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("watch takes one JOB_ID");
  return WatchUntilDone(ctx, ctx.args[0]);
}

}  // namespace quantd::client
