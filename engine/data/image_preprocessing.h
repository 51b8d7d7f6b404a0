#ifndef QUANTD_ENGINE_DATA_IMAGE_PREPROCESSING_H_
#define QUANTD_ENGINE_DATA_IMAGE_PREPROCESSING_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace quantd::engine {

enum class ColorOrder { kRgb, kBgr, kGrayscale };

// How an encoded image becomes one model input sample, in this order: decode
// (OpenCV), convert to `color_order`, resize so the shorter side is
// `resize_shorter_side` (0: keep the size), center-crop to crop_height x
// crop_width, multiply by `scale`, then per channel subtract `mean` and divide
// by `std`. The sample is planar float32 [channels, crop_height, crop_width].
// Mirrors quantd.v1.PreprocessingSpec; the server converts between the two.
struct ImagePreprocessing {
  ColorOrder color_order = ColorOrder::kRgb;
  int64_t resize_shorter_side = 0;
  int64_t crop_height = 0;
  int64_t crop_width = 0;
  float scale = 1.0f / 255.0f;
  std::vector<float> mean;  // empty: 0 for every channel; else one per channel
  std::vector<float> std;   // empty: 1 for every channel; else one per channel, > 0

  int64_t channels() const { return color_order == ColorOrder::kGrayscale ? 1 : 3; }
  // {channels, crop_height, crop_width}
  std::vector<int64_t> SampleShape() const {
    return {channels(), crop_height, crop_width};
  }
};

// INVALID_ARGUMENT naming the field when the spec cannot produce a sample:
// crop sizes outside 1..8192, a crop larger than `resize_shorter_side`, a
// non-finite or negative scale, mean/std sizes that do not match the channel
// count, a std <= 0.
absl::Status ValidateImagePreprocessing(const ImagePreprocessing& spec);

// Decodes and preprocesses one encoded image (PNG, JPEG or BMP: formats whose
// size is checked from the header before decoding) into a
// {1, channels, crop_height, crop_width} tensor. INVALID_ARGUMENT if the bytes
// are not such an image, the spec is invalid, or (without a
// resize) the image is smaller than the crop.
absl::StatusOr<Tensor> PreprocessImage(std::string_view encoded, const ImagePreprocessing& spec);

// Preprocesses every image into one {N, channels, crop_height, crop_width}
// tensor. If any image fails, INVALID_ARGUMENT listing the indices (0-based,
// in `images` order) of all that failed and the first failure's reason, e.g.
// "images 3, 17 are not decodable (image 3: ...)"; a caller never gets a
// batch with silently dropped samples.
absl::StatusOr<Tensor> PreprocessImageBatch(const std::vector<std::string_view>& images,
                                            const ImagePreprocessing& spec);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_DATA_IMAGE_PREPROCESSING_H_
