#include "engine/quant/calibration_options.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

TEST(CalibrationOptionsTest, DefaultsAreValid) { EXPECT_TRUE(ValidateCalibrationOptions({}).ok()); }

TEST(CalibrationOptionsTest, MethodNamesRoundTrip) {
  for (CalibrationMethod method :
       {CalibrationMethod::kNaive, CalibrationMethod::kEntropy, CalibrationMethod::kPercentile,
        CalibrationMethod::kEma, CalibrationMethod::kMse, CalibrationMethod::kAuto}) {
    const absl::StatusOr<CalibrationMethod> parsed =
        ParseCalibrationMethod(CalibrationMethodName(method));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, method);
  }
  EXPECT_EQ(CalibrationMethodName(CalibrationMethod::kEntropy), "entropy");
  EXPECT_EQ(CalibrationMethodName(CalibrationMethod::kAuto), "auto");
  const absl::StatusOr<CalibrationMethod> unknown = ParseCalibrationMethod("kl");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("'kl'"));
}

struct InvalidCase {
  CalibrationOptions options;
  std::string message;
};

TEST(CalibrationOptionsTest, InvalidFieldsAreNamedWithTheirValue) {
  auto with = [](auto change) {
    CalibrationOptions options;
    change(options);
    return options;
  };
  const InvalidCase cases[] = {
      {with([](auto& o) { o.batch_size = 0; }), "batch_size must be positive, got 0"},
      {with([](auto& o) { o.max_samples = -3; }),
       "max_samples must be 0 (all) or positive, got -3"},
      {with([](auto& o) { o.activation_bits = 1; }), "activation_bits must be in [2, 8], got 1"},
      {with([](auto& o) { o.activation_bits = 9; }), "activation_bits must be in [2, 8], got 9"},
      {with([](auto& o) { o.percentile = 101; }), "percentile must be in (0, 100], got 101"},
      {with([](auto& o) { o.percentile = 0; }), "percentile must be in (0, 100], got 0"},
      {with([](auto& o) { o.percentile = NAN; }), "percentile must be in (0, 100], got nan"},
      {with([](auto& o) { o.ema_decay = 1.0; }), "ema_decay must be in [0, 1), got 1"},
      {with([](auto& o) { o.ema_decay = -0.5; }), "ema_decay must be in [0, 1), got -0.5"},
      {with([](auto& o) { o.ema_passes = 0; }), "ema_passes must be at least 1, got 0"},
      {with([](auto& o) { o.histogram_bins = 100; }),
       "histogram_bins must be in [256, 8192], got 100"},
      {with([](auto& o) { o.histogram_bins = 1 << 20; }),
       "histogram_bins must be in [256, 8192], got 1048576"},
      {with([](auto& o) { o.method = static_cast<CalibrationMethod>(42); }),
       "calibration method 42"},
  };
  for (const InvalidCase& c : cases) {
    const absl::Status status = ValidateCalibrationOptions(c.options);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));
  }
}

TEST(CalibrationOptionsTest, BoundaryValuesAreValid) {
  CalibrationOptions options;
  options.activation_bits = 2;
  options.percentile = 100;
  options.ema_decay = 0;
  options.histogram_bins = kMinHistogramBins;
  EXPECT_TRUE(ValidateCalibrationOptions(options).ok());
  options.activation_bits = 8;
  options.histogram_bins = kMaxHistogramBins;
  EXPECT_TRUE(ValidateCalibrationOptions(options).ok());
}

}  // namespace
}  // namespace quantd::engine
