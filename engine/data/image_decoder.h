#ifndef QUANTD_ENGINE_DATA_IMAGE_DECODER_H_
#define QUANTD_ENGINE_DATA_IMAGE_DECODER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace quantd::engine {

// How an encoded image becomes a model input: decoded with OpenCV, converted
// to `channels` (1: grayscale, 3: RGB), resized to height x width (area
// interpolation when shrinking, linear when growing) and multiplied by
// `pixel_scale` (1/255 maps 8-bit pixels to [0, 1], as the fixtures expect).
struct ImageInputSpec {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  float pixel_scale = 1.0f / 255.0f;
};

// Decodes a PNG/JPEG/BMP/... image into a {1, channels, height, width} tensor.
// INVALID_ARGUMENT if the bytes are not an image OpenCV can decode or the spec
// is out of range.
absl::StatusOr<Tensor> DecodeImage(std::string_view encoded, const ImageInputSpec& spec);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_DATA_IMAGE_DECODER_H_
