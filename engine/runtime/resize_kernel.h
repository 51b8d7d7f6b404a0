#ifndef QUANTD_ENGINE_RUNTIME_RESIZE_KERNEL_H_
#define QUANTD_ENGINE_RUNTIME_RESIZE_KERNEL_H_

// ONNX Resize of the last two axes of plain f32 [..., H, W] values, computed
// from the operator's definition: every coordinate_transformation_mode but
// half_pixel_symmetric, every nearest_mode, linear and cubic (cubic_coeff_a,
// exclude_outside), any scale, and tf_crop_and_resize's extrapolation. The
// Plan uses it where oneDNN's resampling maps coordinates differently
// (resize_op.cc): oneDNN computes with out / in as the scale and knows only
// the half-pixel mapping.
//
// Resizing is separable: each output row and column reads a few source rows
// and columns (nearest 1, linear 2, cubic 4) with fixed weights, computed
// once when the Plan compiles.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/host_kernel.h"

namespace quantd::engine {

struct ResizeMode {
  std::string mode = "nearest";  // nearest, linear, cubic
  std::string transform = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  float cubic_coeff_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation_value = 0.0f;  // tf_crop_and_resize outside the input
};

// The source taps of every output index along one axis.
struct AxisTaps {
  int taps = 1;
  std::vector<int64_t> index;    // out * taps, within [0, in)
  std::vector<float> weight;     // out * taps
  std::vector<uint8_t> outside;  // per output index: extrapolated (tf_crop_and_resize)
};

// Taps for resizing an axis of `in` elements to `out` with `scale` (the
// given one, not out / in: ONNX maps coordinates with it), `roi_start` and
// `roi_end` (tf_crop_and_resize only, as fractions of the axis).
// UNIMPLEMENTED names a mode quantd does not compute.
absl::StatusOr<AxisTaps> ComputeAxisTaps(const ResizeMode& mode, int64_t in, int64_t out,
                                         double scale, double roi_start, double roi_end);

class ResizeKernel : public HostKernel {
 public:
  // `planes` [in_h, in_w] planes, resized by `rows` and `columns`.
  ResizeKernel(int64_t planes, int64_t in_h, int64_t in_w, AxisTaps rows, AxisTaps columns,
               float extrapolation_value);
  void Run(const void* src, void* dst) const override;

 private:
  int64_t planes_, in_h_, in_w_;
  AxisTaps rows_, columns_;
  float extrapolation_value_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_RESIZE_KERNEL_H_
