#ifndef QUANTD_ENGINE_DATA_DATASET_H_
#define QUANTD_ENGINE_DATA_DATASET_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace quantd::engine {

// A set of float32 samples of one shape, with optional integer labels.
// Samples are stored contiguously in plain (CHW) order.
struct Dataset {
  std::vector<int64_t> sample_shape;  // e.g. {1, 28, 28}
  int64_t num_samples = 0;
  std::vector<float> samples;         // num_samples * prod(sample_shape)
  std::vector<int32_t> labels;        // empty, or one per sample

  int64_t SampleSize() const {
    int64_t n = 1;
    for (int64_t d : sample_shape) n *= d;
    return n;
  }
  bool has_labels() const { return !labels.empty(); }

  // Samples [start, start + count) as one tensor of shape {count, sample_shape...}.
  // `start + count` must not exceed num_samples.
  Tensor Batch(int64_t start, int64_t count) const;
};

// Reads the IDX files at the given paths (the MNIST/Fashion-MNIST format),
// gzip-compressed or not. Images (ubyte, rank 3: N x H x W) become samples of
// shape {1, H, W} with pixel values multiplied by `pixel_scale`. Labels
// (ubyte, rank 1) are optional: pass an empty path. Errors name what is wrong
// with which file. The decoded samples (4 bytes per pixel) may take at most
// `max_sample_bytes`: RESOURCE_EXHAUSTED beyond, before they are allocated,
// and a gzip stream is not inflated past what that allows (a 0.5 MB gzip of
// zeros would otherwise become 2 GiB of samples).
absl::StatusOr<Dataset> ReadIdxDataset(std::string_view images_file,
                                       std::string_view labels_file,
                                       float pixel_scale,
                                       uint64_t max_sample_bytes = uint64_t{4} << 30);

// Reads the file at `samples_file` as little-endian float32 samples of
// `sample_shape`; `labels_file` is an empty path or names a file of one
// little-endian int32 per sample.
absl::StatusOr<Dataset> ReadRawFloat32Dataset(std::string_view samples_file,
                                              std::string_view labels_file,
                                              const std::vector<int64_t>& sample_shape);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_DATA_DATASET_H_
