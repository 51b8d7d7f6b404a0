#include "engine/quant/calibration_ranges.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/histogram.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

constexpr int kBins = 2048;
constexpr float kOutlier = 50.0f;

// 100,000 draws of N(0, 1) plus five values at 50: the shape of an activation
// with rare, extreme outliers. Naive calibration spends almost all levels on
// the empty space between ~4.5 and 50.
std::vector<float> GaussianWithOutliers(bool relu = false) {
  std::mt19937 random(2024);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(100000);
  for (float& v : values) v = relu ? std::max(normal(random), 0.0f) : normal(random);
  values.insert(values.end(), 5, kOutlier);
  return values;
}

Histogram HistogramOf(const std::vector<float>& values, int bins = kBins) {
  Histogram histogram(bins);
  histogram.Add(values);
  return histogram;
}

float Threshold(const TensorRange& range) {
  return std::max(std::fabs(range.min), std::fabs(range.max));
}

// Mean squared error of quantizing `values` exactly as the runtime would:
// `steps` steps over [0, t] (unsigned) or per side over [-t, t], saturating.
double FakeQuantMse(const std::vector<float>& values, double t, int steps, bool is_unsigned) {
  const double step = t / steps;
  const double lowest = is_unsigned ? 0.0 : -1.0 * steps;
  double error = 0.0;
  for (float v : values) {
    const double level = std::clamp(std::round(v / step), lowest, 1.0 * steps);
    error += (v - level * step) * (v - level * step);
  }
  return error / static_cast<double>(values.size());
}

// The bulk-vs-outlier property every clipping method must have on the
// outlier tensor: far inside naive's 50, yet beyond 2.5 sigma of the bulk.
void ExpectClipsOutliersKeepsBulk(const TensorRange& range, const std::string& method) {
  std::printf("%s range on N(0,1) + 5 x 50: [%.4f, %.4f]\n", method.c_str(), range.min, range.max);
  EXPECT_LT(Threshold(range), 0.2f * kOutlier) << method;
  EXPECT_GT(Threshold(range), 2.5f) << method;
  // The observed min (about -4.4) is kept when the threshold lies beyond it.
  EXPECT_LT(range.min, -2.5f) << method << " must keep the tensor signed";
  EXPECT_GE(range.min, -Threshold(range)) << method;
}

TEST(CalibrationRangesTest, FiniteRangeSkipsNaNAndInfinities) {
  const std::vector<float> values = {NAN, -2.0f, INFINITY, 3.0f, -INFINITY};
  const std::optional<TensorRange> range = FiniteRange(values.data(), 5);
  ASSERT_TRUE(range.has_value());
  EXPECT_FLOAT_EQ(range->min, -2.0f);
  EXPECT_FLOAT_EQ(range->max, 3.0f);
  const std::vector<float> none = {NAN, INFINITY};
  EXPECT_FALSE(FiniteRange(none.data(), 2).has_value());
}

TEST(CalibrationRangesTest, EntropyClipsOutliersButKeepsTheBulk) {
  ExpectClipsOutliersKeepsBulk(EntropyRange(HistogramOf(GaussianWithOutliers()), 8),
                               "entropy (8 bits)");
}

TEST(CalibrationRangesTest, PercentileClipsOutliersButKeepsTheBulk) {
  const std::vector<float> values = GaussianWithOutliers();
  const TensorRange range = PercentileRange(HistogramOf(values), 99.99);
  ExpectClipsOutliersKeepsBulk(range, "percentile 99.99");

  // Differential check against the exact order statistic of |x|.
  std::vector<float> magnitudes;
  for (float v : values) magnitudes.push_back(std::fabs(v));
  std::sort(magnitudes.begin(), magnitudes.end());
  const float exact = magnitudes[static_cast<size_t>(0.9999 * magnitudes.size())];
  EXPECT_NEAR(range.max, exact, kOutlier / kBins);
}

TEST(CalibrationRangesTest, PerTailPercentileClipsEachTailOnItsOwn) {
  // Mostly positive values, N(3, 1), with outliers on both sides: one |x|
  // threshold would stretch min to about -6.7 although only ~0.1% of the
  // values are negative at all.
  std::mt19937 random(3);
  std::normal_distribution<float> normal(3.0f, 1.0f);
  std::vector<float> values(100000);
  for (float& v : values) v = normal(random);
  values.insert(values.end(), 5, kOutlier);
  values.insert(values.end(), 5, -20.0f);
  const Histogram histogram = HistogramOf(values);
  const TensorRange per_tail = PercentileRange(histogram, 99.99, /*per_tail=*/true);
  const TensorRange symmetric = PercentileRange(histogram, 99.99);
  std::printf("percentile 99.99 per tail on N(3,1) + outliers: [%.4f, %.4f]; |x|: [%.4f, %.4f]\n",
              per_tail.min, per_tail.max, symmetric.min, symmetric.max);

  std::vector<float> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const size_t tail = static_cast<size_t>(0.0001 * sorted.size());
  const float width = static_cast<float>(histogram.bin_width());
  EXPECT_NEAR(per_tail.max, sorted[sorted.size() - 1 - tail], width);
  EXPECT_NEAR(per_tail.min, sorted[tail], width);
  EXPECT_GT(per_tail.min, -1.5f);
  EXPECT_LT(symmetric.min, -5.0f);

  // 100 keeps both observed bounds; a ReLU output keeps min 0.
  const TensorRange all = PercentileRange(histogram, 100.0, true);
  EXPECT_FLOAT_EQ(all.min, -20.0f);
  EXPECT_FLOAT_EQ(all.max, kOutlier);
  const TensorRange relu =
      PercentileRange(HistogramOf(GaussianWithOutliers(/*relu=*/true)), 99.99, true);
  EXPECT_FLOAT_EQ(relu.min, 0.0f);
  EXPECT_LT(relu.max, 0.2f * kOutlier);
}

