#include "server/api/model_upload.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "engine/runtime/model_inspection.h"
#include "engine/status_macros.h"
#include "server/wire/preprocessing_spec.h"

namespace quantd::server {
namespace {

absl::Status ValidateHeader(const v1::ModelUploadHeader& header, int64_t max_bytes) {
  if (header.name().empty()) {
    return absl::InvalidArgumentError("model upload header: name is required");
  }
  if (header.size_bytes() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model upload header: size_bytes must be positive, got ", header.size_bytes()));
  }
  if (header.size_bytes() > max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("model upload of ", header.size_bytes(),
                                                     " bytes exceeds --max_model_bytes (",
                                                     max_bytes, " bytes)"));
  }
  if (!IsSha256Hex(header.sha256())) {
    return absl::InvalidArgumentError(
        absl::StrCat("model upload header: sha256 must be 64 lowercase hex characters, got '",
                     header.sha256(), "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReceivedModel> ReceiveModelUpload(const StreamReader<v1::UploadModelRequest>& read,
                                                 int64_t max_bytes,
                                                 const std::filesystem::path& scratch_dir) {
  v1::UploadModelRequest request;
  if (!read(request)) {
    return absl::InvalidArgumentError("model upload stream is empty; send the header first");
  }
  if (!request.has_header()) {
    return absl::InvalidArgumentError(
        "the first message of a model upload must be the header (name, size_bytes, sha256)");
  }
  ReceivedModel received;
  received.header = request.header();
  RETURN_IF_ERROR(ValidateHeader(received.header, max_bytes));

  const int64_t declared = received.header.size_bytes();
  received.file = std::make_unique<ScratchFile>(scratch_dir, "model");
  Sha256 hasher;
  while (read(request)) {
    if (request.has_header()) {
      return absl::InvalidArgumentError("model upload carries a second header");
    }
    const std::string& chunk = request.chunk();
    const int64_t total = received.file->size() + static_cast<int64_t>(chunk.size());
    if (total > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("model upload exceeds --max_model_bytes (", max_bytes, " bytes)"));
    }
    if (total > declared) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model upload sends more than the declared size_bytes (", declared, " bytes)"));
    }
    hasher.Update(chunk);
    RETURN_IF_ERROR(received.file->Append(chunk));
  }
  if (received.file->size() != declared) {
    return absl::InvalidArgumentError(absl::StrCat("model upload declared size_bytes ", declared,
                                                   " but sent ", received.file->size(),
                                                   " bytes"));
  }
  const std::string digest = hasher.FinalHex();
  if (digest != received.header.sha256()) {
    return absl::InvalidArgumentError(absl::StrCat("sha256 mismatch: header says ",
                                                   received.header.sha256(),
                                                   ", received bytes hash to ", digest));
  }
  RETURN_IF_ERROR(received.file->Close());
  ASSIGN_OR_RETURN(received.mapped, MappedFile::Open(received.file->path()));
  return received;
}

namespace {

// Limits on the labels list, which is stored with the model and returned by
// every GetModel/ListModels.
constexpr int kMaxLabels = 100000;
constexpr size_t kMaxLabelBytes = 1024;

absl::Status ValidateImageInterface(const v1::ModelUploadHeader& header,
                                    const engine::ModelSummary& summary) {
  const std::string name = header.name();
  if (header.has_preprocessing()) {
    absl::StatusOr<engine::ImagePreprocessing> spec = ToImagePreprocessing(header.preprocessing());
    if (!spec.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model '", name, "': ", spec.status().message()));
    }
    if (summary.inputs.size() != 1 || summary.inputs[0].shape.size() != 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name, "': preprocessing needs a model with one NCHW input; it has ",
          summary.inputs.size(), " input(s)",
          summary.inputs.empty()
              ? ""
              : absl::StrCat(", the first of rank ", summary.inputs[0].shape.size())));
    }
    const std::vector<int64_t>& input = summary.inputs[0].shape;
    const std::vector<int64_t> sample = spec->SampleShape();
    for (size_t d = 0; d < sample.size(); ++d) {
      if (input[d + 1] > 0 && input[d + 1] != sample[d]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "model '", name, "': preprocessing makes samples [", sample[0], ", ", sample[1], ", ",
            sample[2], "] (channels from color_order, crop_height, crop_width) but input '",
            summary.inputs[0].name, "' is [", input[0], ", ", input[1], ", ", input[2], ", ",
            input[3], "]"));
      }
    }
  }
  if (header.labels_size() > kMaxLabels) {
    return absl::InvalidArgumentError(absl::StrCat("model '", name, "': ", header.labels_size(),
                                                   " labels exceed the limit of ", kMaxLabels));
  }
  for (const std::string& label : header.labels()) {
    if (label.size() > kMaxLabelBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name, "': a label is longer than ", kMaxLabelBytes, " bytes"));
    }
  }
  if (header.labels_size() > 0 && !summary.outputs.empty()) {
    // The class dimension is the last one of the first output ([N, classes]).
    const std::vector<int64_t>& output = summary.outputs[0].shape;
    const int64_t classes = output.empty() ? -1 : output.back();
    if (classes > 0 && classes != header.labels_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model '", name, "': labels has ", header.labels_size(), " entries but output '",
          summary.outputs[0].name, "' has ", classes, " classes; give one label per class"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ValidatedModel> ReceiveAndValidateModel(
    const StreamReader<v1::UploadModelRequest>& read, int64_t max_bytes,
    const std::filesystem::path& scratch_dir) {
  ASSIGN_OR_RETURN(ReceivedModel received, ReceiveModelUpload(read, max_bytes, scratch_dir));
  absl::StatusOr<engine::ModelSummary> summary;
  try {
    summary = engine::InspectModel(received.onnx_bytes());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("model '", received.header.name(), "' cannot be inspected: ", e.what()));
  }
  if (!summary.ok()) return summary.status();
  RETURN_IF_ERROR(ValidateImageInterface(received.header, *summary));
  return ValidatedModel{std::move(received), std::move(*summary)};
}

}  // namespace quantd::server
