// Every calibration method on the real resnet fixture, as a QuantizeModel job
// would run it: 500 seeded-random Fashion-MNIST training images, then top-1
// of fp32 and int8 on the first 2,000 test images. Each method must give a
// range for every value naive calibration gives one for, and its int8 model
// must stay within 1.0 point of fp32; at 4 bits, entropy and MSE calibrated
// for 4 bits must beat naive. Smaller than int8_fixture_accuracy_test (which
// covers naive on every fixture and all 10,000 images) to stay quick.

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "engine/data/dataset.h"
#include "engine/eval/accuracy.h"
#include "engine/quant/calibrator.h"
#include "engine/runtime/inference_session.h"
#include "gtest/gtest.h"
#include "tests/engine/fixture_files.h"

namespace quantd::engine {
namespace {

constexpr char kDir[] = "/usr/share/datasets/fashion-mnist/";
constexpr int64_t kCalibrationSamples = 500;
constexpr int64_t kEvaluationSamples = 2000;
constexpr uint64_t kSeed = 20261123;
constexpr double kMaxTop1LossPoints = 1.0;

Dataset FirstSamples(const Dataset& data, int64_t count) {
  Dataset first;
  first.sample_shape = data.sample_shape;
  first.num_samples = count;
  first.samples.assign(data.samples.begin(), data.samples.begin() + count * data.SampleSize());
  first.labels.assign(data.labels.begin(), data.labels.begin() + count);
  return first;
}

// Shared by all methods: loaded and measured once.
struct Baseline {
  std::string onnx;
  Dataset train;
  Dataset test;
  std::unique_ptr<InferenceSession> fp32;
  CalibrationTable naive;
  double fp32_top1 = 0.0;
};

class Int8CalibrationAccuracyTest : public ::testing::TestWithParam<CalibrationMethod> {
 protected:
  static void SetUpTestSuite() {
    baseline_ = new Baseline();
    baseline_->onnx = ReadFixture("resnet_fmnist.onnx");
    absl::StatusOr<Dataset> train =
        ReadIdxDataset(std::string(kDir) + "train-images-idx3-ubyte.gz",
                       std::string(kDir) + "train-labels-idx1-ubyte.gz", 1.0f / 255.0f);
    absl::StatusOr<Dataset> test =
        ReadIdxDataset(std::string(kDir) + "t10k-images-idx3-ubyte.gz",
                       std::string(kDir) + "t10k-labels-idx1-ubyte.gz", 1.0f / 255.0f);
    if (!train.ok() || !test.ok() || test->num_samples < kEvaluationSamples) return;
    baseline_->train = std::move(*train);
    baseline_->test = FirstSamples(*test, kEvaluationSamples);
    absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 =
        InferenceSession::Create(baseline_->onnx, {});
    if (!fp32.ok()) return;
    baseline_->fp32 = std::move(*fp32);
    absl::StatusOr<CalibrationTable> naive = Calibrate(
        *baseline_->fp32, baseline_->train, OptionsFor(CalibrationMethod::kNaive), nullptr);
    absl::StatusOr<AccuracyReport> report =
        EvaluateAccuracy(*baseline_->fp32, baseline_->test, 250);
    if (!naive.ok() || !report.ok()) return;
    baseline_->naive = std::move(*naive);
    baseline_->fp32_top1 = 100.0 * report->top1;
  }

  static void TearDownTestSuite() {
    delete baseline_;
    baseline_ = nullptr;
  }

  static CalibrationOptions OptionsFor(CalibrationMethod method) {
    CalibrationOptions options;
    options.max_samples = kCalibrationSamples;
    options.batch_size = 100;
    options.method = method;
    options.sample_seed = kSeed;
    return options;
  }

