#include "engine/data/image_preprocessing.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace quantd::engine {
namespace {

// Limits a single decoded image to something a CNN input could plausibly be;
// beyond this a request is a mistake or an attack on memory.
constexpr int64_t kMaxSide = 8192;

// Failing indices named in one message; the rest are counted, so a folder of
// garbage does not produce a megabyte-long status.
constexpr size_t kMaxListedFailures = 20;

absl::Status ValidatePerChannel(const std::vector<float>& values, const char* field,
                                int64_t channels) {
  if (!values.empty() && static_cast<int64_t>(values.size()) != channels) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "preprocessing.%s has %d values but the color order gives %d channel(s); give one per "
        "channel or none",
        field, values.size(), channels));
  }
  for (float v : values) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("preprocessing.%s holds a non-finite value", field));
    }
  }
  return absl::OkStatus();
}

struct ImageSize {
  int64_t rows = 0;
  int64_t cols = 0;
};

uint32_t BigEndian32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

// The size a PNG or JPEG header declares, read without decoding anything
// (nullopt for other formats and for headers too short to say): a 100-byte
// image that declares 100000x100000 pixels is refused before OpenCV
// allocates for it.
std::optional<ImageSize> DeclaredSize(std::string_view bytes) {
  // BMP: "BM", then a BITMAPINFOHEADER (or larger) whose width and height
  // are little-endian int32 at 18 and 22 (a negative height: top-down rows).
  if (bytes.size() >= 26 && bytes.substr(0, 2) == "BM") {
    const auto le32 = [&](size_t i) {
      uint32_t v = 0;
      for (int k = 3; k >= 0; --k) v = v << 8 | static_cast<unsigned char>(bytes[i + k]);
      return static_cast<int32_t>(v);
    };
    const int64_t width = le32(18);
    const int64_t height = le32(22);
    return ImageSize{height < 0 ? -height : height, width < 0 ? -width : width};
  }
  // PNG: signature, then the IHDR chunk: width and height at 16 and 20.
  if (bytes.size() >= 24 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8) &&
      bytes.substr(12, 4) == "IHDR") {
    return ImageSize{BigEndian32(bytes, 20), BigEndian32(bytes, 16)};
  }
  // JPEG: SOI, then segments up to a start-of-frame marker (C0-CF except
  // C4 DHT, C8 JPG, CC DAC), whose payload holds precision, height, width.
  if (bytes.size() < 4 || static_cast<unsigned char>(bytes[0]) != 0xFF ||
      static_cast<unsigned char>(bytes[1]) != 0xD8) {
    return std::nullopt;
  }
  size_t at = 2;
  while (at + 9 <= bytes.size()) {
    if (static_cast<unsigned char>(bytes[at]) != 0xFF) return std::nullopt;
    if (static_cast<unsigned char>(bytes[at + 1]) == 0xFF) {  // fill byte before a marker
      ++at;
      continue;
    }
    const unsigned marker = static_cast<unsigned char>(bytes[at + 1]);
    const size_t length = static_cast<size_t>(static_cast<unsigned char>(bytes[at + 2])) << 8 |
                          static_cast<unsigned char>(bytes[at + 3]);
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      const auto u16 = [&](size_t i) {
        return static_cast<int64_t>(static_cast<unsigned char>(bytes[i])) << 8 |
               static_cast<unsigned char>(bytes[i + 1]);
      };
      return ImageSize{u16(at + 5), u16(at + 7)};
    }
    if (length < 2) return std::nullopt;
    at += 2 + length;
  }
  return std::nullopt;
}

absl::Status CheckSides(int64_t rows, int64_t cols, const char* what) {
  if (rows > kMaxSide || cols > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image %s %dx%d; sides above %d are not accepted", what, rows, cols, kMaxSide));
  }
  return absl::OkStatus();
}

