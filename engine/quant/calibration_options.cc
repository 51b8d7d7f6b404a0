#include "engine/quant/calibration_options.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace quantd::engine {
namespace {

constexpr std::array<std::pair<CalibrationMethod, std::string_view>, 6> kMethodNames = {{
    {CalibrationMethod::kNaive, "naive"},
    {CalibrationMethod::kEntropy, "entropy"},
    {CalibrationMethod::kPercentile, "percentile"},
    {CalibrationMethod::kEma, "ema"},
    {CalibrationMethod::kMse, "mse"},
    {CalibrationMethod::kAuto, "auto"},
}};

}  // namespace

std::string_view CalibrationMethodName(CalibrationMethod method) {
  for (const auto& [m, name] : kMethodNames) {
    if (m == method) return name;
  }
  return "unknown";
}

absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(std::string_view name) {
  for (const auto& [method, known] : kMethodNames) {
    if (known == name) return method;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("calibration method '", absl::string_view(name.data(), name.size()),
                   "' is not one of naive, entropy, percentile, ema, mse, auto"));
}

absl::Status ValidateCalibrationOptions(const CalibrationOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration batch_size must be positive, got ", options.batch_size));
  }
  if (options.max_samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration max_samples must be 0 (all) or positive, got ", options.max_samples));
  }
  if (options.activation_bits < 2 || options.activation_bits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation_bits must be in [2, 8], got ", options.activation_bits));
  }
  // Written as !(in range) so that NaN is rejected too.
  if (!(options.percentile > 0.0 && options.percentile <= 100.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("percentile must be in (0, 100], got %g", options.percentile));
  }
  if (!(options.ema_decay >= 0.0 && options.ema_decay < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ema_decay must be in [0, 1), got %g", options.ema_decay));
  }
  if (options.ema_passes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ema_passes must be at least 1, got ", options.ema_passes));
  }
  if (options.histogram_bins < kMinHistogramBins || options.histogram_bins > kMaxHistogramBins) {
    return absl::InvalidArgumentError(absl::StrCat("histogram_bins must be in [", kMinHistogramBins,
                                                   ", ", kMaxHistogramBins, "], got ",
                                                   options.histogram_bins));
  }
  if (CalibrationMethodName(options.method) == "unknown") {
    return absl::InvalidArgumentError(absl::StrCat(
        "calibration method ", static_cast<int>(options.method), " is not a known method"));
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
