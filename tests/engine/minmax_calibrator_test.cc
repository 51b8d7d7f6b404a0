#include "engine/quant/minmax_calibrator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fake_fp32_session.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::FakeFp32Session;

// Ten samples of shape {2}: sample i holds {i / 10, -i / 10}.
Dataset TenSamples() {
  Dataset data;
  data.sample_shape = {2};
  data.num_samples = 10;
  for (int i = 0; i < 10; ++i) {
    data.samples.push_back(i / 10.0f);
    data.samples.push_back(-i / 10.0f);
  }
  return data;
}

// The expected range of `value` over the first `n` samples, computed directly.
std::pair<float, float> ReferenceRange(const Dataset& data, int64_t n, float scale, float offset,
                                       bool relu) {
  float lo = INFINITY;
  float hi = -INFINITY;
  for (int64_t i = 0; i < n * data.SampleSize(); ++i) {
    float v = scale * data.samples[i] + offset;
    if (relu) v = std::max(v, 0.0f);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {lo, hi};
}

void ExpectRange(const CalibrationTable& table, const std::string& name,
                 std::pair<float, float> expected) {
  ASSERT_TRUE(table.ranges.count(name)) << name;
  EXPECT_FLOAT_EQ(table.ranges.at(name).min, expected.first) << name;
  EXPECT_FLOAT_EQ(table.ranges.at(name).max, expected.second) << name;
}

TEST(MinMaxCalibratorTest, TracksRunningRangesOverAllSamples) {
  FakeFp32Session session;
  const Dataset data = TenSamples();
  std::vector<std::pair<int64_t, int64_t>> progress_calls;
  absl::StatusOr<CalibrationTable> table = CalibrateMinMax(
      session, data, {.max_samples = 0, .batch_size = 4}, [&](int64_t done, int64_t total) {
        progress_calls.emplace_back(done, total);
        return true;
      });
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(session.batch_sizes(), ElementsAre(4, 4, 2));
  EXPECT_THAT(progress_calls, ElementsAre(Pair(4, 10), Pair(8, 10), Pair(10, 10)));
  EXPECT_EQ(table->ranges.size(), 3u);
  ExpectRange(*table, "input", ReferenceRange(data, 10, 1, 0, false));
  ExpectRange(*table, "scaled", ReferenceRange(data, 10, 2, -1, false));
  ExpectRange(*table, "relu", ReferenceRange(data, 10, 2, -1, true));
  EXPECT_FLOAT_EQ(table->ranges.at("input").min, -0.9f);
  EXPECT_FLOAT_EQ(table->ranges.at("input").max, 0.9f);
}

TEST(MinMaxCalibratorTest, MaxSamplesLimitsTheCalibrationSet) {
  FakeFp32Session session;
  const Dataset data = TenSamples();
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(session, data, {.max_samples = 3, .batch_size = 2}, nullptr);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(session.batch_sizes(), ElementsAre(2, 1));
  ExpectRange(*table, "input", ReferenceRange(data, 3, 1, 0, false));
  ExpectRange(*table, "relu", ReferenceRange(data, 3, 2, -1, true));
}

TEST(MinMaxCalibratorTest, MaxSamplesBeyondTheDatasetUsesEverySample) {
  FakeFp32Session session;
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(session, TenSamples(), {.max_samples = 1000, .batch_size = 32}, nullptr);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(session.batch_sizes(), ElementsAre(10));
}

TEST(MinMaxCalibratorTest, IgnoresNonFiniteValues) {
  FakeFp32Session session;
  Dataset data;
  data.sample_shape = {3};
  data.num_samples = 2;
  data.samples = {NAN, 0.25f, INFINITY, -0.5f, NAN, -INFINITY};
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(session, data, {.max_samples = 0, .batch_size = 1}, nullptr);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_FLOAT_EQ(table->ranges.at("input").min, -0.5f);
  EXPECT_FLOAT_EQ(table->ranges.at("input").max, 0.25f);
  // The result must be storable: every range parses back.
  EXPECT_TRUE(CalibrationTable::Parse(table->Serialize()).ok());
}

TEST(MinMaxCalibratorTest, ValueWithOnlyNaNGetsNoRange) {
  FakeFp32Session session;
  Dataset data;
  data.sample_shape = {1};
  data.num_samples = 1;
  data.samples = {NAN};
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(session, data, {.max_samples = 0, .batch_size = 1}, nullptr);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(table->ranges.empty());
}

TEST(MinMaxCalibratorTest, ProgressReturningFalseCancels) {
  FakeFp32Session session;
  int calls = 0;
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(session, TenSamples(), {.max_samples = 0, .batch_size = 3},
                      [&](int64_t, int64_t) { return ++calls < 2; });
  EXPECT_EQ(table.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("6 of 10"));
  EXPECT_EQ(calls, 2);
  EXPECT_THAT(session.batch_sizes(), ElementsAre(3, 3));
}

TEST(MinMaxCalibratorTest, SessionErrorKeepsItsCodeAndNamesTheBatch) {
  FakeFp32Session session;
  session.FailAtCall(1);
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(session, TenSamples(), {.max_samples = 0, .batch_size = 4}, nullptr);
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("samples [4, 8)"));
  EXPECT_THAT(std::string(table.status().message()), HasSubstr("does not match"));
}

TEST(MinMaxCalibratorTest, RejectsEmptyDatasetAndBadOptions) {
  FakeFp32Session session;
  const absl::StatusOr<CalibrationTable> empty = CalibrateMinMax(session, Dataset{}, {}, nullptr);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("empty"));

  const absl::StatusOr<CalibrationTable> zero_batch =
      CalibrateMinMax(session, TenSamples(), {.max_samples = 0, .batch_size = 0}, nullptr);
  EXPECT_EQ(zero_batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(zero_batch.status().message()), HasSubstr("batch_size"));

  const absl::StatusOr<CalibrationTable> negative =
      CalibrateMinMax(session, TenSamples(), {.max_samples = -1, .batch_size = 4}, nullptr);
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(negative.status().message()), HasSubstr("max_samples"));
  EXPECT_TRUE(session.batch_sizes().empty());
}

}  // namespace
}  // namespace quantd::engine