// Decodes into 8-bit pixels in the requested color order (OpenCV decodes
// color images as BGR).
absl::StatusOr<cv::Mat> Decode(std::string_view encoded, ColorOrder color_order) {
  if (encoded.empty()) return absl::InvalidArgumentError("image is empty (0 bytes)");
  // Only formats whose size is read from the header before decoding: OpenCV
  // reads many more (DICOM, JPEG 2000, OpenEXR, ...), and a 1 KB DICOM file
  // declaring a 2 GB element made it allocate 2 GB (found by fuzzing).
  const std::optional<ImageSize> declared = DeclaredSize(encoded);
  if (!declared.has_value()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "image (%d bytes) is not a PNG, JPEG or BMP file with a readable header; quantd decodes "
        "only these, whose size it checks before decoding",
        encoded.size()));
  }
  RETURN_IF_ERROR(CheckSides(declared->rows, declared->cols, "header declares"));
  const cv::Mat buffer(1, static_cast<int>(encoded.size()), CV_8UC1,
                       const_cast<char*>(encoded.data()));
  const int mode = color_order == ColorOrder::kGrayscale ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;
  cv::Mat decoded = cv::imdecode(buffer, mode);
  // imdecode signals garbage with an empty Mat, not an exception.
  if (decoded.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "could not decode image (%d bytes): a PNG, JPEG or BMP header, but not a valid image",
        encoded.size()));
  }
  RETURN_IF_ERROR(CheckSides(decoded.rows, decoded.cols, "is"));
  if (color_order == ColorOrder::kRgb) cv::cvtColor(decoded, decoded, cv::COLOR_BGR2RGB);
  return decoded;
}

// Scales the image so its shorter side is `shorter_side`, keeping the aspect
// ratio. Area interpolation when shrinking avoids aliasing; linear when growing.
// The longer side is held to the same limit as a decoded image's: a 1x8192
// image resized to a shorter side of 256 would be 256x2,097,152.
absl::StatusOr<cv::Mat> ResizeShorterSide(const cv::Mat& image, int64_t shorter_side) {
  const int64_t rows = image.rows;
  const int64_t cols = image.cols;
  const int64_t shorter = std::min(rows, cols);
  if (shorter == shorter_side) return image;
  const double factor = static_cast<double>(shorter_side) / static_cast<double>(shorter);
  // The longer side rounds to at least the shorter one, so a square crop of
  // `shorter_side` always fits.
  const int64_t new_rows = rows <= cols ? shorter_side : std::llround(rows * factor);
  const int64_t new_cols = rows <= cols ? std::llround(cols * factor) : shorter_side;
  RETURN_IF_ERROR(CheckSides(new_rows, new_cols, "would be resized to"));
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(static_cast<int>(new_cols), static_cast<int>(new_rows)), 0,
             0, factor < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return resized;
}

