#include "server/dataset_upload.h"

#include <exception>
#include <fstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/atomic_file.h"
#include "server/proto_conversion.h"
#include "server/resource_id.h"

namespace quantd::server {
namespace {

absl::Status ValidateHeader(const v1::DatasetUploadHeader& header) {
  switch (header.format()) {
    case v1::IDX:
      if (!header.sample_shape().empty()) {
        return absl::InvalidArgumentError(
            "dataset upload header: sample_shape is for RAW_FLOAT32; IDX files carry their own "
            "shape");
      }
      if (header.pixel_scale() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dataset upload header: pixel_scale must not be negative, got ", header.pixel_scale()));
      }
      return absl::OkStatus();
    case v1::RAW_FLOAT32:
      if (header.sample_shape().empty()) {
        return absl::InvalidArgumentError(
            "dataset upload header: RAW_FLOAT32 needs sample_shape, e.g. [1, 28, 28]");
      }
      for (int64_t d : header.sample_shape()) {
        if (d <= 0) {
          return absl::InvalidArgumentError(absl::StrCat("dataset upload header: sample_shape ",
                                                         ShapeToString(header.sample_shape()),
                                                         " has a non-positive dimension"));
        }
      }
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dataset upload header: format must be IDX or RAW_FLOAT32, got ",
                       v1::DatasetFormat_Name(header.format())));
  }
}

// A file holding one uploaded part while the engine reads it; removed when
// the object goes out of scope.
class ScratchFile {
 public:
  explicit ScratchFile(const std::filesystem::path& dir, const std::string& part)
      : path_(dir / absl::StrCat(part, kTempFileMarker, NewResourceId("upload"))) {}
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

  absl::Status Write(const std::string& contents) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write scratch file '", path_.string(), "'"));
    }
    return absl::OkStatus();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

absl::StatusOr<ReceivedDataset> ReceiveDatasetUpload(
    const StreamReader<v1::UploadDatasetRequest>& read, int64_t max_bytes) {
  v1::UploadDatasetRequest request;
  if (!read(request)) {
    return absl::InvalidArgumentError("dataset upload stream is empty; send the header first");
  }
  if (!request.has_header()) {
    return absl::InvalidArgumentError(
        "the first message of a dataset upload must be the header (name, format, ...)");
  }
  ReceivedDataset received;
  received.header = request.header();
  if (absl::Status s = ValidateHeader(received.header); !s.ok()) return s;

  int64_t total = 0;
  while (read(request)) {
    if (request.has_header()) {
      return absl::InvalidArgumentError("dataset upload carries a second header");
    }
    const v1::DatasetChunk& chunk = request.chunk();
    total += static_cast<int64_t>(chunk.data().size());
    if (total > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("dataset upload exceeds --max_dataset_bytes (", max_bytes, " bytes)"));
    }
    switch (chunk.part()) {
      case v1::SAMPLES:
        received.samples_file += chunk.data();
        break;
      case v1::LABELS:
        received.labels_file += chunk.data();
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("dataset upload chunk has part ",
                                                       v1::DatasetPart_Name(chunk.part()),
                                                       "; expected SAMPLES or LABELS"));
    }
  }
  if (received.samples_file.empty()) {
    return absl::InvalidArgumentError("dataset upload sent no SAMPLES bytes");
  }
  return received;
}

absl::StatusOr<engine::Dataset> DecodeDataset(const ReceivedDataset& received,
                                              const std::filesystem::path& scratch_dir) {
  ScratchFile samples(scratch_dir, "samples");
  ScratchFile labels(scratch_dir, "labels");
  if (absl::Status s = samples.Write(received.samples_file); !s.ok()) return s;
  const bool has_labels = !received.labels_file.empty();
  if (has_labels) {
    if (absl::Status s = labels.Write(received.labels_file); !s.ok()) return s;
  }
  const std::string labels_path = has_labels ? labels.path().string() : std::string();

  absl::StatusOr<engine::Dataset> data;
  try {
    if (received.header.format() == v1::IDX) {
      const float scale =
          received.header.pixel_scale() == 0 ? 1.0f / 255.0f : received.header.pixel_scale();
      data = engine::ReadIdxDataset(samples.path().string(), labels_path, scale);
    } else {
      const std::vector<int64_t> shape(received.header.sample_shape().begin(),
                                       received.header.sample_shape().end());
      data = engine::ReadRawFloat32Dataset(samples.path().string(), labels_path, shape);
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset '", received.header.name(), "' cannot be decoded: ", e.what()));
  }
  if (!data.ok()) {
    // Clients know their parts, not our scratch file names.
    const std::string message = absl::StrReplaceAll(
        data.status().message(),
        {{samples.path().string(), "SAMPLES part"}, {labels.path().string(), "LABELS part"}});
    return absl::Status(data.status().code(),
                        absl::StrCat("dataset '", received.header.name(), "': ", message));
  }
  if (data->num_samples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset '", received.header.name(), "' holds no samples"));
  }
  return data;
}

}  // namespace quantd::server
