#include "engine/runtime/resize_kernel.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// The source coordinate of output index `x` (ONNX's
// coordinate_transformation_mode formulas). The resized length is in * scale
// unrounded, as ONNX's reference computes it: with scale 0.6, align_corners
// maps 4 columns onto 2.4, not 2.
absl::StatusOr<double> SourceCoordinate(const ResizeMode& mode, double x, int64_t in, double scale,
                                        double roi_start, double roi_end) {
  const std::string& t = mode.transform;
  const double resized = double(in) * scale;
  if (t == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (t == "pytorch_half_pixel") return resized > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (t == "align_corners") return resized == 1 ? 0.0 : x * double(in - 1) / (resized - 1);
  if (t == "asymmetric") return x / scale;
  if (t == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  if (t == "tf_crop_and_resize") {
    return resized > 1 ? roi_start * (in - 1) + x * (roi_end - roi_start) * (in - 1) / (resized - 1)
                       : 0.5 * (roi_start + roi_end) * (in - 1);
  }
  return absl::UnimplementedError(absl::StrCat("coordinate_transformation_mode '", t, "'"));
}

absl::StatusOr<int64_t> NearestIndex(const std::string& nearest_mode, double v) {
  const double floor = std::floor(v);
  const bool half = v - floor == 0.5;
  if (nearest_mode == "round_prefer_floor") return int64_t(half ? floor : std::round(v));
  if (nearest_mode == "round_prefer_ceil") return int64_t(half ? floor + 1 : std::round(v));
  if (nearest_mode == "floor") return int64_t(floor);
  if (nearest_mode == "ceil") return int64_t(std::ceil(v));
  return absl::UnimplementedError(absl::StrCat("nearest_mode '", nearest_mode, "'"));
}

// Keys' cubic convolution weights of taps x0 - 1 .. x0 + 2 for a source
// coordinate x0 + t.
std::array<double, 4> CubicWeights(double t, double a) {
  auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };       // |d| <= 1
  auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
  return {far(t + 1), near(t), near(1 - t), far(2 - t)};
}

}  // namespace

absl::StatusOr<AxisTaps> ComputeAxisTaps(const ResizeMode& mode, int64_t in, int64_t out,
                                         double scale, double roi_start, double roi_end) {
  AxisTaps axis;
  if (mode.mode == "nearest") {
    axis.taps = 1;
  } else if (mode.mode == "linear") {
    axis.taps = 2;
  } else if (mode.mode == "cubic") {
    axis.taps = 4;
  } else {
    return absl::UnimplementedError(absl::StrCat("mode '", mode.mode, "'"));
  }
  axis.index.reserve(out * axis.taps);
  axis.weight.reserve(out * axis.taps);
  axis.outside.assign(out, 0);
  for (int64_t o = 0; o < out; ++o) {
    ASSIGN_OR_RETURN(const double v,
                     SourceCoordinate(mode, double(o), in, scale, roi_start, roi_end));
    if (mode.transform == "tf_crop_and_resize" && (v < 0 || v > in - 1)) axis.outside[o] = 1;
    auto clamp = [in](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
    if (axis.taps == 1) {
      ASSIGN_OR_RETURN(const int64_t nearest, NearestIndex(mode.nearest_mode, v));
      axis.index.push_back(clamp(nearest));
      axis.weight.push_back(1.0f);
      continue;
    }
    const double x0 = std::floor(v), t = v - x0;
    std::array<double, 4> weights = {1 - t, t, 0, 0};
    int64_t first = int64_t(x0);
    if (axis.taps == 4) {
      weights = CubicWeights(t, mode.cubic_coeff_a);
      first -= 1;
    }
    if (mode.exclude_outside) {
      double sum = 0;
      for (int k = 0; k < axis.taps; ++k) {
        if (first + k < 0 || first + k >= in) weights[k] = 0;
        sum += weights[k];
      }
      for (int k = 0; k < axis.taps; ++k) weights[k] = sum != 0 ? weights[k] / sum : 0;
    }
    for (int k = 0; k < axis.taps; ++k) {
      axis.index.push_back(clamp(first + k));
      axis.weight.push_back(float(weights[k]));
    }
  }
  return axis;
}

ResizeKernel::ResizeKernel(int64_t planes, int64_t in_h, int64_t in_w, AxisTaps rows,
                           AxisTaps columns, float extrapolation_value)
    : planes_(planes),
      in_h_(in_h),
      in_w_(in_w),
      rows_(std::move(rows)),
      columns_(std::move(columns)),
      extrapolation_value_(extrapolation_value) {}

void ResizeKernel::Run(const void* src, void* dst) const {
  const auto* in = static_cast<const float*>(src);
  auto* out = static_cast<float*>(dst);
  const int64_t out_h = static_cast<int64_t>(rows_.outside.size());
  const int64_t out_w = static_cast<int64_t>(columns_.outside.size());
#pragma omp parallel for schedule(static) collapse(2)
  for (int64_t plane = 0; plane < planes_; ++plane) {
    for (int64_t oh = 0; oh < out_h; ++oh) {
      const float* source = in + plane * in_h_ * in_w_;
      float* row = out + (plane * out_h + oh) * out_w;
      for (int64_t ow = 0; ow < out_w; ++ow) {
        if (rows_.outside[oh] || columns_.outside[ow]) {
          row[ow] = extrapolation_value_;
          continue;
        }
        double sum = 0;
        for (int i = 0; i < rows_.taps; ++i) {
          const float* line = source + rows_.index[oh * rows_.taps + i] * in_w_;
          double across = 0;
          for (int j = 0; j < columns_.taps; ++j) {
            across += double(columns_.weight[ow * columns_.taps + j]) *
                      line[columns_.index[ow * columns_.taps + j]];
          }
          sum += double(rows_.weight[oh * rows_.taps + i]) * across;
        }
        row[ow] = float(sum);
      }
    }
  }
}

}  // namespace quantd::engine