// Writes one preprocessed sample ({channels, crop_height, crop_width}) to `out`.
absl::Status PreprocessInto(std::string_view encoded, const ImagePreprocessing& spec, float* out) {
  try {
    absl::StatusOr<cv::Mat> decoded = Decode(encoded, spec.color_order);
    if (!decoded.ok()) return decoded.status();
    cv::Mat image = *decoded;
    if (spec.resize_shorter_side > 0) {
      ASSIGN_OR_RETURN(image, ResizeShorterSide(*decoded, spec.resize_shorter_side));
    }
    if (image.rows < spec.crop_height || image.cols < spec.crop_width) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "image is %dx%d (after resize), smaller than the %dx%d crop; set "
          "preprocessing.resize_shorter_side or a smaller crop",
          image.rows, image.cols, spec.crop_height, spec.crop_width));
    }
    const int top = static_cast<int>((image.rows - spec.crop_height) / 2);
    const int left = static_cast<int>((image.cols - spec.crop_width) / 2);
    const cv::Mat crop = image(cv::Rect(left, top, static_cast<int>(spec.crop_width),
                                        static_cast<int>(spec.crop_height)));

    const int64_t channels = spec.channels();
    const int64_t plane = spec.crop_height * spec.crop_width;
    for (int64_t c = 0; c < channels; ++c) {
      const float mean = spec.mean.empty() ? 0.0f : spec.mean[c];
      const float inv_std = spec.std.empty() ? 1.0f : 1.0f / spec.std[c];
      float* channel_out = out + c * plane;
      // OpenCV stores pixels interleaved (HWC); the engine's tensors are planar (CHW).
      for (int64_t y = 0; y < spec.crop_height; ++y) {
        const uint8_t* row = crop.ptr<uint8_t>(static_cast<int>(y));
        for (int64_t x = 0; x < spec.crop_width; ++x) {
          const float pixel = static_cast<float>(row[x * channels + c]) * spec.scale;
          channel_out[y * spec.crop_width + x] = (pixel - mean) * inv_std;
        }
      }
    }
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("could not decode image: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateImagePreprocessing(const ImagePreprocessing& spec) {
  if (spec.crop_height < 1 || spec.crop_height > kMaxSide || spec.crop_width < 1 ||
      spec.crop_width > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "preprocessing.crop_height x crop_width is %dx%d; both must be in 1..%d (the model "
        "input's height and width)",
        spec.crop_height, spec.crop_width, kMaxSide));
  }
  if (spec.resize_shorter_side < 0 || spec.resize_shorter_side > kMaxSide) {
    return absl::InvalidArgumentError(
        absl::StrFormat("preprocessing.resize_shorter_side is %d; it must be in 0..%d (0: no "
                        "resize)",
                        spec.resize_shorter_side, kMaxSide));
  }
  if (spec.resize_shorter_side > 0 && (spec.crop_height > spec.resize_shorter_side ||
                                       spec.crop_width > spec.resize_shorter_side)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "preprocessing crop %dx%d is larger than the resized image's shorter side %d; crop at "
        "most resize_shorter_side",
        spec.crop_height, spec.crop_width, spec.resize_shorter_side));
  }
  if (!std::isfinite(spec.scale) || spec.scale <= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("preprocessing.scale must be positive and finite, got %g", spec.scale));
  }
  if (absl::Status s = ValidatePerChannel(spec.mean, "mean", spec.channels()); !s.ok()) return s;
  if (absl::Status s = ValidatePerChannel(spec.std, "std", spec.channels()); !s.ok()) return s;
  for (float s : spec.std) {
    if (s <= 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("preprocessing.std values must be > 0, got %g", s));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Tensor> PreprocessImage(std::string_view encoded, const ImagePreprocessing& spec) {
  if (absl::Status s = ValidateImagePreprocessing(spec); !s.ok()) return s;
  Tensor tensor;
  tensor.shape = {1, spec.channels(), spec.crop_height, spec.crop_width};
  tensor.data.resize(static_cast<size_t>(tensor.NumElements()));
  if (absl::Status s = PreprocessInto(encoded, spec, tensor.data.data()); !s.ok()) return s;
  return tensor;
}

absl::StatusOr<Tensor> PreprocessImageBatch(const std::vector<std::string_view>& images,
                                            const ImagePreprocessing& spec) {
  if (absl::Status s = ValidateImagePreprocessing(spec); !s.ok()) return s;
  Tensor batch;
  batch.shape = {static_cast<int64_t>(images.size()), spec.channels(), spec.crop_height,
                 spec.crop_width};
  batch.data.resize(static_cast<size_t>(batch.NumElements()));
  const int64_t sample_size = spec.channels() * spec.crop_height * spec.crop_width;

  std::vector<size_t> failed;
  absl::Status first_failure;
  for (size_t i = 0; i < images.size(); ++i) {
    absl::Status s = PreprocessInto(images[i], spec, batch.data.data() + i * sample_size);
    if (s.ok()) continue;
    if (failed.empty()) first_failure = s;
    failed.push_back(i);
  }
  if (failed.empty()) return batch;

  const size_t listed = std::min(failed.size(), kMaxListedFailures);
  std::string indices = absl::StrJoin(failed.begin(), failed.begin() + listed, ", ");
  if (listed < failed.size()) absl::StrAppend(&indices, ", ... (", failed.size(), " in all)");
  return absl::InvalidArgumentError(absl::StrCat(
      failed.size() == 1 ? "image " : "images ", indices,
      failed.size() == 1 ? " is" : " are", " not decodable (image ", failed.front(), ": ",
      first_failure.message(), ")"));
}

}  // namespace quantd::engine
