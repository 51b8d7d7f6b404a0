#include "engine/quant/calibration_samples.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;

TEST(CalibrationSamplesTest, WithoutASeedTakesTheFirstSamplesInOrder) {
  EXPECT_THAT(SelectCalibrationSamples(10, 4, std::nullopt), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(SelectCalibrationSamples(10, 0, std::nullopt).size(), 10u);
  EXPECT_EQ(SelectCalibrationSamples(10, 1000, std::nullopt).size(), 10u);
}

TEST(CalibrationSamplesTest, ASeedPicksDistinctSamplesDeterministically) {
  const std::vector<int64_t> first = SelectCalibrationSamples(60000, 500, 42);
  const std::vector<int64_t> again = SelectCalibrationSamples(60000, 500, 42);
  EXPECT_EQ(first, again);
  ASSERT_EQ(first.size(), 500u);
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 500u);
  for (int64_t index : first) {
    EXPECT_GE(index, 0);
    EXPECT_LT(index, 60000);
  }
  // Not the first 500: spread over the whole dataset.
  EXPECT_GT(*std::max_element(first.begin(), first.end()), 50000);
}

TEST(CalibrationSamplesTest, DifferentSeedsPickDifferentSamples) {
  const std::vector<int64_t> a = SelectCalibrationSamples(60000, 500, 1);
  const std::vector<int64_t> b = SelectCalibrationSamples(60000, 500, 2);
  std::set<int64_t> shared(a.begin(), a.end());
  int64_t common = 0;
  for (int64_t index : b) common += shared.count(index);
  // Two independent draws of 500 from 60,000 share about 4 samples.
  EXPECT_LT(common, 50);
}

TEST(CalibrationSamplesTest, ASeedWithEverySampleIsAPermutation) {
  std::vector<int64_t> all = SelectCalibrationSamples(100, 0, 7);
  EXPECT_NE(all, SelectCalibrationSamples(100, 0, std::nullopt));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, SelectCalibrationSamples(100, 0, std::nullopt));
}

}  // namespace
}  // namespace quantd::engine
