#include "engine/data/dataset.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/data/gzip.h"
#include "engine/data/idx_file.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Bounds what a gzip file may inflate to. Fashion-MNIST's largest file
// inflates to 47 MB; 1 GiB leaves room for bigger sets while refusing
// decompression bombs before they exhaust memory.
constexpr size_t kMaxInflatedBytes = size_t{1} << 30;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using OwnedFile = std::unique_ptr<std::FILE, FileCloser>;

// Opens `path` for reading, with errors naming `what`.
absl::StatusOr<OwnedFile> OpenForReading(std::string_view path, const std::string& what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": path is empty"));
  const std::string path_str(path);
  OwnedFile file(std::fopen(path_str.c_str(), "rb"));
  if (file == nullptr) {
    const int error = errno;
    return absl::Status(absl::ErrnoToStatusCode(error),
                        absl::StrCat(what, ": cannot open: ", std::strerror(error)));
  }
  return file;
}

// The size of the open `file` in bytes; INVALID_ARGUMENT unless it is a
// regular file (a directory opens fine but has no size worth allocating).
absl::StatusOr<uint64_t> RegularFileSize(std::FILE* file, const std::string& what) {
  struct stat info {};
  if (fstat(fileno(file), &info) != 0) {
    const int error = errno;
    return absl::Status(absl::ErrnoToStatusCode(error),
                        absl::StrCat(what, ": cannot stat: ", std::strerror(error)));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a regular file"));
  }
  return static_cast<uint64_t>(info.st_size);
}

absl::StatusOr<std::string> ReadWholeFile(std::string_view path, const std::string& what) {
  ASSIGN_OR_RETURN(const OwnedFile file, OpenForReading(path, what));
  std::string contents;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    contents.append(buffer, n);
  }
  if (std::ferror(file.get())) {
    const int error = errno;
    return absl::Status(absl::ErrnoToStatusCode(error),
                        absl::StrCat(what, ": read failed: ", std::strerror(error)));
  }
  return contents;
}

// Reads an IDX file, inflating it first if it is gzip-compressed (detected by
// content, not by the ".gz" suffix, so renamed files still load).
absl::StatusOr<IdxUbyteArray> ReadIdxUbyteFile(std::string_view path, int expected_rank,
                                               const std::string& what,
                                               size_t max_inflated_bytes = kMaxInflatedBytes) {
  ASSIGN_OR_RETURN(std::string contents, ReadWholeFile(path, what));
  if (IsGzip(contents)) {
    ASSIGN_OR_RETURN(contents, Gunzip(contents, what, max_inflated_bytes));
  }
  return ParseIdxUbyte(std::move(contents), expected_rank, what);
}

// Decoded byte by byte so the result does not depend on the host's byte order.
uint32_t LoadLittleEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

}  // namespace

Tensor Dataset::Batch(int64_t start, int64_t count) const {
  // Out-of-range requests are a caller bug; clamping keeps them from reading
  // past the buffer, and the returned shape shows how many samples came back.
  start = std::clamp<int64_t>(start, 0, num_samples);
  count = std::clamp<int64_t>(count, 0, num_samples - start);
  const int64_t sample_size = SampleSize();
  Tensor batch;
  batch.shape.reserve(sample_shape.size() + 1);
  batch.shape.push_back(count);
  batch.shape.insert(batch.shape.end(), sample_shape.begin(), sample_shape.end());
  batch.data.assign(samples.begin() + start * sample_size,
                    samples.begin() + (start + count) * sample_size);
  return batch;
}

absl::StatusOr<Dataset> ReadIdxDataset(std::string_view images_file, std::string_view labels_file,
                                       float pixel_scale, uint64_t max_sample_bytes) {
  if (!std::isfinite(pixel_scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat("pixel_scale must be finite, got ", pixel_scale));
  }
  const std::string images_what = absl::StrCat("images file '", std::string(images_file), "'");
  // One float per pixel byte, plus the IDX header (at most 16 bytes for rank 3).
  const size_t max_inflated = static_cast<size_t>(
      std::min<uint64_t>(kMaxInflatedBytes, (max_sample_bytes + 3) / sizeof(float) + 16));
  ASSIGN_OR_RETURN(IdxUbyteArray images,
                   ReadIdxUbyteFile(images_file, 3, images_what, max_inflated));
  const uint64_t sample_bytes = uint64_t{images.values.size()} * sizeof(float);
  if (sample_bytes > max_sample_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        images_what, ": ", images.dims[0], " images of ", images.dims[1], "x", images.dims[2],
        " decode to ", sample_bytes, " bytes of float32 samples, over the limit of ",
        max_sample_bytes, " bytes"));
  }

  Dataset data;
  data.num_samples = images.dims[0];
  data.sample_shape = {1, images.dims[1], images.dims[2]};
  data.samples.resize(images.values.size());
  std::transform(images.values.begin(), images.values.end(), data.samples.begin(),
                 [pixel_scale](char c) { return static_cast<unsigned char>(c) * pixel_scale; });

  if (labels_file.empty()) return data;
  const std::string labels_what = absl::StrCat("labels file '", std::string(labels_file), "'");
  // One byte per image plus the header: inflating further cannot be right.
  ASSIGN_OR_RETURN(IdxUbyteArray labels,
                   ReadIdxUbyteFile(labels_file, 1, labels_what,
                                    static_cast<size_t>(images.dims[0]) + 16));
  if (labels.dims[0] != data.num_samples) {
    return absl::InvalidArgumentError(absl::StrCat(labels_what, " holds ", labels.dims[0],
                                                   " labels, but ", images_what, " holds ",
                                                   data.num_samples, " images"));
  }
  data.labels.resize(labels.values.size());
  std::transform(labels.values.begin(), labels.values.end(), data.labels.begin(),
                 [](char c) { return int32_t{static_cast<unsigned char>(c)}; });
  return data;
}

