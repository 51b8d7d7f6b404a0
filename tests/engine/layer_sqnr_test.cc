// Per-layer SQNR and int8/simulated RunObserved on the trained ResNet fixture:
// an int8 session reports its node outputs dequantized, under the names the
// fp32 session (same passes) uses, so the two can be paired.

#include "engine/eval/layer_sqnr.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/quant/calibrator.h"
#include "engine/runtime/inference_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/fixture_files.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAreArray;

constexpr char kImages[] = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

// The first 64 test images: 32 to calibrate on, all 64 to measure.
const Dataset& Images() {
  static const Dataset* dataset = [] {
    absl::StatusOr<Dataset> d = ReadIdxDataset(kImages, "", 1.0f / 255.0f);
    EXPECT_TRUE(d.ok()) << d.status();
    Dataset first = d.ok() ? std::move(*d) : Dataset{};
    first.num_samples = std::min<int64_t>(first.num_samples, 64);
    first.samples.resize(first.num_samples * first.SampleSize());
    return new Dataset(std::move(first));
  }();
  return *dataset;
}

class LayerSqnrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = ReadFixture("resnet_fmnist.onnx");
    ASSERT_FALSE(model_.empty()) << "fixtures/resnet_fmnist.onnx is missing";
    ASSERT_EQ(Images().num_samples, 64);
    absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 =
        InferenceSession::Create(model_, SessionOptions{});
    ASSERT_TRUE(fp32.ok()) << fp32.status();
    fp32_ = std::move(*fp32);
    CalibrationOptions calibration;
    calibration.max_samples = 32;
    absl::StatusOr<CalibrationTable> table = Calibrate(*fp32_, Images(), calibration, nullptr);
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = std::move(*table);
  }

  std::unique_ptr<InferenceSession> Quantized(int bits) {
    SessionOptions options;
    options.precision = Precision::kInt8;
    options.calibration = &table_;
    options.quantization.weight_bits = bits;
    options.quantization.activation_bits = bits;
    absl::StatusOr<std::unique_ptr<InferenceSession>> session =
        InferenceSession::Create(model_, options);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? std::move(*session) : nullptr;
  }

  std::vector<LayerSqnr> Measure(InferenceSession& quantized) {
    absl::StatusOr<std::vector<QuantizedLayer>> layers = ListQuantizedLayers(model_, true, {});
    EXPECT_TRUE(layers.ok()) << layers.status();
    if (!layers.ok()) return {};
    absl::StatusOr<std::vector<LayerSqnr>> sqnr = MeasureLayerSqnr(
        *fp32_, quantized, *layers, Images(), {.max_samples = 64, .batch_size = 16});
    EXPECT_TRUE(sqnr.ok()) << sqnr.status();
    return sqnr.ok() ? *sqnr : std::vector<LayerSqnr>{};
  }

  std::string model_;
  std::unique_ptr<InferenceSession> fp32_;
  CalibrationTable table_;
};

std::vector<std::string> ObservedNames(InferenceSession& session, const Tensor& input) {
  std::vector<std::string> names;
  absl::StatusOr<std::vector<Tensor>> out = session.RunObserved(
      input, [&](const std::string& name, const Tensor&) { names.push_back(name); });
  EXPECT_TRUE(out.ok()) << out.status();
  return names;
}

TEST_F(LayerSqnrTest, Int8SessionObservesFp32NamesWithCloseValues) {
  std::unique_ptr<InferenceSession> int8 = Quantized(8);
  ASSERT_NE(int8, nullptr);
  ASSERT_FALSE(int8->simulated());
  const Tensor batch = Images().Batch(0, 4);
  EXPECT_EQ(ObservedNames(*int8, batch), ObservedNames(*fp32_, batch));

  // The last observed value is the model output: the dequantized observation
  // of it matches what Run() returns.
  Tensor last;
  absl::StatusOr<std::vector<Tensor>> observed =
      int8->RunObserved(batch, [&](const std::string&, const Tensor& value) { last = value; });
  ASSERT_TRUE(observed.ok()) << observed.status();
  ASSERT_EQ(last.data.size(), (*observed)[0].data.size());
  for (size_t i = 0; i < last.data.size(); ++i) {
    EXPECT_NEAR(last.data[i], (*observed)[0].data[i], 1e-4f) << i;
  }
}

