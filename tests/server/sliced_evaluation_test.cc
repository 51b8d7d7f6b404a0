#include "server/sliced_evaluation.h"

#include <filesystem>
#include <memory>

#include "gtest/gtest.h"
#include "server/atomic_file.h"
#include "server/session_loader.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;

const fs::path kModelPath = fs::path(QUANTD_SOURCE_DIR) / "fixtures" / "resnet_fmnist.onnx";
const char kImages[] = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
const char kLabels[] = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

engine::Dataset FirstSamples(const engine::Dataset& data, int64_t count) {
  engine::Dataset out = data;
  out.num_samples = count;
  out.samples.resize(static_cast<size_t>(count * data.SampleSize()));
  out.labels.resize(static_cast<size_t>(count));
  return out;
}

class SlicedEvaluationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto onnx = ReadFileToString(kModelPath);
    ASSERT_TRUE(onnx.ok()) << onnx.status();
    auto session = CreateSession(*onnx, std::nullopt, "resnet fixture");
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
    auto data = engine::ReadIdxDataset(kImages, kLabels, 1.0f / 255.0f);
    ASSERT_TRUE(data.ok()) << data.status();
    // 300 is not a multiple of the slice size: the last slice is short.
    data_ = FirstSamples(*data, 300);
  }

  std::shared_ptr<engine::InferenceSession> session_;
  engine::Dataset data_;
};

TEST_F(SlicedEvaluationTest, MatchesOneWholeDatasetEvaluation) {
  auto whole = engine::EvaluateAccuracy(*session_, data_);
  ASSERT_TRUE(whole.ok()) << whole.status();
  std::vector<int64_t> reported;
  auto sliced = EvaluateAccuracyInSlices(*session_, data_, 128, [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 300);
    reported.push_back(done);
    return true;
  });
  ASSERT_TRUE(sliced.ok()) << sliced.status();
  EXPECT_EQ(sliced->num_samples, 300);
  EXPECT_DOUBLE_EQ(sliced->top1, whole->top1);
  EXPECT_DOUBLE_EQ(sliced->top5, whole->top5);
  EXPECT_EQ(reported, (std::vector<int64_t>{128, 256, 300}));
}

TEST_F(SlicedEvaluationTest, StopsWhenProgressSaysSo) {
  int calls = 0;
  auto sliced =
      EvaluateAccuracyInSlices(*session_, data_, 64, [&](int64_t, int64_t) { return ++calls < 2; });
  EXPECT_EQ(sliced.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(calls, 2);
}

TEST_F(SlicedEvaluationTest, RejectsEmptySlicesAndUnlabelledData) {
  EXPECT_EQ(EvaluateAccuracyInSlices(*session_, data_, 0, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  engine::Dataset unlabelled = data_;
  unlabelled.labels.clear();
  EXPECT_EQ(EvaluateAccuracyInSlices(*session_, unlabelled, 64, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quantd::server
