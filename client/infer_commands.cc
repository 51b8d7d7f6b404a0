// infer: a tensor (a raw float32 file, or an image decoded here with OpenCV) or
// image files (sent as bytes to a model with a preprocessing spec) through Infer.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/image_folder.h"
#include "client/local_file.h"
#include "client/proto_printer.h"
#include "client/remote_evaluation.h"
#include "client/rpc_error.h"
#include "engine/data/image_preprocessing.h"

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
  const int64_t channels = model_input.shape(1);
  if (channels != 1 && channels != 3) {
    return absl::FailedPreconditionError(
        absl::StrCat("--image needs a model input with 1 or 3 channels; input '",
                     model_input.name(), "' has ", channels));
  }
  // Without a spec stored on the model: keep the aspect ratio, scale so the
  // image covers the input, center-crop, pixels to [0, 1].
  engine::ImagePreprocessing spec;
  spec.color_order = channels == 1 ? engine::ColorOrder::kGrayscale : engine::ColorOrder::kRgb;
  spec.crop_height = model_input.shape(2);
  spec.crop_width = model_input.shape(3);
  spec.resize_shorter_side = std::max(spec.crop_height, spec.crop_width);
  if (spec.crop_height < 1 || spec.crop_width < 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("model input '", model_input.name(),
                     "' has a dynamic height or width; send a tensor with --input and --shape, "
                     "or upload the model with a preprocessing spec (--crop=HxW ...)"));
  }
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<engine::Tensor> decoded = engine::PreprocessImage(*bytes, spec);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': ", decoded.status().message()));
  }
  v1::Tensor tensor;
  for (int64_t d : decoded->shape) tensor.add_shape(d);
  tensor.mutable_data()->Add(decoded->data.begin(), decoded->data.end());
  return tensor;
}

// The model as GetModel returns it: input shape, preprocessing spec, labels.
grpc::Status FetchModel(const CommandContext& ctx, v1::Model& model) {
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::GetModelRequest request;
  request.set_model_id(ctx.args[0]);
  grpc::Status status = ctx.stub.GetModel(&context, request, &model);
  if (status.ok() && model.inputs_size() == 0) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "model '" + ctx.args[0] + "' declares no input");
  }
  return status;
}

// Fills the request's input: image bytes as they are when the model has a
// preprocessing spec (the server decodes them as it does for datasets), else
// a tensor decoded here or read from --input.
absl::Status SetInput(const ClientOptions& o, const v1::Model& model, v1::InferRequest& request) {
  if (o.image_files.empty()) {
    absl::StatusOr<v1::Tensor> tensor = TensorFromRawFile(o);
    if (!tensor.ok()) return tensor.status();
    *request.mutable_input() = *std::move(tensor);
    request.mutable_input()->set_name(model.inputs(0).name());
    return absl::OkStatus();
  }
  if (model.has_preprocessing()) {
    for (const std::string& path : o.image_files) {
      absl::StatusOr<std::string> bytes = ReadFileBytes(path);
      if (!bytes.ok()) return bytes.status();
      request.add_images(*std::move(bytes));
    }
    return absl::OkStatus();
  }
  if (o.image_files.size() != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", model.id(), "' has no preprocessing spec, so quantctl decodes --image itself "
        "and takes one file; upload the model with --crop=HxW (and --resize_shorter_side, --mean, "
        "--std, --color) to send several images"));
  }
  absl::StatusOr<v1::Tensor> tensor = TensorFromImage(o.image_files[0], model.inputs(0));
  if (!tensor.ok()) return tensor.status();
  *request.mutable_input() = *std::move(tensor);
  request.mutable_input()->set_name(model.inputs(0).name());
  return absl::OkStatus();
}

void PrintClassifications(const ClientOptions& o, const v1::InferResponse& response) {
  for (int row = 0; row < response.classifications_size(); ++row) {
    const std::string source =
        row < static_cast<int>(o.image_files.size()) ? absl::StrCat(" (", o.image_files[row], ")")
                                                     : std::string();
    std::printf("sample %d%s:\n", row, source.c_str());
    for (const v1::ScoredClass& scored : response.classifications(row).top()) {
      std::printf("  %lld %s %g\n", static_cast<long long>(scored.class_index()),
                  scored.label().empty() ? "-" : scored.label().c_str(), scored.score());
    }
  }
}

}  // namespace

int InferCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (ctx.args.size() != 1) return ReportUsageError("infer takes one MODEL_ID");
  if (o.input_file.empty() == o.image_files.empty()) {
    return ReportUsageError(
        "infer needs exactly one of --input=FILE (raw float32) or --image=FILE[,FILE...]");
  }
  if (o.top_k < 0) return ReportUsageError("--top_k must be >= 0");
  auto precision = ParsePrecision(o.precision);
  if (!precision.ok()) return ReportUsageError(precision.status().message());

  v1::Model model;
  grpc::Status status = FetchModel(ctx, model);
  if (!status.ok()) return ReportRpcError("infer", status, o.server);

  v1::InferRequest request;
  request.set_model_id(ctx.args[0]);
  request.set_version(o.version);
  request.set_precision(*precision);
  request.set_top_k(o.top_k);
  if (absl::Status s = SetInput(o, model, request); !s.ok()) return ReportLocalError("infer", s);

  grpc::ClientContext context;
  SetUnaryDeadline(context, o);
  v1::InferResponse response;
  status = ctx.stub.Infer(&context, request, &response);
  if (!status.ok()) {
    const int exit_code = ReportRpcError("infer", status, o.server);
    if (request.images_size() > 0) {
      for (int64_t index : ImageIndicesInMessage(status.error_message())) {
        if (index >= 0 && index < static_cast<int64_t>(o.image_files.size())) {
          std::fprintf(stderr, "  image %lld is %s\n", static_cast<long long>(index),
                       o.image_files[static_cast<size_t>(index)].c_str());
        }
      }
    }
    return exit_code;
  }

  std::printf("model %s version %d (%s)\n", response.model_id().c_str(), response.version(),
              PrecisionName(response.precision()).c_str());
  for (const auto& output : response.outputs()) {
    std::printf("output %s %s\n", output.name().c_str(), FormatShape(output.shape()).c_str());
  }
  if (response.classifications_size() > 0) {
    PrintClassifications(o, response);
    return kExitOk;
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
