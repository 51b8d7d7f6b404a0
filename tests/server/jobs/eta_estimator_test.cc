#include "server/jobs/eta_estimator.h"

#include "gtest/gtest.h"

namespace quantd::server {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(EtaEstimatorTest, ExtrapolatesTheCurrentPhaseRate) {
  EtaEstimator eta;
  EXPECT_FALSE(eta.Update("calibrating", 0.0, kStart).has_value());
  // Too soon to tell.
  EXPECT_FALSE(eta.Update("calibrating", 0.01, kStart + absl::Milliseconds(100)).has_value());
  // 0.2 of the job in 2 s: the remaining 0.8 takes 8 s.
  const auto remaining = eta.Update("calibrating", 0.2, kStart + absl::Seconds(2));
  ASSERT_TRUE(remaining.has_value());
  EXPECT_NEAR(*remaining, 8.0, 1e-9);
}

TEST(EtaEstimatorTest, ANewPhaseStartsAFreshRate) {
  EtaEstimator eta;
  eta.Update("calibrating", 0.0, kStart);
  ASSERT_TRUE(eta.Update("calibrating", 0.5, kStart + absl::Seconds(1)).has_value());
  // Evaluation is slower: 0.1 in 4 s leaves 0.4 for 16 s.
  EXPECT_FALSE(eta.Update("evaluating", 0.5, kStart + absl::Seconds(1)).has_value());
  const auto remaining = eta.Update("evaluating", 0.6, kStart + absl::Seconds(5));
  ASSERT_TRUE(remaining.has_value());
  EXPECT_NEAR(*remaining, 16.0, 1e-9);
}

TEST(EtaEstimatorTest, NoProgressMeansUnknownNotInfinite) {
  EtaEstimator eta;
  eta.Update("loading", 0.0, kStart);
  EXPECT_FALSE(eta.Update("loading", 0.0, kStart + absl::Seconds(10)).has_value());
}

}  // namespace
}  // namespace quantd::server
