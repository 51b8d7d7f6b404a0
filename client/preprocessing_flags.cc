#include "client/preprocessing_flags.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace quantd::client {
namespace {

absl::StatusOr<std::vector<float>> ParseFloats(const std::string& text, const char* flag) {
  std::vector<float> values;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    float v = 0;
    if (!absl::SimpleAtof(part, &v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", flag, " must be numbers separated by commas, one per channel, e.g. --", flag,
          "=0.485,0.456,0.406; got '", text, "'"));
    }
    values.push_back(v);
  }
  return values;
}

}  // namespace

absl::StatusOr<std::optional<v1::PreprocessingSpec>> PreprocessingFromFlags(
    const ClientOptions& o) {
  const bool any_other = o.resize_shorter_side != 0 || o.scale != 0 || !o.pixel_mean.empty() ||
                         !o.pixel_std.empty() || !o.color.empty();
  if (o.crop.empty()) {
    if (!any_other) return std::nullopt;
    return absl::InvalidArgumentError(
        "--resize_shorter_side, --scale, --mean, --std and --color need --crop=HxW (the model "
        "input's height and width)");
  }
  v1::PreprocessingSpec spec;
  const std::vector<std::string> sides = absl::StrSplit(o.crop, 'x');
  int32_t height = 0;
  int32_t width = 0;
  if (sides.size() != 2 || !absl::SimpleAtoi(sides[0], &height) ||
      !absl::SimpleAtoi(sides[1], &width)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--crop must be HEIGHTxWIDTH, e.g. --crop=224x224; got '", o.crop, "'"));
  }
  spec.set_crop_height(height);
  spec.set_crop_width(width);
  spec.set_resize_shorter_side(o.resize_shorter_side);
  spec.set_scale(o.scale);
  absl::StatusOr<std::vector<float>> mean = ParseFloats(o.pixel_mean, "mean");
  if (!mean.ok()) return mean.status();
  absl::StatusOr<std::vector<float>> std_values = ParseFloats(o.pixel_std, "std");
  if (!std_values.ok()) return std_values.status();
  spec.mutable_mean()->Add(mean->begin(), mean->end());
  spec.mutable_std()->Add(std_values->begin(), std_values->end());
  const std::string color = absl::AsciiStrToLower(o.color);
  if (color.empty() || color == "rgb") {
    spec.set_color_order(v1::RGB);
  } else if (color == "bgr") {
    spec.set_color_order(v1::BGR);
  } else if (color == "gray" || color == "grayscale") {
    spec.set_color_order(v1::GRAYSCALE);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--color must be rgb, bgr or gray; got '", o.color, "'"));
  }
  return spec;
}

std::string FormatPreprocessing(const v1::PreprocessingSpec& spec) {
  std::string out = absl::StrCat("crop ", spec.crop_height(), "x", spec.crop_width());
  if (spec.resize_shorter_side() > 0) absl::StrAppend(&out, ", resize ", spec.resize_shorter_side());
  absl::StrAppend(&out, ", scale ", spec.scale() == 0 ? 1.0f / 255.0f : spec.scale());
  if (!spec.mean().empty()) absl::StrAppend(&out, ", mean [", absl::StrJoin(spec.mean(), ","), "]");
  if (!spec.std().empty()) absl::StrAppend(&out, ", std [", absl::StrJoin(spec.std(), ","), "]");
  absl::StrAppend(&out, ", ",
                  spec.color_order() == v1::COLOR_ORDER_UNSPECIFIED
                      ? "RGB"
                      : v1::ColorOrder_Name(spec.color_order()));
  return out;
}

}  // namespace quantd::client
