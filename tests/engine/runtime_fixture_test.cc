// The trained Fashion-MNIST fixtures (tools/train_fixtures.py) through the
// whole engine path: ONNX import, standard passes, fp32 Plan. Logits must
// match PyTorch's within 1e-4; the int8 Plan (calibrated on test images it is
// then not scored on) must agree with fp32 on nearly every top-1 prediction.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/runtime/inference_session.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

constexpr char kImages[] = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
constexpr char kLabels[] = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

std::string Fixture(const std::string& name) {
  return std::string(QUANTD_SOURCE_DIR) + "/fixtures/" + name;
}

bool ReadFile(const std::string& path, std::string* contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *contents = s.str();
  return true;
}

const Dataset& TestSet() {
  static const Dataset* dataset = [] {
    absl::StatusOr<Dataset> d = ReadIdxDataset(kImages, kLabels, 1.0f / 255.0f);
    EXPECT_TRUE(d.ok()) << d.status();
    return new Dataset(d.ok() ? std::move(*d) : Dataset{});
  }();
  return *dataset;
}

Tensor Images(const std::vector<int64_t>& indices) {
  const Dataset& d = TestSet();
  Tensor t{"input", {static_cast<int64_t>(indices.size()), 1, 28, 28}, {}};
  for (int64_t i : indices) {
    t.data.insert(t.data.end(), d.samples.begin() + i * d.SampleSize(),
                  d.samples.begin() + (i + 1) * d.SampleSize());
  }
  return t;
}

int64_t ArgMax(const std::vector<float>& logits, int64_t row) {
  const auto begin = logits.begin() + row * 10;
  return std::max_element(begin, begin + 10) - begin;
}

class RuntimeFixtureTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!ReadFile(Fixture(GetParam() + "_fmnist.onnx"), &model_)) {
      FAIL() << "fixture " << GetParam() << "_fmnist.onnx is missing from fixtures/";
    }
    ASSERT_GT(TestSet().num_samples, 0);
  }
  std::string model_;
};

TEST_P(RuntimeFixtureTest, Fp32LogitsMatchPyTorch) {
  std::ifstream in(Fixture(GetParam() + "_reference_logits.txt"));
  ASSERT_TRUE(in) << "missing reference logits";
  std::vector<int64_t> indices;
  std::vector<float> expected;
  for (int64_t index; in >> index;) {
    indices.push_back(index);
    for (int k = 0; k < 10; ++k) {
      float v;
      in >> v;
      expected.push_back(v);
    }
  }
  ASSERT_FALSE(indices.empty());
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      InferenceSession::Create(model_, SessionOptions{});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<std::vector<Tensor>> out = (*session)->Run(Images(indices));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ((*out)[0].data.size(), expected.size());
  float max_diff = 0.0f;
  for (size_t i = 0; i < expected.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs((*out)[0].data[i] - expected[i]));
  }
  EXPECT_LE(max_diff, 1e-4f);
  std::printf("  %s: max |logit - pytorch| = %.3g over %zu images\n", GetParam().c_str(), max_diff,
              indices.size());
}

TEST_P(RuntimeFixtureTest, Int8AgreesWithFp32) {
  absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 =
      InferenceSession::Create(model_, SessionOptions{});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  // Calibrate on images 9000..9255, score on 0..999.
  CalibrationTable table;
  std::vector<int64_t> calibration(256);
  for (int64_t i = 0; i < 256; ++i) calibration[i] = 9000 + i;
  absl::StatusOr<std::vector<Tensor>> observed =
      (*fp32)->RunObserved(Images(calibration), [&](const std::string& name, const Tensor& value) {
        const auto [lo, hi] = std::minmax_element(value.data.begin(), value.data.end());
        table.ranges[name] = TensorRange{*lo, *hi};
      });
  ASSERT_TRUE(observed.ok()) << observed.status();
  SessionOptions options;
  options.precision = Precision::kInt8;
  options.calibration = &table;
  absl::StatusOr<std::unique_ptr<InferenceSession>> int8 =
      InferenceSession::Create(model_, options);
  ASSERT_TRUE(int8.ok()) << int8.status();

  const int64_t kImagesScored = 1000, kBatch = 100;
  int64_t agree = 0, fp32_correct = 0, int8_correct = 0;
  for (int64_t start = 0; start < kImagesScored; start += kBatch) {
    std::vector<int64_t> indices(kBatch);
    for (int64_t i = 0; i < kBatch; ++i) indices[i] = start + i;
    const Tensor batch = Images(indices);
    absl::StatusOr<std::vector<Tensor>> a = (*fp32)->Run(batch);
    absl::StatusOr<std::vector<Tensor>> b = (*int8)->Run(batch);
    ASSERT_TRUE(a.ok() && b.ok());
    for (int64_t i = 0; i < kBatch; ++i) {
      const int64_t label = TestSet().labels[start + i];
      const int64_t pa = ArgMax((*a)[0].data, i), pb = ArgMax((*b)[0].data, i);
      agree += pa == pb;
      fp32_correct += pa == label;
      int8_correct += pb == label;
    }
  }
  std::printf("  %s: top-1 fp32 %.1f%%, int8 %.1f%%, agreement %.1f%% (%ld images)\n",
              GetParam().c_str(), 100.0 * fp32_correct / kImagesScored,
              100.0 * int8_correct / kImagesScored, 100.0 * agree / kImagesScored,
              static_cast<long>(kImagesScored));
  EXPECT_GE(agree, kImagesScored * 97 / 100);
  EXPECT_GE(int8_correct, fp32_correct - kImagesScored * 2 / 100);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RuntimeFixtureTest,
                         ::testing::Values("resnet", "mobilenetv2", "vgg", "mobilenetv3"));

}  // namespace
}  // namespace quantd::engine
