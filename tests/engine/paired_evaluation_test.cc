#include "engine/eval/paired_evaluation.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/eval/accuracy.h"
#include "engine/eval/output_agreement.h"
#include "engine/eval/paired_batches.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/one_input_session.h"

namespace quantd::engine {
namespace {

using ::testing::DoubleEq;
using ::testing::HasSubstr;

// Scores each {N, 3} sample as itself, with `bias` added to the last score;
// counts the samples it ran.
class ScoringSession : public testing::OneInputSession {
 public:
  explicit ScoringSession(float bias) : bias_(bias) {}

  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override {
    Tensor scores{"scores", input.shape, input.data};
    for (size_t i = 2; i < scores.data.size(); i += 3) scores.data[i] += bias_;
    samples_run_ += input.shape.at(0);
    return std::vector<Tensor>{scores};
  }
  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                  const ActivationObserver&) override {
    return Run(input);
  }
  const ModelSummary& summary() const override { return summary_; }
  Precision precision() const override { return Precision::kFp32; }

  int64_t samples_run() const { return samples_run_; }

 private:
  float bias_;
  int64_t samples_run_ = 0;
  ModelSummary summary_;
};

// Five samples of three class scores; the labels make the unbiased scores
// right on 0, 1, 3 (top-1 3/5).
Dataset FiveSamples(bool labelled) {
  Dataset data;
  data.sample_shape = {3};
  data.num_samples = 5;
  data.samples = {0.9f, 0.1f, 0.3f,  //
                  0.1f, 0.8f, 0.7f,  //
                  0.6f, 0.2f, 0.1f,  //
                  0.1f, 0.2f, 0.5f,  //
                  0.3f, 0.4f, 0.35f};
  if (labelled) data.labels = {0, 1, 1, 2, 2};
  return data;
}

TEST(PairedEvaluationTest, OnePassGivesWhatSeparatePassesGive) {
  const Dataset data = FiveSamples(/*labelled=*/true);
  ScoringSession reference(0.0f);
  ScoringSession candidate(0.2f);  // tips samples 1 and 4 to class 2
  std::vector<int64_t> progress;
  absl::StatusOr<PairedEvaluation> paired =
      EvaluatePair(reference, candidate, data, /*batch_size=*/2, [&](int64_t done, int64_t total) {
        EXPECT_EQ(total, 5);
        progress.push_back(done);
        return true;
      });
  ASSERT_TRUE(paired.ok()) << paired.status();
  // Each session saw each sample once: half the work of three separate passes.
  EXPECT_EQ(reference.samples_run(), 5);
  EXPECT_EQ(candidate.samples_run(), 5);
  EXPECT_EQ(progress, (std::vector<int64_t>{2, 4, 5}));

  ScoringSession reference_again(0.0f);
  ScoringSession candidate_again(0.2f);
  const absl::StatusOr<AccuracyReport> reference_accuracy =
      EvaluateAccuracy(reference_again, data, 2);
  const absl::StatusOr<AccuracyReport> candidate_accuracy =
      EvaluateAccuracy(candidate_again, data, 2);
  const absl::StatusOr<OutputAgreement> agreement =
      CompareOutputs(reference_again, candidate_again, data, 2);
  ASSERT_TRUE(reference_accuracy.ok() && candidate_accuracy.ok() && agreement.ok());
  ASSERT_TRUE(paired->reference_accuracy.has_value());
  ASSERT_TRUE(paired->candidate_accuracy.has_value());
  EXPECT_THAT(paired->reference_accuracy->top1, DoubleEq(0.6));
  EXPECT_THAT(paired->reference_accuracy->top1, DoubleEq(reference_accuracy->top1));
  EXPECT_THAT(paired->reference_accuracy->top5, DoubleEq(reference_accuracy->top5));
  EXPECT_THAT(paired->candidate_accuracy->top1, DoubleEq(candidate_accuracy->top1));
  EXPECT_EQ(paired->candidate_accuracy->num_samples, 5);
  EXPECT_THAT(paired->agreement.top1_agreement, DoubleEq(0.6));
  EXPECT_THAT(paired->agreement.top1_agreement, DoubleEq(agreement->top1_agreement));
  EXPECT_THAT(paired->agreement.mean_cosine_similarity,
              DoubleEq(agreement->mean_cosine_similarity));
  EXPECT_THAT(paired->agreement.min_cosine_similarity, DoubleEq(agreement->min_cosine_similarity));
  EXPECT_LT(paired->agreement.min_cosine_similarity, 1.0);
}

TEST(PairedEvaluationTest, UnlabelledDataGetsAgreementOnly) {
  ScoringSession reference(0.0f);
  ScoringSession candidate(0.0f);
  absl::StatusOr<PairedEvaluation> paired =
      EvaluatePair(reference, candidate, FiveSamples(/*labelled=*/false));
  ASSERT_TRUE(paired.ok()) << paired.status();
  EXPECT_FALSE(paired->reference_accuracy.has_value());
  EXPECT_FALSE(paired->candidate_accuracy.has_value());
  EXPECT_EQ(paired->agreement.num_samples, 5);
  EXPECT_THAT(paired->agreement.top1_agreement, DoubleEq(1.0));
}

TEST(PairedEvaluationTest, StopsWhenProgressSaysSo) {
  ScoringSession reference(0.0f);
  ScoringSession candidate(0.0f);
  absl::StatusOr<PairedEvaluation> paired = EvaluatePair(reference, candidate, FiveSamples(true), 2,
                                                         [](int64_t, int64_t) { return false; });
  EXPECT_EQ(paired.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(reference.samples_run(), 2);
}

TEST(PairedEvaluationTest, BadArgumentsAreRefused) {
  ScoringSession reference(0.0f);
  ScoringSession candidate(0.0f);
  EXPECT_THAT(EvaluatePair(reference, candidate, FiveSamples(true), 0).status().message(),
              HasSubstr("batch_size must be positive"));
  Dataset empty;
  empty.sample_shape = {3};
  EXPECT_EQ(EvaluatePair(reference, candidate, empty).status().code(),
            absl::StatusCode::kInvalidArgument);
  Dataset out_of_range = FiveSamples(true);
  out_of_range.labels[4] = 7;
  EXPECT_THAT(EvaluatePair(reference, candidate, out_of_range).status().message(),
              HasSubstr("label 7 is outside the model's classes 0..2"));
}

// The loop both EvaluatePair and CompareOutputs run on.
TEST(PairedBatchesTest, HandsOverEveryBatchInOrderAndStopsAtTheFirstError) {
  ScoringSession reference(0.0f);
  ScoringSession candidate(1.0f);
  std::vector<std::pair<int64_t, int64_t>> batches;
  const absl::Status all =
      RunPairedBatches(reference, candidate, FiveSamples(false), 2, "test pass", nullptr,
                       [&](int64_t start, int64_t count, const std::vector<Tensor>& a,
                           const std::vector<Tensor>& b) {
                         batches.emplace_back(start, count);
                         EXPECT_EQ(a.at(0).shape.at(0), count);
                         EXPECT_EQ(b.at(0).data.at(2), a.at(0).data.at(2) + 1.0f);
                         return absl::OkStatus();
                       });
  ASSERT_TRUE(all.ok()) << all;
  EXPECT_EQ(batches, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 2}, {4, 1}}));

  int calls = 0;
  const absl::Status failed = RunPairedBatches(
      reference, candidate, FiveSamples(false), 2, "test pass", nullptr,
      [&](int64_t, int64_t, const std::vector<Tensor>&, const std::vector<Tensor>&) {
        ++calls;
        return absl::DataLossError("bad batch");
      });
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(RunPairedBatches(
                  reference, candidate, FiveSamples(false), 2, "test pass",
                  [](int64_t, int64_t) { return false; },
                  [](int64_t, int64_t, const std::vector<Tensor>&, const std::vector<Tensor>&) {
                    return absl::OkStatus();
                  })
                  .message(),
              HasSubstr("test pass cancelled"));
}

}  // namespace
}  // namespace quantd::engine
