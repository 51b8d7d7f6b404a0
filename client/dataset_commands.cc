// upload-dataset (streams IDX or raw float32 files, a local subset of them,
// or a folder of encoded images), list-datasets, get-dataset, delete-dataset.
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/image_folder.h"
#include "client/list_pages.h"
#include "client/local_file.h"
#include "client/preprocessing_flags.h"
#include "client/proto_printer.h"
#include "client/rpc_error.h"
#include "engine/data/dataset.h"

namespace quantd::client {
namespace {

static_assert(std::endian::native == std::endian::little,
              "RAW_FLOAT32 payloads are sent in native byte order");

constexpr size_t kChunkBytes = size_t{1} << 20;

using DatasetWriter = grpc::ClientWriter<v1::UploadDatasetRequest>;

bool WriteChunk(DatasetWriter& writer, v1::DatasetPart part, std::string_view data) {
  v1::UploadDatasetRequest request;
  request.mutable_chunk()->set_part(part);
  request.mutable_chunk()->set_data(std::string(data));
  return writer.Write(request);
}

bool WriteBuffer(DatasetWriter& writer, v1::DatasetPart part, std::string_view data) {
  for (size_t offset = 0; offset < data.size(); offset += kChunkBytes) {
    if (!WriteChunk(writer, part, data.substr(offset, kChunkBytes))) return false;
  }
  return true;
}

// Streams at most `max_bytes` (0: all) of `path`. Returns false with `error`
// set when the file cannot be read, false with `error` OK when the server
// closed the stream.
bool WriteFile(DatasetWriter& writer, v1::DatasetPart part, const std::string& path,
               int64_t max_bytes, absl::Status& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
    return false;
  }
  std::string buffer(kChunkBytes, '\0');
  int64_t sent = 0;
  while (in && (max_bytes == 0 || sent < max_bytes)) {
    size_t want = buffer.size();
    if (max_bytes > 0) want = std::min<size_t>(want, static_cast<size_t>(max_bytes - sent));
    in.read(buffer.data(), static_cast<std::streamsize>(want));
    const auto got = in.gcount();
    if (got <= 0) break;
    if (!WriteChunk(writer, part, std::string_view(buffer.data(), static_cast<size_t>(got)))) {
      return false;
    }
    sent += got;
  }
  if (in.bad()) {
    error = absl::InternalError(absl::StrCat("error reading '", path, "'"));
    return false;
  }
  return true;
}

int64_t Product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// Uploads --images=DIR as ENCODED_IMAGES: one IMAGE chunk per file, sorted
// by path, with labels from class folders. When the server names undecodable
// images by index, says which files they are.
int UploadImageFolder(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  absl::StatusOr<std::optional<v1::PreprocessingSpec>> spec = PreprocessingFromFlags(o);
  if (!spec.ok()) return ReportUsageError(spec.status().message());
  if (!spec->has_value()) {
    return ReportUsageError(
        "upload-dataset --images needs the preprocessing spec: at least --crop=HxW (the model "
        "input's height and width), e.g. --crop=28x28 --color=gray");
  }
  absl::StatusOr<ImageFolder> folder = ScanImageFolder(o.images_dir);
  if (!folder.ok()) return ReportLocalError("upload-dataset", folder.status());
  std::fprintf(stderr, "%zu images from %s, %s\n", folder->files.size(), o.images_dir.c_str(),
               folder->classes.empty()
                   ? "no labels (flat folder)"
                   : absl::StrCat(folder->classes.size(), " classes from subfolders").c_str());
  for (size_t i = 0; i < folder->classes.size(); ++i) {
    std::fprintf(stderr, "  label %zu = %s\n", i, folder->classes[i].c_str());
  }

  grpc::ClientContext context;
  v1::Dataset dataset;
  auto writer = ctx.stub.UploadDataset(&context, &dataset);
  v1::UploadDatasetRequest request;
  auto* header = request.mutable_header();
  header->set_name(o.name.empty()
                       ? std::filesystem::path(o.images_dir).lexically_normal().filename().string()
                       : o.name);
  header->set_format(v1::ENCODED_IMAGES);
  *header->mutable_preprocessing() = **spec;
  bool open = writer->Write(request);
  absl::Status local_error;
  for (size_t i = 0; open && i < folder->files.size(); ++i) {
    absl::StatusOr<std::string> bytes = ReadFileBytes(folder->files[i]);
    if (!bytes.ok()) {
      local_error = bytes.status();
      break;
    }
    open = WriteChunk(*writer, v1::IMAGE, *bytes);
  }
  if (open && local_error.ok() && !folder->labels.empty()) {
    open = WriteBuffer(*writer, v1::LABELS,
                       std::string_view(reinterpret_cast<const char*>(folder->labels.data()),
                                        folder->labels.size() * sizeof(int32_t)));
  }
  if (!local_error.ok()) {
    context.TryCancel();
    writer->Finish();
    return ReportLocalError("upload-dataset", local_error);
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) {
    const int exit_code = ReportRpcError("upload-dataset", status, o.server);
    for (int64_t index : ImageIndicesInMessage(status.error_message())) {
      if (index >= 0 && index < static_cast<int64_t>(folder->files.size())) {
        std::fprintf(stderr, "  image %lld is %s\n", static_cast<long long>(index),
                     folder->files[static_cast<size_t>(index)].c_str());
      }
    }
    return exit_code;
  }
  std::fprintf(stderr, "uploaded %s\n", FormatDataset(dataset).c_str());
  std::printf("%s\n", dataset.id().c_str());
  return kExitOk;
}

}  // namespace

