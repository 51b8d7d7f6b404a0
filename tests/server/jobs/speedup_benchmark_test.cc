#include "server/jobs/speedup_benchmark.h"

#include <filesystem>
#include <memory>

#include "engine/quant/minmax_calibrator.h"
#include "gtest/gtest.h"
#include "server/serving/session_loader.h"
#include "server/storage/atomic_file.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;

const fs::path kModelPath = fs::path(QUANTD_SOURCE_DIR) / "fixtures" / "resnet_fmnist.onnx";
const char kImages[] = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

// Never asserts which precision is faster: timings depend on the machine and
// its load. It checks what the report means and how the measurement behaves.
class SpeedupBenchmarkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto onnx = ReadFileToString(kModelPath);
    ASSERT_TRUE(onnx.ok()) << onnx.status();
    auto data = engine::ReadIdxDataset(kImages, "", 1.0f / 255.0f);
    ASSERT_TRUE(data.ok()) << data.status();
    data_ = *std::move(data);
    data_.num_samples = 20;
    data_.samples.resize(static_cast<size_t>(20 * data_.SampleSize()));
    auto fp32 = CreateSession(*onnx, std::nullopt, "fp32");
    ASSERT_TRUE(fp32.ok()) << fp32.status();
    fp32_ = *std::move(fp32);
    auto table = engine::CalibrateMinMax(*fp32_, data_, {}, [](int64_t, int64_t) { return true; });
    ASSERT_TRUE(table.ok()) << table.status();
    auto int8 = CreateSession(*onnx, *std::move(table), "int8");
    ASSERT_TRUE(int8.ok()) << int8.status();
    int8_ = *std::move(int8);
  }

  engine::Dataset data_;
  std::shared_ptr<engine::InferenceSession> fp32_;
  std::shared_ptr<engine::InferenceSession> int8_;
};

TEST_F(SpeedupBenchmarkTest, ReportsConsistentRatiosAtACappedBatchSize) {
  SpeedupOptions options;
  options.throughput_batch_size = 64;  // more than the 20 samples
  options.max_runs = 4;
  double last_fraction = 0;
  auto report = MeasureSpeedup(*fp32_, *int8_, data_, options, [&](double fraction) {
    EXPECT_GE(fraction, last_fraction);
    last_fraction = fraction;
    return true;
  });
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_NEAR(last_fraction, 1.0, 1e-9);
  EXPECT_EQ(report->throughput_batch_size(), 20);
  EXPECT_GT(report->fp32_latency_ms(), 0);
  EXPECT_GT(report->int8_latency_ms(), 0);
  EXPECT_GT(report->fp32_samples_per_second(), 0);
  EXPECT_GT(report->int8_samples_per_second(), 0);
  EXPECT_DOUBLE_EQ(report->latency_speedup(),
                   report->fp32_latency_ms() / report->int8_latency_ms());
  EXPECT_DOUBLE_EQ(report->throughput_speedup(),
                   report->int8_samples_per_second() / report->fp32_samples_per_second());
}

// The first runs of a batch size tune how the session splits it (and compile
// Plans): the benchmark spends them untimed, so it times what clients get.
TEST_F(SpeedupBenchmarkTest, TimesOnlySessionsThatFinishedTuningTheBatchSize) {
  ASSERT_GT(fp32_->TuningRunsLeft(20), 0);
  ASSERT_GT(int8_->TuningRunsLeft(20), 0);
  SpeedupOptions options;
  options.throughput_batch_size = 20;
  options.max_runs = 3;
  auto report = MeasureSpeedup(*fp32_, *int8_, data_, options, nullptr);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(fp32_->TuningRunsLeft(20), 0);
  EXPECT_EQ(int8_->TuningRunsLeft(20), 0);
}

TEST_F(SpeedupBenchmarkTest, StopsWhenProgressSaysSo) {
  int calls = 0;
  auto report =
      MeasureSpeedup(*fp32_, *int8_, data_, SpeedupOptions{}, [&](double) { return ++calls < 3; });
  EXPECT_EQ(report.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 3);
}

TEST_F(SpeedupBenchmarkTest, RejectsBadOptions) {
  SpeedupOptions options;
  options.min_runs = 5;
  options.max_runs = 2;
  EXPECT_EQ(MeasureSpeedup(*fp32_, *int8_, data_, options, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  engine::Dataset empty = data_;
  empty.num_samples = 0;
  empty.samples.clear();
  EXPECT_EQ(MeasureSpeedup(*fp32_, *int8_, empty, SpeedupOptions{}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quantd::server
