// infer: one tensor from a raw float32 file through Infer.
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/file_digest.h"
#include "client/proto_printer.h"
#include "client/remote_evaluation.h"
#include "client/rpc_error.h"

namespace quantd::client {

int InferCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (ctx.args.size() != 1) return ReportUsageError("infer takes one MODEL_ID");
  if (o.input_file.empty()) return ReportUsageError("infer needs --input=FILE (raw float32)");
  auto precision = ParsePrecision(o.precision);
  if (!precision.ok()) return ReportUsageError(precision.status().message());
  if (o.shape.empty()) return ReportUsageError("infer needs --shape, e.g. --shape=1,1,28,28");
  int64_t elements = 1;
  for (int64_t d : o.shape) elements *= d;
  auto bytes = ReadFileBytes(o.input_file);
  if (!bytes.ok()) return ReportLocalError("infer", bytes.status());
  if (static_cast<int64_t>(bytes->size()) != elements * 4) {
    return ReportLocalError("infer", absl::InvalidArgumentError(absl::StrCat(
                                         "'", o.input_file, "' holds ", bytes->size(),
                                         " bytes but --shape=", absl::StrJoin(o.shape, ","),
                                         " needs ", elements * 4, " (little-endian float32)")));
  }

  std::string input_name;
  grpc::Status status = LookUpInputName(ctx.stub, ctx.args[0], o.timeout_seconds, input_name);
  if (!status.ok()) return ReportRpcError("infer", status, o.server);

  v1::InferRequest request;
  request.set_model_id(ctx.args[0]);
  request.set_version(o.version);
  request.set_precision(*precision);
  v1::Tensor* input = request.mutable_input();
  input->set_name(input_name);
  for (int64_t d : o.shape) input->add_shape(d);
  input->mutable_data()->Resize(static_cast<int>(elements), 0.0f);
  std::memcpy(input->mutable_data()->mutable_data(), bytes->data(), bytes->size());

  grpc::ClientContext context;
  SetUnaryDeadline(context, o);
  v1::InferResponse response;
  status = ctx.stub.Infer(&context, request, &response);
  if (!status.ok()) return ReportRpcError("infer", status, o.server);

  std::printf("model %s version %d (%s)\n", response.model_id().c_str(), response.version(),
              PrecisionName(response.precision()).c_str());
  for (const auto& output : response.outputs()) {
    std::printf("output %s %s\n", output.name().c_str(), FormatShape(output.shape()).c_str());
  }
  if (response.outputs_size() == 0) return kExitOk;
  const v1::Tensor& scores = response.outputs(0);
  const std::vector<int32_t> top = ArgmaxRows(scores);
  const int64_t width = scores.shape_size() == 2 ? scores.shape(1) : 0;
  for (size_t row = 0; row < top.size(); ++row) {
    const float* values = scores.data().data() + row * width;
    std::printf("sample %zu: top class %d\n  logits: %s\n", row, top[row],
                absl::StrJoin(values, values + width, " ", [](std::string* out, float v) {
                  absl::StrAppend(out, v);
                }).c_str());
  }
  return kExitOk;
}

}  // namespace quantd::client
