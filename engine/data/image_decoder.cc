#include "engine/data/image_decoder.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace quantd::engine {
namespace {

// Limits a single decoded image to something a CNN input could plausibly be;
// beyond this a request is a mistake or an attack on memory.
constexpr int64_t kMaxSide = 8192;

}  // namespace

absl::StatusOr<Tensor> DecodeImage(std::string_view encoded, const ImageInputSpec& spec) {
  if (spec.channels != 1 && spec.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrFormat("image input must have 1 or 3 channels, not %d", spec.channels));
  }
  if (spec.height < 1 || spec.width < 1 || spec.height > kMaxSide || spec.width > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image input size %dx%d is outside 1..%d", spec.height, spec.width, kMaxSide));
  }
  if (encoded.empty()) return absl::InvalidArgumentError("image is empty (0 bytes)");

  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(encoded.size()), CV_8UC1,
                         const_cast<char*>(encoded.data()));
    const int mode = spec.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;
    decoded = cv::imdecode(buffer, mode);
    // imdecode signals garbage with an empty Mat, not an exception.
    if (decoded.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "could not decode image (%d bytes): not a PNG, JPEG or other format OpenCV reads",
          encoded.size()));
    }
    if (spec.channels == 3) cv::cvtColor(decoded, decoded, cv::COLOR_BGR2RGB);
    if (decoded.rows != spec.height || decoded.cols != spec.width) {
      const bool shrinking = decoded.rows > spec.height || decoded.cols > spec.width;
      cv::resize(decoded, decoded,
                 cv::Size(static_cast<int>(spec.width), static_cast<int>(spec.height)), 0, 0,
                 shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrFormat("could not decode image: %s", e.what()));
  }

  Tensor tensor;
  tensor.shape = {1, spec.channels, spec.height, spec.width};
  tensor.data.resize(static_cast<size_t>(tensor.NumElements()));
  // OpenCV stores pixels interleaved (HWC); the engine's tensors are planar (CHW).
  const int64_t plane = spec.height * spec.width;
  for (int64_t y = 0; y < spec.height; ++y) {
    const uint8_t* row = decoded.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < spec.width; ++x) {
      for (int64_t c = 0; c < spec.channels; ++c) {
        tensor.data[c * plane + y * spec.width + x] =
            static_cast<float>(row[x * spec.channels + c]) * spec.pixel_scale;
      }
    }
  }
  return tensor;
}

}  // namespace quantd::engine
