#include "engine/eval/accuracy.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/one_input_session.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A "model" that looks up canned class scores: each sample holds its own
// index, and the session answers with the scores stored for that index.
class FakeClassifierSession : public testing::OneInputSession {
 public:
  explicit FakeClassifierSession(std::vector<std::vector<float>> scores)
      : scores_(std::move(scores)) {}

  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override {
    const int64_t n = input.shape.at(0);
    batch_sizes_.push_back(n);
    const int64_t classes = static_cast<int64_t>(scores_.at(0).size());
    Tensor out;
    out.name = "logits";
    out.shape =
        output_shape_override_.empty() ? std::vector<int64_t>{n, classes} : output_shape_override_;
    for (int64_t i = 0; i < n; ++i) {
      const auto& row = scores_.at(static_cast<size_t>(input.data.at(i)));
      out.data.insert(out.data.end(), row.begin(), row.end());
    }
    if (no_outputs_) return std::vector<Tensor>{};
    return std::vector<Tensor>{out};
  }

  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor&,
                                                  const ActivationObserver&) override {
    return absl::UnimplementedError("not needed for accuracy");
  }
  const ModelSummary& summary() const override { return summary_; }
  Precision precision() const override { return Precision::kInt8; }

  const std::vector<int64_t>& batch_sizes() const { return batch_sizes_; }
  void OverrideOutputShape(std::vector<int64_t> shape) { output_shape_override_ = shape; }
  void ReturnNoOutputs() { no_outputs_ = true; }

 private:
  std::vector<std::vector<float>> scores_;
  ModelSummary summary_;
  std::vector<int64_t> batch_sizes_;
  std::vector<int64_t> output_shape_override_;
  bool no_outputs_ = false;
};

Dataset IndexedSamples(const std::vector<int32_t>& labels) {
  Dataset data;
  data.sample_shape = {1};
  data.num_samples = static_cast<int64_t>(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) data.samples.push_back(static_cast<float>(i));
  data.labels = labels;
  return data;
}

TEST(AccuracyTest, CountsTop1AndTop5) {
  // Seven classes. Scores are chosen so the true class ranks 0, 1, 4, 5 and 6.
  FakeClassifierSession session({
      {0.9f, 0.1f, 0, 0, 0, 0, 0},     // label 0: rank 0
      {0.5f, 0.4f, 0.1f, 0, 0, 0, 0},  // label 1: rank 1
      {7, 6, 5, 4, 3, 2, 1},           // label 4: rank 4
      {7, 6, 5, 4, 3, 2, 1},           // label 5: rank 5
      {7, 6, 5, 4, 3, 2, 1},           // label 6: rank 6
  });
  absl::StatusOr<AccuracyReport> report =
      EvaluateAccuracy(session, IndexedSamples({0, 1, 4, 5, 6}), 2);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->num_samples, 5);
  EXPECT_DOUBLE_EQ(report->top1, 1.0 / 5);
  EXPECT_DOUBLE_EQ(report->top5, 3.0 / 5);
  EXPECT_THAT(session.batch_sizes(), ElementsAre(2, 2, 1));
}

TEST(AccuracyTest, TiesGoToTheLowerIndex) {
  FakeClassifierSession session({
      {1, 1, 1, 1, 1, 1, 1},  // label 0 wins the tie
      {1, 1, 1, 1, 1, 1, 1},  // label 1 loses top-1 to class 0
      {1, 1, 1, 1, 1, 1, 1},  // label 4 is fifth: a top-5 hit
      {1, 1, 1, 1, 1, 1, 1},  // label 5 is sixth: a miss
  });
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0, 1, 4, 5}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_DOUBLE_EQ(report->top1, 1.0 / 4);
  EXPECT_DOUBLE_EQ(report->top5, 3.0 / 4);
}

TEST(AccuracyTest, NaNScoreNeverCountsAsAHit) {
  FakeClassifierSession session({
      {NAN, 0, 0, 0, 0, 0, 0},             // the true class scores NaN: ranks last
      {0, NAN, NAN, NAN, NAN, NAN, 0.5f},  // NaN elsewhere: class 6 is top-1
  });
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0, 6}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_DOUBLE_EQ(report->top1, 0.5);
  EXPECT_DOUBLE_EQ(report->top5, 0.5);
}

TEST(AccuracyTest, FewerThanFiveClassesMakesTop5Certain) {
  FakeClassifierSession session({{0.1f, 0.2f, 0.7f}, {0.1f, 0.2f, 0.7f}});
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({2, 0}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_DOUBLE_EQ(report->top1, 0.5);
  EXPECT_DOUBLE_EQ(report->top5, 1.0);
}

TEST(AccuracyTest, RequiresLabels) {
  FakeClassifierSession session({{1, 0}});
  Dataset data = IndexedSamples({0});
  data.labels.clear();
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, data);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("no labels"));
  EXPECT_TRUE(session.batch_sizes().empty());
}

TEST(AccuracyTest, RejectsNonPositiveBatchSize) {
  FakeClassifierSession session({{1, 0}});
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0}), 0);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("batch_size"));
}

TEST(AccuracyTest, LabelOutOfRangeNamesTheSample) {
  FakeClassifierSession session({{1, 0, 0}, {1, 0, 0}, {1, 0, 0}});
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0, 1, 3}), 2);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("sample 2: label 3"));
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("0..2"));

  report = EvaluateAccuracy(session, IndexedSamples({-1}));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("sample 0: label -1"));
}

TEST(AccuracyTest, RejectsOutputThatIsNotClassScores) {
  FakeClassifierSession session({{1, 0, 0, 0}, {1, 0, 0, 0}});
  session.OverrideOutputShape({2, 2, 2});
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0, 1}));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("'logits' has shape [2, 2, 2]"));
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("[2, classes]"));
}

TEST(AccuracyTest, RejectsModelWithoutOutputs) {
  FakeClassifierSession session({{1, 0}});
  session.ReturnNoOutputs();
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0}));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("no outputs"));
}

TEST(AccuracyTest, SessionErrorsPassThrough) {
  class FailingSession : public FakeClassifierSession {
   public:
    FailingSession() : FakeClassifierSession(std::vector<std::vector<float>>{{1.0f}}) {}
    absl::StatusOr<std::vector<Tensor>> Run(const Tensor&) override {
      return absl::InvalidArgumentError("input shape [1, 1] does not match [-1, 1, 28, 28]");
    }
  };
  FailingSession session;
  absl::StatusOr<AccuracyReport> report = EvaluateAccuracy(session, IndexedSamples({0}));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("does not match"));
}

}  // namespace
}  // namespace quantd::engine
