// infer: one tensor (a raw float32 file, or an image decoded with OpenCV) through Infer.
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/local_file.h"
#include "client/proto_printer.h"
#include "client/remote_evaluation.h"
#include "client/rpc_error.h"
#include "engine/data/image_decoder.h"

namespace quantd::client {

namespace {

// The input tensor from --input (raw float32 of --shape).
absl::StatusOr<v1::Tensor> TensorFromRawFile(const ClientOptions& o) {
  if (o.shape.empty()) {
    return absl::InvalidArgumentError("infer needs --shape with --input, e.g. --shape=1,1,28,28");
  }
  int64_t elements = 1;
  for (int64_t d : o.shape) elements *= d;
  absl::StatusOr<std::string> bytes = ReadFileBytes(o.input_file);
  if (!bytes.ok()) return bytes.status();
  if (static_cast<int64_t>(bytes->size()) != elements * 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", o.input_file, "' holds ", bytes->size(), " bytes but --shape=",
        absl::StrJoin(o.shape, ","), " needs ", elements * 4, " (little-endian float32)"));
  }
  v1::Tensor tensor;
  for (int64_t d : o.shape) tensor.add_shape(d);
  tensor.mutable_data()->Resize(static_cast<int>(elements), 0.0f);
  std::memcpy(tensor.mutable_data()->mutable_data(), bytes->data(), bytes->size());
  return tensor;
}

// The input tensor from --image: decoded with OpenCV to the model's C x H x W.
absl::StatusOr<v1::Tensor> TensorFromImage(const std::string& path,
                                           const v1::TensorInfo& model_input) {
  if (model_input.shape_size() != 4) {
    return absl::FailedPreconditionError(
        absl::StrCat("--image needs a model with an NCHW input; input '", model_input.name(),
                     "' has rank ", model_input.shape_size()));
  }
  const engine::ImageInputSpec spec{.channels = model_input.shape(1),
                                    .height = model_input.shape(2),
                                    .width = model_input.shape(3)};
  if (spec.height < 1 || spec.width < 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("model input '", model_input.name(),
                     "' has a dynamic height or width; send a tensor with --input and --shape"));
  }
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<engine::Tensor> decoded = engine::DecodeImage(*bytes, spec);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': ", decoded.status().message()));
  }
  v1::Tensor tensor;
  for (int64_t d : decoded->shape) tensor.add_shape(d);
  tensor.mutable_data()->Add(decoded->data.begin(), decoded->data.end());
  return tensor;
}

}  // namespace

int InferCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (ctx.args.size() != 1) return ReportUsageError("infer takes one MODEL_ID");
  if (o.input_file.empty() == o.image_file.empty()) {
    return ReportUsageError("infer needs exactly one of --input=FILE (raw float32) or --image=FILE");
  }
  auto precision = ParsePrecision(o.precision);
  if (!precision.ok()) return ReportUsageError(precision.status().message());

  v1::TensorInfo model_input;
  grpc::Status status = LookUpModelInput(ctx.stub, ctx.args[0], o.timeout_seconds, model_input);
  if (!status.ok()) return ReportRpcError("infer", status, o.server);

  absl::StatusOr<v1::Tensor> tensor = o.image_file.empty()
                                          ? TensorFromRawFile(o)
                                          : TensorFromImage(o.image_file, model_input);
  if (!tensor.ok()) return ReportLocalError("infer", tensor.status());

  v1::InferRequest request;
  request.set_model_id(ctx.args[0]);
  request.set_version(o.version);
  request.set_precision(*precision);
  *request.mutable_input() = std::move(*tensor);
  request.mutable_input()->set_name(model_input.name());

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
