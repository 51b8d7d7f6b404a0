// evaluate and compare: a labelled IDX dataset, read here, sent through Infer.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands.h"
#include "client/proto_printer.h"
#include "client/remote_evaluation.h"
#include "client/rpc_error.h"
#include "engine/data/dataset.h"

namespace quantd::client {
namespace {

absl::StatusOr<engine::Dataset> ReadLabelledDataset(const ClientOptions& o) {
  const float scale = o.pixel_scale > 0 ? o.pixel_scale : 1.0f / 255.0f;
  auto data = engine::ReadIdxDataset(o.dataset_samples, o.dataset_labels, scale);
  if (!data.ok()) return data.status();
  if (!data->has_labels()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", o.dataset_labels, "' gave no labels; evaluation needs them"));
  }
  if (o.limit > 0 && o.limit < data->num_samples) {
    data->num_samples = o.limit;
    data->samples.resize(static_cast<size_t>(o.limit * data->SampleSize()));
    data->labels.resize(static_cast<size_t>(o.limit));
  }
  return data;
}

int CheckEvaluationFlags(const CommandContext& ctx, absl::string_view command) {
  const ClientOptions& o = ctx.options;
  if (ctx.args.size() != 1) return ReportUsageError(absl::StrCat(command, " takes one MODEL_ID"));
  if (o.dataset_samples.empty() || o.dataset_labels.empty()) {
    return ReportUsageError(absl::StrCat(
        command, " needs --dataset_samples=IDX_IMAGES and --dataset_labels=IDX_LABELS"));
  }
  if (o.batch <= 0) return ReportUsageError("--batch must be > 0");
  if (o.concurrency <= 0 || o.concurrency > 64) {
    return ReportUsageError("--concurrency must be in [1, 64]");
  }
  if (o.limit < 0) return ReportUsageError("--limit must be >= 0");
  return kExitOk;
}

std::string InFlightText(int64_t concurrency) {
  return concurrency == 1 ? std::string("one Infer call at a time over gRPC")
                          : absl::StrCat(concurrency, " Infer calls in flight over gRPC");
}

std::string TableHeader() {
  return absl::StrFormat("%-9s | %-7s | %-8s | %-22s | %-22s | %s", "precision", "version", "top-1",
                         "p50 latency (ms/batch)", "p99 latency (ms/batch)", "throughput (img/s)");
}

std::string TableRow(const RemoteEvaluation& e) {
  return absl::StrFormat("%-9s | %-7d | %7.2f%% | %22.2f | %22.2f | %18.0f",
                         PrecisionName(e.precision), e.version, 100.0 * e.top1(), e.p50_batch_ms,
                         e.p99_batch_ms, e.images_per_second);
}

}  // namespace

int EvaluateCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (int usage = CheckEvaluationFlags(ctx, "evaluate"); usage != kExitOk) return usage;
  auto precision = ParsePrecision(o.precision);
  if (!precision.ok()) return ReportUsageError(precision.status().message());
  auto data = ReadLabelledDataset(o);
  if (!data.ok()) return ReportLocalError("evaluate", data.status());

  RemoteEvaluationRequest request;
  request.model_id = ctx.args[0];
  request.precision = *precision;
  request.version = o.version;
  request.batch_size = o.batch;
  request.concurrency = o.concurrency;
  request.timeout_seconds = o.timeout_seconds;
  grpc::Status status =
      LookUpInputName(ctx.stub, request.model_id, o.timeout_seconds, request.input_name);
  RemoteEvaluation result;
  if (status.ok()) status = EvaluateRemotely(ctx.stub, request, *data, result);
  if (!status.ok()) return ReportRpcError("evaluate", status, o.server);
  std::printf("model %s, %lld samples, batch %lld, %s\n%s\n%s\n", request.model_id.c_str(),
              static_cast<long long>(result.num_samples), static_cast<long long>(o.batch),
              InFlightText(o.concurrency).c_str(), TableHeader().c_str(), TableRow(result).c_str());
  return kExitOk;
}

int CompareCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (int usage = CheckEvaluationFlags(ctx, "compare"); usage != kExitOk) return usage;
  auto data = ReadLabelledDataset(o);
  if (!data.ok()) return ReportLocalError("compare", data.status());

  RemoteEvaluationRequest request;
  request.model_id = ctx.args[0];
  request.batch_size = o.batch;
  request.concurrency = o.concurrency;
  request.timeout_seconds = o.timeout_seconds;
  grpc::Status status =
      LookUpInputName(ctx.stub, request.model_id, o.timeout_seconds, request.input_name);
  if (!status.ok()) return ReportRpcError("compare", status, o.server);

  RemoteEvaluation fp32;
  RemoteEvaluation int8;
  request.precision = v1::FP32;
  status = EvaluateRemotely(ctx.stub, request, *data, fp32);
  if (!status.ok()) return ReportRpcError("compare (fp32)", status, o.server);
  request.precision = v1::INT8;
  status = EvaluateRemotely(ctx.stub, request, *data, int8);
  if (!status.ok()) return ReportRpcError("compare (int8)", status, o.server);

  int64_t agree = 0;
  for (size_t i = 0; i < fp32.predictions.size() && i < int8.predictions.size(); ++i) {
    agree += fp32.predictions[i] == int8.predictions[i];
  }
  std::printf("model %s, %lld samples, batch %lld, %s\n\n", request.model_id.c_str(),
              static_cast<long long>(fp32.num_samples), static_cast<long long>(o.batch),
              InFlightText(o.concurrency).c_str());
  std::printf("%s\n%s\n%s\n\n", TableHeader().c_str(), TableRow(fp32).c_str(),
              TableRow(int8).c_str());
  const double throughput_speedup =
      fp32.images_per_second > 0 ? int8.images_per_second / fp32.images_per_second : 0;
  const double latency_speedup = int8.p50_batch_ms > 0 ? fp32.p50_batch_ms / int8.p50_batch_ms : 0;
  std::printf("int8/fp32 speed-up: %.2fx throughput, %.2fx p50 latency\n", throughput_speedup,
              latency_speedup);
  std::printf("int8 top-1 change: %+.2f points; int8 agrees with fp32 on %.2f%% of samples\n",
              100.0 * (int8.top1() - fp32.top1()),
              fp32.num_samples ? 100.0 * agree / fp32.num_samples : 0.0);
  return kExitOk;
}

}  // namespace quantd::client
