#include "server/wire/preprocessing_spec.h"

#include "absl/strings/str_cat.h"

namespace quantd::server {

absl::StatusOr<engine::ImagePreprocessing> ToImagePreprocessing(
    const v1::PreprocessingSpec& spec) {
  engine::ImagePreprocessing out;
  switch (spec.color_order()) {
    case v1::COLOR_ORDER_UNSPECIFIED:
    case v1::RGB:
      out.color_order = engine::ColorOrder::kRgb;
      break;
    case v1::BGR:
      out.color_order = engine::ColorOrder::kBgr;
      break;
    case v1::GRAYSCALE:
      out.color_order = engine::ColorOrder::kGrayscale;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("preprocessing.color_order ",
                                                     static_cast<int>(spec.color_order()),
                                                     " is not a ColorOrder"));
  }
  out.resize_shorter_side = spec.resize_shorter_side();
  out.crop_height = spec.crop_height();
  out.crop_width = spec.crop_width();
  out.scale = spec.scale() == 0 ? 1.0f / 255.0f : spec.scale();
  out.mean.assign(spec.mean().begin(), spec.mean().end());
  out.std.assign(spec.std().begin(), spec.std().end());
  if (absl::Status s = engine::ValidateImagePreprocessing(out); !s.ok()) return s;
  return out;
}

}  // namespace quantd::server
