// upload-model, list-models, get-model, delete-model, delete-version, sha256.
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/commands.h"
#include "client/list_pages.h"
#include "client/local_file.h"
#include "client/preprocessing_flags.h"
#include "client/proto_printer.h"
#include "client/rpc_error.h"
#include "common/sha256.h"

namespace quantd::client {
namespace {

// gRPC's default receive limit is 4 MiB; 1 MiB chunks stay well below it.
constexpr size_t kChunkBytes = size_t{1} << 20;

// --labels=FILE: one class name per line, line i naming class i; a trailing
// empty line (and Windows line ends) are ignored.
absl::StatusOr<std::vector<std::string>> ReadLabels(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) return text.status();
  std::vector<std::string> labels = absl::StrSplit(*text, '\n');
  if (!labels.empty() && labels.back().empty()) labels.pop_back();
  for (std::string& label : labels) {
    if (!label.empty() && label.back() == '\r') label.pop_back();
  }
  if (labels.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--labels='", path, "' is empty; give one class name per line"));
  }
  return labels;
}

}  // namespace

int UploadModelCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("upload-model takes one ONNX FILE");
  const std::string& path = ctx.args[0];
  auto bytes = ReadFileBytes(path);
  if (!bytes.ok()) return ReportLocalError("upload-model", bytes.status());
  const std::string name =
      ctx.options.name.empty() ? std::filesystem::path(path).stem().string() : ctx.options.name;
  const std::string digest = Sha256Hex(*bytes);
  absl::StatusOr<std::optional<v1::PreprocessingSpec>> spec = PreprocessingFromFlags(ctx.options);
  if (!spec.ok()) return ReportUsageError(spec.status().message());
  std::vector<std::string> labels;
  if (!ctx.options.labels_file.empty()) {
    absl::StatusOr<std::vector<std::string>> read = ReadLabels(ctx.options.labels_file);
    if (!read.ok()) return ReportLocalError("upload-model", read.status());
    labels = *std::move(read);
  }

  grpc::ClientContext context;
  v1::Model model;
  auto writer = ctx.stub.UploadModel(&context, &model);
  v1::UploadModelRequest request;
  auto* header = request.mutable_header();
  header->set_name(name);
  header->set_size_bytes(static_cast<int64_t>(bytes->size()));
  header->set_sha256(digest);
  if (spec->has_value()) *header->mutable_preprocessing() = **spec;
  for (const std::string& label : labels) header->add_labels(label);
  bool open = writer->Write(request);
  for (size_t offset = 0; open && offset < bytes->size(); offset += kChunkBytes) {
    request.Clear();
    request.set_chunk(bytes->substr(offset, kChunkBytes));
    open = writer->Write(request);
  }
  // A failed Write means the server closed the stream early; Finish has why.
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return ReportRpcError("upload-model", status, ctx.options.server);

  std::fprintf(stderr, "uploaded %s (%s, sha256 %s)\n%s\n", path.c_str(),
               FormatBytes(static_cast<int64_t>(bytes->size())).c_str(), digest.c_str(),
               FormatModelSummary(model).c_str());
  if (model.has_preprocessing()) {
    std::fprintf(stderr, "infer takes images: %s\n",
                 FormatPreprocessing(model.preprocessing()).c_str());
  }
  if (model.labels_size() > 0) std::fprintf(stderr, "%d labels\n", model.labels_size());
  // stdout carries only the id so scripts can capture it.
  std::printf("%s\n", model.id().c_str());
  return kExitOk;
}

int ListModelsCommand(const CommandContext& ctx) {
  if (!ctx.args.empty()) return ReportUsageError("list-models takes no arguments");
  v1::ListModelsResponse response;
  const grpc::Status status = ListAllPages(
      v1::ListModelsRequest{}, ctx.options, response,
      [&](grpc::ClientContext* c, const auto& q, auto* r) { return ctx.stub.ListModels(c, q, r); });
  if (!status.ok()) return ReportRpcError("list-models", status, ctx.options.server);
  if (ctx.options.json) {
    std::printf("%s", FormatJson(response).c_str());
    return kExitOk;
  }
  std::printf("%s\n", ModelListHeader().c_str());
  for (const auto& model : response.models()) std::printf("%s\n", FormatModelRow(model).c_str());
  return kExitOk;
}

int GetModelCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("get-model takes one MODEL_ID");
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::GetModelRequest request;
  request.set_model_id(ctx.args[0]);
  v1::Model model;
  const grpc::Status status = ctx.stub.GetModel(&context, request, &model);
  if (!status.ok()) return ReportRpcError("get-model", status, ctx.options.server);
  std::printf("%s", ctx.options.json ? FormatJson(model).c_str() : FormatModel(model).c_str());
  return kExitOk;
}

int DeleteModelCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("delete-model takes one MODEL_ID");
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::DeleteModelRequest request;
  request.set_model_id(ctx.args[0]);
  v1::DeleteModelResponse response;
  const grpc::Status status = ctx.stub.DeleteModel(&context, request, &response);
  if (!status.ok()) return ReportRpcError("delete-model", status, ctx.options.server);
  std::printf("deleted model %s with every version\n", ctx.args[0].c_str());
  return kExitOk;
}

int DeleteVersionCommand(const CommandContext& ctx) {
  int32_t version = 0;
  if (ctx.args.size() != 2 || !absl::SimpleAtoi(ctx.args[1], &version) || version < 1) {
    return ReportUsageError("delete-version takes MODEL_ID VERSION (a number >= 2)");
  }
  if (version == 1) {
    return ReportUsageError(
        "version 1 is the fp32 original; delete the whole model with `quantctl delete-model`");
  }
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::DeleteVersionRequest request;
  request.set_model_id(ctx.args[0]);
  request.set_version(version);
  v1::DeleteVersionResponse response;
  const grpc::Status status = ctx.stub.DeleteVersion(&context, request, &response);
  if (!status.ok()) return ReportRpcError("delete-version", status, ctx.options.server);
  std::printf("deleted version %d of model %s\n", version, ctx.args[0].c_str());
  return kExitOk;
}

int Sha256Command(const std::vector<std::string>& files) {
  if (files.empty()) return ReportUsageError("sha256 takes one or more FILEs");
  for (const auto& path : files) {
    auto bytes = ReadFileBytes(path);
    if (!bytes.ok()) return ReportLocalError("sha256", bytes.status());
    std::printf("%s  %s\n", Sha256Hex(*bytes).c_str(), path.c_str());
  }
  return kExitOk;
}

}  // namespace quantd::client