TEST(CalibrationRangesTest, MseMinimizesTheRuntimesQuantizationError) {
  for (bool relu : {false, true}) {
    const std::vector<float> values = GaussianWithOutliers(relu);
    for (int bits : {8, 4}) {
      const TensorRange range = MseRange(HistogramOf(values), bits);
      const int steps = relu ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
      const double chosen = FakeQuantMse(values, Threshold(range), steps, relu);
      // Brute force over thresholds on the samples themselves.
      double best = INFINITY;
      double best_t = 0.0;
      for (double t = 0.05; t <= kOutlier; t += 0.05) {
        const double error = FakeQuantMse(values, t, steps, relu);
        if (error < best) {
          best = error;
          best_t = t;
        }
      }
      const double naive = FakeQuantMse(values, kOutlier, steps, relu);
      std::printf(
          "mse (%d bits%s) range: [%.4f, %.4f], error %.6g; brute-force best t %.2f, "
          "%.6g; naive error %.6g\n",
          bits, relu ? ", relu" : "", range.min, range.max, chosen, best_t, best, naive);
      EXPECT_LE(chosen, 1.02 * best) << bits << " bits, relu " << relu;
      EXPECT_LT(chosen, naive) << bits << " bits, relu " << relu;
    }
  }
}

TEST(CalibrationRangesTest, MseKeepsRareOutliersAtEightBitsButClipsThemAtFourBits) {
  // Clipping one value from 50 to 4 costs 46^2 of squared error, more than the
  // rounding noise 8 bits save over 100k values, so MSE rightly keeps much of
  // the outliers' range at 8 bits; at 4 bits rounding noise dominates.
  const Histogram histogram = HistogramOf(GaussianWithOutliers());
  const TensorRange eight = MseRange(histogram, 8);
  EXPECT_LT(Threshold(eight), kOutlier);
  EXPECT_GT(Threshold(eight), 0.5f * kOutlier);
  ExpectClipsOutliersKeepsBulk(MseRange(histogram, 4), "mse (4 bits)");
}

TEST(CalibrationRangesTest, FewerBitsClipTighter) {
  const Histogram histogram = HistogramOf(GaussianWithOutliers());
  const float entropy8 = Threshold(EntropyRange(histogram, 8));
  const float entropy4 = Threshold(EntropyRange(histogram, 4));
  const float mse8 = Threshold(MseRange(histogram, 8));
  const float mse4 = Threshold(MseRange(histogram, 4));
  const float mse2 = Threshold(MseRange(histogram, 2));
  std::printf("entropy 8/4 bits: %.4f %.4f; mse 8/4/2 bits: %.4f %.4f %.4f\n", entropy8, entropy4,
              mse8, mse4, mse2);
  EXPECT_LT(entropy4, entropy8);
  EXPECT_LT(mse4, mse8);
  EXPECT_LT(mse2, mse4);
  EXPECT_GT(mse2, 0.0f);
}

TEST(CalibrationRangesTest, NonNegativeValuesStayNonNegative) {
  // After ReLU the runtime uses u8 (twice the levels over [0, t]): the range
  // must keep min 0 and still clip the outliers. (MSE's unsigned grid is
  // checked against brute force above; with 15 levels at 4 bits it rightly
  // keeps more of the outliers than it does for signed values.)
  const Histogram histogram = HistogramOf(GaussianWithOutliers(/*relu=*/true), 4096);
  ASSERT_TRUE(histogram.non_negative());
  for (const TensorRange& range :
       {EntropyRange(histogram, 8), PercentileRange(histogram, 99.99), MseRange(histogram, 3)}) {
    std::printf("relu'd outlier tensor: [%.4f, %.4f]\n", range.min, range.max);
    EXPECT_FLOAT_EQ(range.min, 0.0f);
    EXPECT_LT(range.max, 0.2f * kOutlier);
    EXPECT_GT(range.max, 2.5f);
  }
}