absl::StatusOr<Dataset> ReadRawFloat32Dataset(std::string_view samples_file,
                                              std::string_view labels_file,
                                              const std::vector<int64_t>& sample_shape) {
  const std::string samples_what = absl::StrCat("samples file '", std::string(samples_file), "'");
  const std::string shape_text = absl::StrCat("[", absl::StrJoin(sample_shape, ", "), "]");
  if (sample_shape.empty()) {
    return absl::InvalidArgumentError("sample shape is empty; give at least one dimension");
  }
  for (size_t i = 0; i < sample_shape.size(); ++i) {
    if (sample_shape[i] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("sample shape ", shape_text, ": dimension ", i, " must be positive"));
    }
  }
  // Read straight into the samples, not through a whole-file string: a
  // dataset of 600 MB then costs 600 MB, not two or three times that.
  ASSIGN_OR_RETURN(const OwnedFile file, OpenForReading(samples_file, samples_what));
  ASSIGN_OR_RETURN(const uint64_t file_bytes, RegularFileSize(file.get(), samples_what));
  if (file_bytes == 0) {
    return absl::InvalidArgumentError(absl::StrCat(samples_what, " is empty"));
  }
  if (file_bytes % sizeof(float) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(samples_what, ": size ", file_bytes,
                                                   " bytes is not a multiple of 4 (float32)"));
  }
  const uint64_t num_floats = file_bytes / sizeof(float);
  // Multiplied up against the file size so a huge shape cannot overflow.
  uint64_t sample_size = 1;
  for (int64_t d : sample_shape) {
    if (sample_size > num_floats / static_cast<uint64_t>(d)) {
      sample_size = 0;
      break;
    }
    sample_size *= static_cast<uint64_t>(d);
  }
  if (sample_size == 0 || num_floats % sample_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(samples_what, " holds ", num_floats,
                     " floats, which is not a whole number of samples of shape ", shape_text));
  }

  Dataset data;
  data.sample_shape = sample_shape;
  data.num_samples = static_cast<int64_t>(num_floats / sample_size);
  // Non-finite values are kept: a dataset may legitimately probe them, and
  // the calibrator and evaluator cope with NaN.
  data.samples.resize(num_floats);
  char* const raw = reinterpret_cast<char*>(data.samples.data());
  if (std::fread(raw, 1, file_bytes, file.get()) != file_bytes) {
    const int error = std::ferror(file.get()) ? errno : 0;
    return absl::Status(
        error != 0 ? absl::ErrnoToStatusCode(error) : absl::StatusCode::kDataLoss,
        absl::StrCat(samples_what, ": read failed: ",
                     error != 0 ? std::strerror(error) : "file shrank while being read"));
  }
  // The file is little-endian: decode each float in place (a no-op copy on
  // little-endian hosts, correct on any).
  for (uint64_t i = 0; i < num_floats; ++i) {
    data.samples[i] = std::bit_cast<float>(LoadLittleEndian32(raw + 4 * i));
  }

  if (labels_file.empty()) return data;
  const std::string labels_what = absl::StrCat("labels file '", std::string(labels_file), "'");
  ASSIGN_OR_RETURN(const std::string label_bytes, ReadWholeFile(labels_file, labels_what));
  const uint64_t expected_bytes = num_floats / sample_size * sizeof(int32_t);
  if (label_bytes.size() != expected_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(labels_what, " has ", label_bytes.size(), " bytes, expected ", expected_bytes,
                     " (one little-endian int32 for each of the ", data.num_samples, " samples in ",
                     samples_what, ")"));
  }
  data.labels.resize(data.num_samples);
  for (int64_t i = 0; i < data.num_samples; ++i) {
    data.labels[i] = static_cast<int32_t>(LoadLittleEndian32(&label_bytes[4 * i]));
  }
  return data;
}

}  // namespace quantd::engine