TEST_F(LayerSqnrTest, EightBitLayersStayWellAboveTwentyDecibels) {
  std::unique_ptr<InferenceSession> int8 = Quantized(8);
  ASSERT_NE(int8, nullptr);
  const std::vector<LayerSqnr> sqnr = Measure(*int8);
  ASSERT_GE(sqnr.size(), 5u);
  for (const LayerSqnr& layer : sqnr) {
    std::printf("  %-28s %-10s %6.1f dB\n", layer.layer.node_name.c_str(),
                layer.layer.op_type.c_str(), layer.sqnr_db);
    EXPECT_GT(layer.sqnr_db, 20.0) << layer.layer.node_name;
  }
}

TEST_F(LayerSqnrTest, ReportsLayersInGraphOrder) {
  std::unique_ptr<InferenceSession> int8 = Quantized(8);
  ASSERT_NE(int8, nullptr);
  const std::vector<LayerSqnr> sqnr = Measure(*int8);
  // Graph order is the order the session observes its values in.
  std::vector<std::string> observed;
  for (const std::string& name : ObservedNames(*int8, Images().Batch(0, 1))) {
    if (std::any_of(sqnr.begin(), sqnr.end(),
                    [&](const LayerSqnr& layer) { return layer.layer.output == name; })) {
      observed.push_back(name);
    }
  }
  std::vector<std::string> reported;
  for (const LayerSqnr& layer : sqnr) reported.push_back(layer.layer.output);
  EXPECT_THAT(reported, ElementsAreArray(observed));
  EXPECT_EQ(reported.size(), sqnr.size());
}

TEST_F(LayerSqnrTest, FourBitSimulatedSessionHasLowerSqnr) {
  std::unique_ptr<InferenceSession> int8 = Quantized(8);
  std::unique_ptr<InferenceSession> int4 = Quantized(4);
  ASSERT_NE(int8, nullptr);
  ASSERT_NE(int4, nullptr);
  ASSERT_TRUE(int4->simulated());
  const std::vector<LayerSqnr> eight = Measure(*int8);
  const std::vector<LayerSqnr> four = Measure(*int4);
  ASSERT_EQ(eight.size(), four.size());
  ASSERT_FALSE(eight.empty());
  for (size_t i = 0; i < eight.size(); ++i) {
    EXPECT_EQ(eight[i].layer.output, four[i].layer.output);
    EXPECT_LT(four[i].sqnr_db, eight[i].sqnr_db - 6.0) << eight[i].layer.output;
  }
}

TEST_F(LayerSqnrTest, ExcludedNodesAreNotListed) {
  absl::StatusOr<std::vector<QuantizedLayer>> all = ListQuantizedLayers(model_, true, {});
  QuantizationOptions first_conv_fp32;
  first_conv_fp32.exclude_first_conv = true;
  absl::StatusOr<std::vector<QuantizedLayer>> fewer =
      ListQuantizedLayers(model_, true, first_conv_fp32);
  ASSERT_TRUE(all.ok() && fewer.ok());
  ASSERT_EQ(fewer->size() + 1, all->size());
  EXPECT_EQ((*all)[0].op_type, "Conv");
  EXPECT_NE((*fewer)[0].node_name, (*all)[0].node_name);
}

TEST_F(LayerSqnrTest, IdenticalSessionsGiveInfiniteSqnrAndCancelStops) {
  absl::StatusOr<std::vector<QuantizedLayer>> layers = ListQuantizedLayers(model_, true, {});
  ASSERT_TRUE(layers.ok()) << layers.status();
  absl::StatusOr<std::vector<LayerSqnr>> same =
      MeasureLayerSqnr(*fp32_, *fp32_, *layers, Images(), {.max_samples = 4, .batch_size = 4});
  ASSERT_TRUE(same.ok()) << same.status();
  ASSERT_FALSE(same->empty());
  for (const LayerSqnr& layer : *same) EXPECT_TRUE(std::isinf(layer.sqnr_db));

  absl::StatusOr<std::vector<LayerSqnr>> cancelled =
      MeasureLayerSqnr(*fp32_, *fp32_, *layers, Images(), {.max_samples = 8, .batch_size = 4},
                       [](int64_t, int64_t) { return false; });
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace quantd::engine