int UploadDatasetCommand(const CommandContext& ctx) {
  const ClientOptions& o = ctx.options;
  if (!ctx.args.empty()) {
    return ReportUsageError(
        "upload-dataset takes no positional arguments; use --samples=FILE or --images=DIR");
  }
  if (!o.images_dir.empty()) {
    if (!o.samples_file.empty() || !o.labels_file.empty()) {
      return ReportUsageError(
          "--images=DIR takes labels from class subfolders; do not combine it with --samples or "
          "--labels");
    }
    return UploadImageFolder(ctx);
  }
  if (o.samples_file.empty()) {
    return ReportUsageError("upload-dataset needs --samples=FILE or --images=DIR");
  }
  if (o.format != "idx" && o.format != "raw") {
    return ReportUsageError(absl::StrCat("--format must be idx or raw, not '", o.format, "'"));
  }
  if (o.format == "raw" && o.sample_shape.empty()) {
    return ReportUsageError("--format=raw needs --sample_shape, e.g. --sample_shape=1,28,28");
  }
  if (o.limit < 0) return ReportUsageError("--limit must be >= 0");

  // An IDX subset is decoded here and sent as raw float32: the server's IDX
  // reader always takes whole files.
  const bool idx_subset = o.format == "idx" && o.limit > 0;
  engine::Dataset subset;
  if (idx_subset) {
    const float scale = o.pixel_scale > 0 ? o.pixel_scale : 1.0f / 255.0f;
    auto data = engine::ReadIdxDataset(o.samples_file, o.labels_file, scale);
    if (!data.ok()) return ReportLocalError("upload-dataset", data.status());
    subset = *std::move(data);
    if (o.limit < subset.num_samples) {
      subset.num_samples = o.limit;
      subset.samples.resize(static_cast<size_t>(o.limit * subset.SampleSize()));
      if (subset.has_labels()) subset.labels.resize(static_cast<size_t>(o.limit));
    }
  }

  grpc::ClientContext context;
  v1::Dataset dataset;
  auto writer = ctx.stub.UploadDataset(&context, &dataset);
  v1::UploadDatasetRequest request;
  auto* header = request.mutable_header();
  header->set_name(o.name.empty() ? std::filesystem::path(o.samples_file).filename().string()
                                  : o.name);
  absl::Status local_error;
  bool open = true;
  if (idx_subset) {
    header->set_format(v1::RAW_FLOAT32);
    for (int64_t d : subset.sample_shape) header->add_sample_shape(d);
    open = writer->Write(request) &&
           WriteBuffer(*writer, v1::SAMPLES,
                       std::string_view(reinterpret_cast<const char*>(subset.samples.data()),
                                        subset.samples.size() * sizeof(float)));
    if (open && subset.has_labels()) {
      open = WriteBuffer(*writer, v1::LABELS,
                         std::string_view(reinterpret_cast<const char*>(subset.labels.data()),
                                          subset.labels.size() * sizeof(int32_t)));
    }
  } else {
    const bool raw = o.format == "raw";
    header->set_format(raw ? v1::RAW_FLOAT32 : v1::IDX);
    for (int64_t d : o.sample_shape) header->add_sample_shape(d);
    if (!raw) header->set_pixel_scale(o.pixel_scale);
    const int64_t sample_bytes = raw ? o.limit * Product(o.sample_shape) * 4 : 0;
    const int64_t label_bytes = raw ? o.limit * 4 : 0;
    open = writer->Write(request) &&
           WriteFile(*writer, v1::SAMPLES, o.samples_file, sample_bytes, local_error);
    if (open && !o.labels_file.empty()) {
      open = WriteFile(*writer, v1::LABELS, o.labels_file, label_bytes, local_error);
    }
  }
  if (!local_error.ok()) {
    context.TryCancel();
    writer->Finish();
    return ReportLocalError("upload-dataset", local_error);
  }
  (void)open;  // when the server closed the stream early, Finish says why
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return ReportRpcError("upload-dataset", status, o.server);
  std::fprintf(stderr, "uploaded %s\n", FormatDataset(dataset).c_str());
  std::printf("%s\n", dataset.id().c_str());
  return kExitOk;
}

