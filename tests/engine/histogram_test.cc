#include "engine/quant/histogram.h"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;

// The counts a histogram of `bins` bins over [0, limit] must hold for
// `values`, computed directly.
std::vector<int64_t> ReferenceCounts(const std::vector<float>& values, int bins, double limit,
                                     bool negative_only = false) {
  std::vector<int64_t> counts(bins, 0);
  for (float v : values) {
    if (!std::isfinite(v) || (negative_only && !(v < 0.0f))) continue;
    // The histogram's own arithmetic: |v| times bins per unit.
    const int64_t bin = static_cast<int64_t>(std::fabs(static_cast<double>(v)) * (bins / limit));
    ++counts[std::min<int64_t>(bin, bins - 1)];
  }
  return counts;
}

TEST(HistogramTest, FirstBatchSetsTheLimitToItsLargestMagnitude) {
  Histogram histogram(4);
  histogram.Add({0.5f, -1.0f, 2.0f, -4.0f, 3.9f});
  EXPECT_DOUBLE_EQ(histogram.limit(), 4.0);
  EXPECT_DOUBLE_EQ(histogram.bin_width(), 1.0);
  // |x| = 0.5, 1, 2, 4, 3.9: the maximum belongs to the last bin.
  EXPECT_THAT(histogram.counts(), ElementsAre(1, 1, 1, 2));
  EXPECT_THAT(histogram.negative_counts(), ElementsAre(0, 1, 0, 1));
  EXPECT_EQ(histogram.total(), 5);
  EXPECT_FLOAT_EQ(histogram.range().min, -4.0f);
  EXPECT_FLOAT_EQ(histogram.range().max, 3.9f);
  EXPECT_FALSE(histogram.non_negative());
}

TEST(HistogramTest, IgnoresNonFiniteValues) {
  Histogram histogram(8);
  histogram.Add({NAN, INFINITY, 1.0f, -INFINITY});
  EXPECT_EQ(histogram.total(), 1);
  EXPECT_DOUBLE_EQ(histogram.limit(), 1.0);
  EXPECT_TRUE(histogram.non_negative());
  histogram.Add({NAN});
  EXPECT_EQ(histogram.total(), 1);
}

TEST(HistogramTest, GrowingKeepsEveryCountAndTheBinCount) {
  std::mt19937 random(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int kBins = 64;
  Histogram histogram(kBins);
  std::vector<float> all;
  // Batches whose magnitude keeps growing, the last one by a factor > 2^10.
  for (float scale : {1.0f, 1.5f, 7.0f, 9.0f, 20000.0f}) {
    std::vector<float> batch(1000);
    for (float& v : batch) v = scale * normal(random);
    histogram.Add(batch);
    all.insert(all.end(), batch.begin(), batch.end());

    ASSERT_EQ(histogram.num_bins(), kBins);
    EXPECT_EQ(histogram.total(), static_cast<int64_t>(all.size()));
    const std::vector<int64_t>& counts = histogram.counts();
    EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), histogram.total());
    // Doubling makes the grown bins exact unions of old ones: the counts are
    // what binning every value ever added at the final limit gives.
    EXPECT_EQ(counts, ReferenceCounts(all, kBins, histogram.limit())) << "scale " << scale;
    EXPECT_EQ(histogram.negative_counts(), ReferenceCounts(all, kBins, histogram.limit(), true))
        << "scale " << scale;
    float max_magnitude = 0.0f;
    for (float v : all) max_magnitude = std::max(max_magnitude, std::fabs(v));
    EXPECT_GE(histogram.limit(), max_magnitude);
    EXPECT_LT(histogram.limit(), 2.0 * max_magnitude);
  }
}

TEST(HistogramTest, LimitGrowsByPowersOfTwoOfTheFirstLimit) {
  Histogram histogram(4);
  histogram.Add({1.0f, 0.1f});
  histogram.Add({3.0f});
  EXPECT_DOUBLE_EQ(histogram.limit(), 4.0);
  // Old bins [0, .25), ..., [.75, 1] merged in groups of four into [0, 1).
  EXPECT_THAT(histogram.counts(), ElementsAre(2, 0, 0, 1));
}

TEST(HistogramTest, ZerosBeforeTheFirstNonZeroStayInBinZero) {
  Histogram histogram(16);
  histogram.Add({0.0f, 0.0f, -0.0f});
  EXPECT_DOUBLE_EQ(histogram.limit(), 0.0);
  EXPECT_EQ(histogram.counts()[0], 3);
  histogram.Add({0.0f, 8.0f});
  EXPECT_DOUBLE_EQ(histogram.limit(), 8.0);
  EXPECT_EQ(histogram.counts()[0], 4);
  EXPECT_EQ(histogram.counts()[15], 1);
  EXPECT_TRUE(histogram.non_negative());
}

TEST(HistogramTest, HugeGrowthMergesEverythingOldIntoBinZero) {
  Histogram histogram(8);
  histogram.Add({1e-30f, 1e-31f});
  histogram.Add({1e30f});
  EXPECT_GE(histogram.limit(), 1e30);
  EXPECT_TRUE(std::isfinite(histogram.limit()));
  // Doubling from 1e-30 overshoots 1e30 by up to 2x, so 1e30 lands in the
  // upper half.
  const std::vector<int64_t>& counts = histogram.counts();
  EXPECT_EQ(counts[0], 2);
  EXPECT_EQ(std::accumulate(counts.begin() + 4, counts.end(), int64_t{0}), 1);
  EXPECT_EQ(histogram.total(), 3);
}

}  // namespace
}  // namespace quantd::engine
