#include "server/api/dataset_upload.h"

#include <cstring>
#include <exception>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/data/image_preprocessing.h"
#include "engine/status_macros.h"
#include "server/wire/preprocessing_spec.h"
#include "server/wire/proto_conversion.h"

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
    case v1::ENCODED_IMAGES: {
      if (!header.has_preprocessing()) {
        return absl::InvalidArgumentError(
            "dataset upload header: ENCODED_IMAGES needs preprocessing (at least crop_height and "
            "crop_width, the model input's height and width)");
      }
      if (!header.sample_shape().empty()) {
        return absl::InvalidArgumentError(
            "dataset upload header: sample_shape is for RAW_FLOAT32; ENCODED_IMAGES samples take "
            "their shape from preprocessing");
      }
      absl::StatusOr<engine::ImagePreprocessing> spec =
          ToImagePreprocessing(header.preprocessing());
      if (!spec.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("dataset upload header: ", spec.status().message()));
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dataset upload header: format must be IDX, RAW_FLOAT32 or ENCODED_IMAGES, "
                       "got ",
                       v1::DatasetFormat_Name(header.format())));
  }
}

}  // namespace

absl::StatusOr<ReceivedDataset> ReceiveDatasetUpload(
    const StreamReader<v1::UploadDatasetRequest>& read, int64_t max_bytes,
    const std::filesystem::path& scratch_dir) {
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

  const bool encoded_images = received.header.format() == v1::ENCODED_IMAGES;
  const v1::DatasetPart data_part = encoded_images ? v1::IMAGE : v1::SAMPLES;
  if (!encoded_images) received.samples = std::make_unique<ScratchFile>(scratch_dir, "samples");
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
    if (chunk.part() == v1::LABELS) {
      received.labels_file += chunk.data();
    } else if (chunk.part() != data_part) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset upload chunk has part ", v1::DatasetPart_Name(chunk.part()),
                       "; expected ", v1::DatasetPart_Name(data_part), " or LABELS for a ",
                       v1::DatasetFormat_Name(received.header.format()), " dataset"));
    } else if (encoded_images) {
      if (static_cast<int64_t>(received.images.size()) >= kMaxDatasetImages) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "dataset upload exceeds ", kMaxDatasetImages, " images; upload fewer images"));
      }
      received.images.push_back(chunk.data());
    } else if (!chunk.data().empty()) {
      if (absl::Status s = received.samples->Append(chunk.data()); !s.ok()) return s;
    }
  }
  if (encoded_images ? received.images.empty() : received.samples->size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset upload sent no ", v1::DatasetPart_Name(data_part), " chunks"));
  }
  if (received.samples != nullptr) {
    if (absl::Status s = received.samples->Close(); !s.ok()) return s;
  }
  return received;
}

namespace {

absl::StatusOr<engine::Dataset> DecodeEncodedImages(const ReceivedDataset& received) {
  const std::string& name = received.header.name();
  ASSIGN_OR_RETURN(const engine::ImagePreprocessing spec,
                   ToImagePreprocessing(received.header.preprocessing()));
  const int64_t num_images = static_cast<int64_t>(received.images.size());
  const int64_t sample_bytes =
      spec.channels() * spec.crop_height * spec.crop_width * static_cast<int64_t>(sizeof(float));
  if (num_images * sample_bytes > kMaxDecodedDatasetBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("dataset '", name, "': ", num_images, " images of ", sample_bytes,
                     " bytes each after preprocessing exceed ", kMaxDecodedDatasetBytes,
                     " bytes; upload fewer images or use a smaller crop"));
  }

  engine::Dataset data;
  if (!received.labels_file.empty()) {
    if (received.labels_file.size() != static_cast<size_t>(num_images) * sizeof(int32_t)) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset '", name, "': LABELS part holds ", received.labels_file.size(),
                       " bytes, but ", num_images, " images need ", num_images,
                       " little-endian int32 labels (", num_images * 4, " bytes)"));
    }
    data.labels.resize(static_cast<size_t>(num_images));
    // The wire is little-endian, as is every platform quantd builds for (PLATFORM.md).
    std::memcpy(data.labels.data(), received.labels_file.data(), received.labels_file.size());
  }

  const std::vector<std::string_view> images(received.images.begin(), received.images.end());
  absl::StatusOr<engine::Tensor> batch = engine::PreprocessImageBatch(images, spec);
  if (!batch.ok()) {
    return absl::Status(batch.status().code(),
                        absl::StrCat("dataset '", name, "': ", batch.status().message()));
  }
  data.sample_shape = spec.SampleShape();
  data.num_samples = num_images;
  data.samples = std::move(batch->data);
  return data;
}

}  // namespace

absl::StatusOr<engine::Dataset> DecodeDataset(const ReceivedDataset& received,
                                              const std::filesystem::path& scratch_dir,
                                              int64_t max_sample_bytes) {
  if (received.header.format() == v1::ENCODED_IMAGES) return DecodeEncodedImages(received);
  const ScratchFile& samples = *received.samples;
  ScratchFile labels(scratch_dir, "labels");
  const bool has_labels = !received.labels_file.empty();
  if (has_labels) {
    if (absl::Status s = labels.Append(received.labels_file); !s.ok()) return s;
    if (absl::Status s = labels.Close(); !s.ok()) return s;
  }
  const std::string labels_path = has_labels ? labels.path().string() : std::string();

  absl::StatusOr<engine::Dataset> data;
  try {
    if (received.header.format() == v1::IDX) {
      const float scale =
          received.header.pixel_scale() == 0 ? 1.0f / 255.0f : received.header.pixel_scale();
      data = engine::ReadIdxDataset(samples.path().string(), labels_path, scale,
                                    static_cast<uint64_t>(max_sample_bytes));
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
    // Both the decoded size and the gzip bound derived from it are this flag's.
    const bool over_limit = data.status().code() == absl::StatusCode::kResourceExhausted ||
                            (absl::StrContains(message, "inflates to more than") &&
                             absl::StrContains(message, "SAMPLES part"));
    return absl::Status(
        over_limit ? absl::StatusCode::kResourceExhausted : data.status().code(),
        absl::StrCat("dataset '", received.header.name(), "': ", message,
                     over_limit ? absl::StrCat(" (--max_dataset_bytes is ", max_sample_bytes,
                                               " bytes of decoded samples)")
                                : ""));
  }
  if (data->num_samples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset '", received.header.name(), "' holds no samples"));
  }
  return data;
}

}  // namespace quantd::server
