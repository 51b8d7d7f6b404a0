#include "engine/eval/output_agreement.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/one_input_session.h"

namespace quantd::engine {
namespace {

using ::testing::DoubleNear;
using ::testing::HasSubstr;

// Outputs `transform(row)` for each sample row of its {N, K} input.
class RowTransformSession : public testing::OneInputSession {
 public:
  explicit RowTransformSession(std::function<std::vector<float>(std::vector<float>)> transform)
      : transform_(std::move(transform)) {}

  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override {
    const int64_t rows = input.shape.at(0);
    const int64_t size = input.NumElements() / rows;
    Tensor output{"scores", {}, {}};
    for (int64_t i = 0; i < rows; ++i) {
      const std::vector<float> row(input.data.begin() + i * size,
                                   input.data.begin() + (i + 1) * size);
      const std::vector<float> out = transform_(row);
      output.data.insert(output.data.end(), out.begin(), out.end());
    }
    output.shape = {rows, static_cast<int64_t>(output.data.size()) / rows};
    return std::vector<Tensor>{output};
  }
  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                  const ActivationObserver&) override {
    return Run(input);
  }
  const ModelSummary& summary() const override { return summary_; }
  Precision precision() const override { return Precision::kFp32; }

 private:
  std::function<std::vector<float>(std::vector<float>)> transform_;
  ModelSummary summary_;
};

std::vector<float> Identity(std::vector<float> row) { return row; }

// Four samples of three scores; the first two start with a score above 0.5.
Dataset FourSamples() {
  Dataset data;
  data.sample_shape = {3};
  data.num_samples = 4;
  data.samples = {0.9f, 0.1f, 0.3f,  //
                  0.7f, 0.2f, 0.8f,  //
                  0.1f, 0.6f, 0.2f,  //
                  0.2f, 0.3f, 0.4f};
  return data;
}

TEST(OutputAgreementTest, IdenticalSessionsAgreeCompletely) {
  RowTransformSession a(Identity), b(Identity);
  absl::StatusOr<OutputAgreement> agreement = CompareOutputs(a, b, FourSamples());
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  EXPECT_EQ(agreement->num_samples, 4);
  EXPECT_DOUBLE_EQ(agreement->top1_agreement, 1.0);
  EXPECT_THAT(agreement->mean_cosine_similarity, DoubleNear(1.0, 1e-12));
  EXPECT_THAT(agreement->min_cosine_similarity, DoubleNear(1.0, 1e-12));
}

TEST(OutputAgreementTest, ScaledOutputsKeepCosineAndArgMax) {
  RowTransformSession a(Identity);
  RowTransformSession b([](std::vector<float> row) {
    for (float& v : row) v *= 3.0f;
    return row;
  });
  absl::StatusOr<OutputAgreement> agreement = CompareOutputs(a, b, FourSamples());
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  EXPECT_DOUBLE_EQ(agreement->top1_agreement, 1.0);
  EXPECT_THAT(agreement->min_cosine_similarity, DoubleNear(1.0, 1e-6));
}

TEST(OutputAgreementTest, NegatedRowsDisagreeInEveryBatching) {
  RowTransformSession a(Identity);
  // Negates the rows whose first score is above 0.5: their arg-max moves and
  // their cosine similarity is -1; the other two rows are untouched.
  RowTransformSession b([](std::vector<float> row) {
    if (row[0] > 0.5f) {
      for (float& v : row) v = -v;
    }
    return row;
  });
  for (const int64_t batch_size : {1, 3, 64}) {
    absl::StatusOr<OutputAgreement> agreement = CompareOutputs(a, b, FourSamples(), batch_size);
    ASSERT_TRUE(agreement.ok()) << agreement.status();
    EXPECT_DOUBLE_EQ(agreement->top1_agreement, 0.5) << "batch " << batch_size;
    EXPECT_THAT(agreement->mean_cosine_similarity, DoubleNear(0.0, 1e-6));
    EXPECT_THAT(agreement->min_cosine_similarity, DoubleNear(-1.0, 1e-6));
  }
}

TEST(OutputAgreementTest, ZeroRowsCountAsAgreeingOnlyWithZero) {
  RowTransformSession zeros([](std::vector<float> row) { return std::vector<float>(row.size()); });
  RowTransformSession also_zeros(
      [](std::vector<float> row) { return std::vector<float>(row.size()); });
  RowTransformSession identity(Identity);
  absl::StatusOr<OutputAgreement> same = CompareOutputs(zeros, also_zeros, FourSamples());
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_DOUBLE_EQ(same->mean_cosine_similarity, 1.0);
  absl::StatusOr<OutputAgreement> different = CompareOutputs(zeros, identity, FourSamples());
  ASSERT_TRUE(different.ok()) << different.status();
  EXPECT_DOUBLE_EQ(different->mean_cosine_similarity, 0.0);
}

TEST(OutputAgreementTest, ReportsProgressAndStopsWhenAsked) {
  RowTransformSession a(Identity), b(Identity);
  std::vector<int64_t> done;
  absl::StatusOr<OutputAgreement> agreement =
      CompareOutputs(a, b, FourSamples(), 3, [&](int64_t samples_done, int64_t total) {
        EXPECT_EQ(total, 4);
        done.push_back(samples_done);
        return true;
      });
  ASSERT_TRUE(agreement.ok()) << agreement.status();
  EXPECT_EQ(done, (std::vector<int64_t>{3, 4}));

  agreement = CompareOutputs(a, b, FourSamples(), 1, [](int64_t, int64_t) { return false; });
  EXPECT_EQ(agreement.status().code(), absl::StatusCode::kCancelled);
}

TEST(OutputAgreementTest, RejectsDifferentOutputShapesAndBadArguments) {
  RowTransformSession a(Identity);
  RowTransformSession longer([](std::vector<float> row) {
    row.push_back(0.0f);
    return row;
  });
  absl::StatusOr<OutputAgreement> agreement = CompareOutputs(a, longer, FourSamples());
  EXPECT_EQ(agreement.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(agreement.status().message(), HasSubstr("output 'scores' has shape [4,3]"));
  EXPECT_EQ(CompareOutputs(a, a, FourSamples(), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompareOutputs(a, a, Dataset{}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quantd::engine