  static Baseline* baseline_;
};

Baseline* Int8CalibrationAccuracyTest::baseline_ = nullptr;

TEST_P(Int8CalibrationAccuracyTest, CoversEveryValueAndStaysWithinOnePointOfFp32) {
  ASSERT_FALSE(baseline_->onnx.empty()) << "missing fixture resnet_fmnist.onnx";
  ASSERT_NE(baseline_->fp32, nullptr) << "fp32 session or Fashion-MNIST data unavailable";
  ASSERT_FALSE(baseline_->naive.ranges.empty());
  const std::string method(CalibrationMethodName(GetParam()));

  absl::StatusOr<CalibrationTable> table =
      Calibrate(*baseline_->fp32, baseline_->train, OptionsFor(GetParam()),
                [](int64_t, int64_t) { return true; });
  ASSERT_TRUE(table.ok()) << table.status();
  for (const auto& [name, naive_range] : baseline_->naive.ranges) {
    ASSERT_TRUE(table->ranges.count(name)) << method << " gave no range for '" << name << "'";
    const TensorRange& range = table->ranges.at(name);
    // Clipping methods narrow ranges, never widen them or flip u8 to s8.
    EXPECT_LE(range.max, naive_range.max) << method << " " << name;
    EXPECT_GE(range.min, naive_range.min) << method << " " << name;
    if (naive_range.min >= 0.0f) {
      EXPECT_GE(range.min, 0.0f) << method << " " << name;
    }
  }
  EXPECT_EQ(table->ranges.size(), baseline_->naive.ranges.size());

  SessionOptions int8_options;
  int8_options.precision = Precision::kInt8;
  int8_options.calibration = &*table;
  absl::StatusOr<std::unique_ptr<InferenceSession>> int8 =
      InferenceSession::Create(baseline_->onnx, int8_options);
  ASSERT_TRUE(int8.ok()) << int8.status();
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(**int8, baseline_->test, 250);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->num_samples, kEvaluationSamples);

  const double int8_top1 = 100.0 * report->top1;
  RecordProperty("fp32_top1", std::to_string(baseline_->fp32_top1));
  RecordProperty("int8_top1", std::to_string(int8_top1));
  std::printf("resnet, %s calibration: fp32 top-1 %.2f%%, int8 top-1 %.2f%% (%lld images)\n",
              method.c_str(), baseline_->fp32_top1, int8_top1,
              static_cast<long long>(kEvaluationSamples));
  EXPECT_GE(int8_top1, baseline_->fp32_top1 - kMaxTop1LossPoints);
  EXPECT_GT(baseline_->fp32_top1, 70.0);
}

// At 4 bits (simulated w4a4, first conv kept fp32) resolution is scarce:
// entropy and MSE, which trade clipping against the levels 4 bits leave,
// must beat naive min/max clearly (measured: naive 66.4%, MSE 75.4%, entropy
// 80.5% against fp32 85.9%). Percentile does not depend on the bit width.
TEST_F(Int8CalibrationAccuracyTest, FourBitActivationsCalibratedForFourBitsBeatNaive) {
  ASSERT_NE(baseline_->fp32, nullptr) << "fp32 session or Fashion-MNIST data unavailable";
  auto top1_with = [](CalibrationMethod method) -> double {
    CalibrationOptions options = OptionsFor(method);
    options.activation_bits = 4;
    absl::StatusOr<CalibrationTable> table =
        Calibrate(*baseline_->fp32, baseline_->train, options, nullptr);
    EXPECT_TRUE(table.ok()) << table.status();
    if (!table.ok()) return 0.0;
    SessionOptions session_options;
    session_options.precision = Precision::kInt8;
    session_options.calibration = &*table;
    session_options.quantization.weight_bits = 4;
    session_options.quantization.activation_bits = 4;
    session_options.quantization.exclude_first_conv = true;
    absl::StatusOr<std::unique_ptr<InferenceSession>> w4a4 =
        InferenceSession::Create(baseline_->onnx, session_options);
    EXPECT_TRUE(w4a4.ok()) << w4a4.status();
    if (!w4a4.ok()) return 0.0;
    absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(**w4a4, baseline_->test, 250);
    EXPECT_TRUE(report.ok()) << report.status();
    const double top1 = report.ok() ? 100.0 * report->top1 : 0.0;
    std::printf("resnet w4a4, %s calibration for 4 bits: top-1 %.2f%% (fp32 %.2f%%)\n",
                std::string(CalibrationMethodName(method)).c_str(), top1, baseline_->fp32_top1);
    return top1;
  };
  const double naive = top1_with(CalibrationMethod::kNaive);
  EXPECT_GT(top1_with(CalibrationMethod::kMse), naive + 5.0);
  EXPECT_GT(top1_with(CalibrationMethod::kEntropy), naive + 5.0);
}

INSTANTIATE_TEST_SUITE_P(Methods, Int8CalibrationAccuracyTest,
                         ::testing::Values(CalibrationMethod::kEntropy,
                                           CalibrationMethod::kPercentile, CalibrationMethod::kMse,
                                           CalibrationMethod::kEma),
                         [](const ::testing::TestParamInfo<CalibrationMethod>& info) {
                           return std::string(CalibrationMethodName(info.param));
                         });

}  // namespace
}  // namespace quantd::engine
