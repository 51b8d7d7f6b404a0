// The per-axis taps of quantd's Resize kernel on cases small enough to work
// out by hand from the ONNX formulas.

#include "engine/runtime/resize_kernel.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;

TEST(ResizeKernelTest, AlignCornersLinearMapsTheEndsOntoTheEnds) {
  ResizeMode mode;
  mode.mode = "linear";
  mode.transform = "align_corners";
  // 3 -> 5: sources 0, 0.5, 1, 1.5, 2.
  const absl::StatusOr<AxisTaps> taps = ComputeAxisTaps(mode, 3, 5, 5.0 / 3.0, 0, 1);
  ASSERT_TRUE(taps.ok()) << taps.status();
  EXPECT_THAT(taps->index, ElementsAre(0, 1, 0, 1, 1, 2, 1, 2, 2, 2));
  EXPECT_THAT(taps->weight, ElementsAre(1, 0, 0.5, 0.5, 1, 0, 0.5, 0.5, 1, 0));
}

TEST(ResizeKernelTest, CubicWeightsSumToOneAndExcludeOutsideRenormalizes) {
  ResizeMode mode;
  mode.mode = "cubic";
  mode.transform = "asymmetric";
  // 4 -> 8, source 0.5 for output 1: taps -1 (clamped to 0), 0, 1, 2.
  absl::StatusOr<AxisTaps> taps = ComputeAxisTaps(mode, 4, 8, 2.0, 0, 1);
  ASSERT_TRUE(taps.ok()) << taps.status();
  float sum = 0;
  for (int k = 4; k < 8; ++k) sum += taps->weight[k];
  EXPECT_NEAR(sum, 1.0f, 1e-6f);
  EXPECT_THAT(std::vector<int64_t>(taps->index.begin() + 4, taps->index.begin() + 8),
              ElementsAre(0, 0, 1, 2));
  // With A = -0.75 at t = 0.5 the outer taps weigh -0.09375 each.
  EXPECT_THAT(taps->weight[4], FloatNear(-0.09375f, 1e-6f));
  mode.exclude_outside = true;
  taps = ComputeAxisTaps(mode, 4, 8, 2.0, 0, 1);
  ASSERT_TRUE(taps.ok());
  EXPECT_EQ(taps->weight[4], 0.0f);  // tap -1 lies outside
  EXPECT_THAT(taps->weight[5] + taps->weight[6] + taps->weight[7], FloatNear(1.0f, 1e-6f));
}

TEST(ResizeKernelTest, NearestModesRoundHalvesAsNamed) {
  ResizeMode mode;
  mode.transform = "asymmetric";
  // 2 -> 4 at scale 2: sources 0, 0.5, 1, 1.5.
  for (const auto& [nearest_mode, expected] :
       std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"round_prefer_floor", {0, 0, 1, 1}},
           {"round_prefer_ceil", {0, 1, 1, 1}},
           {"floor", {0, 0, 1, 1}},
           {"ceil", {0, 1, 1, 1}}}) {
    mode.nearest_mode = nearest_mode;
    const absl::StatusOr<AxisTaps> taps = ComputeAxisTaps(mode, 2, 4, 2.0, 0, 1);
    ASSERT_TRUE(taps.ok());
    EXPECT_EQ(taps->index, expected) << nearest_mode;
  }
  mode.nearest_mode = "nearest";
  EXPECT_THAT(ComputeAxisTaps(mode, 2, 4, 2.0, 0, 1).status().message(),
              HasSubstr("nearest_mode 'nearest'"));
}

TEST(ResizeKernelTest, CropAndResizeExtrapolatesOutsideTheInput) {
  ResizeMode mode;
  mode.mode = "linear";
  mode.transform = "tf_crop_and_resize";
  // roi [-0.5, 1.5] of 3 elements -> 3 (sizes, so the scale is 3 / 3):
  // sources -1, 1, 3.
  const absl::StatusOr<AxisTaps> taps = ComputeAxisTaps(mode, 3, 3, 1.0, -0.5, 1.5);
  ASSERT_TRUE(taps.ok());
  EXPECT_THAT(taps->outside, ElementsAre(1, 0, 1));
}

}  // namespace
}  // namespace quantd::engine