int ListDatasetsCommand(const CommandContext& ctx) {
  if (!ctx.args.empty()) return ReportUsageError("list-datasets takes no arguments");
  v1::ListDatasetsResponse response;
  const grpc::Status status = ListAllPages(v1::ListDatasetsRequest{}, ctx.options, response,
                                           [&](grpc::ClientContext* c, const auto& q, auto* r) {
                                             return ctx.stub.ListDatasets(c, q, r);
                                           });
  if (!status.ok()) return ReportRpcError("list-datasets", status, ctx.options.server);
  if (ctx.options.json) {
    std::printf("%s", FormatJson(response).c_str());
    return kExitOk;
  }
  std::printf("%s\n", DatasetListHeader().c_str());
  for (const auto& dataset : response.datasets()) {
    std::printf("%s\n", FormatDatasetRow(dataset).c_str());
  }
  return kExitOk;
}

int GetDatasetCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("get-dataset takes one DATASET_ID");
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::GetDatasetRequest request;
  request.set_dataset_id(ctx.args[0]);
  v1::Dataset dataset;
  const grpc::Status status = ctx.stub.GetDataset(&context, request, &dataset);
  if (!status.ok()) return ReportRpcError("get-dataset", status, ctx.options.server);
  if (ctx.options.json) {
    std::printf("%s", FormatJson(dataset).c_str());
  } else {
    std::printf("%s\ncreated %s\n", FormatDataset(dataset).c_str(),
                FormatUnixMs(dataset.created_unix_ms()).c_str());
  }
  return kExitOk;
}

int DeleteDatasetCommand(const CommandContext& ctx) {
  if (ctx.args.size() != 1) return ReportUsageError("delete-dataset takes one DATASET_ID");
  grpc::ClientContext context;
  SetUnaryDeadline(context, ctx.options);
  v1::DeleteDatasetRequest request;
  request.set_dataset_id(ctx.args[0]);
  v1::DeleteDatasetResponse response;
  const grpc::Status status = ctx.stub.DeleteDataset(&context, request, &response);
  if (!status.ok()) return ReportRpcError("delete-dataset", status, ctx.options.server);
  std::printf("deleted dataset %s\n", ctx.args[0].c_str());
  return kExitOk;
}

}  // namespace quantd::client