TEST(CalibrationRangesTest, ZeroSpikeDoesNotPullEntropyToItsSmallestThreshold) {
  // A ReLU output of N(0, 1) with a dead-unit majority: 80% exact zeros, no
  // outliers. With the zeros inside the KL comparison, entropy picked the
  // smallest threshold it searches (256 of 4096 bins, 1/16 of the maximum)
  // and cost the resnet fixture about 26 points of int8 top-1.
  std::vector<float> values = GaussianWithOutliers(/*relu=*/true);
  values.resize(100000);
  values.insert(values.end(), 300000, 0.0f);
  const Histogram histogram = HistogramOf(values, 4096);
  EXPECT_EQ(histogram.zeros(), 300000 + std::count(values.begin(), values.begin() + 100000, 0.0f));
  const float max = histogram.range().max;
  for (int bits : {8, 4}) {
    const float entropy = EntropyRange(histogram, bits).max;
    const float mse = MseRange(histogram, bits).max;
    std::printf("relu'd N(0,1) + 80%% zeros, %d bits: max %.4f, entropy %.4f, mse %.4f\n", bits,
                max, entropy, mse);
    EXPECT_GT(entropy, 0.5f * max) << bits << " bits";
    EXPECT_GT(mse, 0.5f * max) << bits << " bits";
  }
}

TEST(CalibrationRangesTest, WithoutOutliersClippingMethodsKeepNearlyTheWholeRange) {
  // Uniform values have no tail worth cutting: a method that clipped here
  // would just be throwing away range.
  std::vector<float> values(50000);
  std::mt19937 random(5);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : values) v = uniform(random);
  const Histogram histogram = HistogramOf(values);
  EXPECT_GT(Threshold(EntropyRange(histogram, 8)), 0.95f);
  EXPECT_GT(Threshold(MseRange(histogram, 8)), 0.95f);
  EXPECT_GT(Threshold(PercentileRange(histogram, 99.99)), 0.99f);
}

TEST(CalibrationRangesTest, PercentileOfOneHundredIsTheObservedRange) {
  const std::vector<float> values = {-0.5f, 0.25f, 3.0f, -7.0f};
  const TensorRange range = PercentileRange(HistogramOf(values), 100.0);
  EXPECT_FLOAT_EQ(range.min, -7.0f);
  EXPECT_FLOAT_EQ(range.max, 3.0f);
}

TEST(CalibrationRangesTest, EmptyAndAllZeroHistogramsGiveTheirObservedRange) {
  const Histogram empty(kBins);
  const Histogram zeros = HistogramOf({0.0f, 0.0f});
  for (const Histogram* histogram : {&empty, &zeros}) {
    for (const TensorRange& range : {EntropyRange(*histogram, 8), PercentileRange(*histogram, 99.0),
                                     MseRange(*histogram, 8)}) {
      EXPECT_FLOAT_EQ(range.min, 0.0f);
      EXPECT_FLOAT_EQ(range.max, 0.0f);
    }
  }
}

TEST(CalibrationRangesTest, EmaFollowsTheMovingAverageFormula) {
  EmaRange ema(0.75);
  EXPECT_TRUE(ema.empty());
  ema.Update({-1.0f, 2.0f});  // the first batch initializes
  EXPECT_FALSE(ema.empty());
  EXPECT_FLOAT_EQ(ema.range().min, -1.0f);
  EXPECT_FLOAT_EQ(ema.range().max, 2.0f);
  ema.Update({-5.0f, 6.0f});
  EXPECT_FLOAT_EQ(ema.range().min, 0.75f * -1.0f + 0.25f * -5.0f);
  EXPECT_FLOAT_EQ(ema.range().max, 0.75f * 2.0f + 0.25f * 6.0f);
}

TEST(CalibrationRangesTest, EmaForgetsAnEarlyOutlierBatch) {
  std::mt19937 random(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  EmaRange ema(0.9);
  TensorRange naive{0.0f, 0.0f};
  double typical_max = 0.0;
  constexpr int kBatches = 40;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<float> batch(4096);
    for (float& v : batch) v = normal(random);
    if (b == 1) batch[17] = kOutlier;
    const TensorRange range = *FiniteRange(batch.data(), static_cast<int64_t>(batch.size()));
    ema.Update(range);
    naive = {std::min(naive.min, range.min), std::max(naive.max, range.max)};
    if (b != 1) typical_max += range.max / (kBatches - 1);
  }
  const TensorRange result = ema.range();
  std::printf("ema (decay 0.9) range: [%.4f, %.4f]; naive [%.4f, %.4f]; typical batch max %.4f\n",
              result.min, result.max, naive.min, naive.max, typical_max);
  EXPECT_GT(result.min, naive.min);
  EXPECT_LT(result.max, naive.max);
  EXPECT_LT(std::fabs(result.max - typical_max), std::fabs(naive.max - result.max));
  EXPECT_LT(result.max, typical_max + 0.5);
}

}  // namespace
}  // namespace quantd::engine
