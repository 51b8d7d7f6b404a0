// The evaluation report of a quantization job, through the assembled server:
// accuracy on labelled evaluation sets, agreement with fp32 and per-layer
// SQNR on every job (evaluation set, or else calibration samples).

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

constexpr int64_t kEvaluationSamples = 48;

class JobEvaluationReportTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    if (HasFatalFailure()) return;
    UploadFixtureModelAndImages(&model_, &images_);
  }

  // The first kEvaluationSamples test images as a RAW_FLOAT32 dataset, with
  // their labels or without.
  v1::Dataset UploadEvaluationSet(bool labelled) {
    absl::StatusOr<engine::Dataset> test_set =
        engine::ReadIdxDataset(kImagesPath.string(), kLabelsPath.string(), 1.0f / 255.0f);
    EXPECT_TRUE(test_set.ok()) << test_set.status();
    if (!test_set.ok()) return {};
    std::string samples(kEvaluationSamples * test_set->SampleSize() * sizeof(float), '\0');
    std::memcpy(samples.data(), test_set->samples.data(), samples.size());
    std::string labels;
    if (labelled) {
      labels.resize(kEvaluationSamples * sizeof(int32_t));
      std::memcpy(labels.data(), test_set->labels.data(), labels.size());
    }
    v1::DatasetUploadHeader raw;
    raw.set_name(labelled ? "eval-labelled" : "eval-unlabelled");
    raw.set_format(v1::RAW_FLOAT32);
    for (int64_t d : {1, 28, 28}) raw.add_sample_shape(d);
    v1::Dataset dataset;
    const grpc::Status status = UploadDataset(raw, samples, labels, &dataset);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(dataset.has_labels(), labelled);
    return dataset;
  }

  // Starts a job calibrating on 32 images and watches it to its end.
  v1::Job QuantizeAndWait(const std::string& evaluation_dataset_id) {
    v1::QuantizeModelRequest request;
    request.set_model_id(model_.id());
    request.set_calibration_dataset_id(images_.id());
    request.set_num_calibration_samples(32);
    request.set_evaluation_dataset_id(evaluation_dataset_id);
    return QuantizeAndWatchToEnd(request);
  }

  v1::Job GetJob(const std::string& job_id) {
    grpc::ClientContext context;
    v1::GetJobRequest request;
    request.set_job_id(job_id);
    v1::Job job;
    EXPECT_TRUE(stub_->GetJob(&context, request, &job).ok());
    return job;
  }

  // Agreement of a well-calibrated 8-bit ResNet with fp32, and its layers'
  // SQNR: what any evaluation report of it must show.
  static void ExpectCloseToFp32(const v1::Job& job, const std::string& dataset_id,
                                int64_t num_samples) {
    ASSERT_TRUE(job.has_agreement());
    EXPECT_EQ(job.agreement().dataset_id(), dataset_id);
    EXPECT_EQ(job.agreement().num_samples(), num_samples);
    EXPECT_GE(job.agreement().top1_agreement(), 0.9);
    EXPECT_LE(job.agreement().top1_agreement(), 1.0);
    EXPECT_GT(job.agreement().mean_cosine_similarity(), 0.99);
    EXPECT_LE(job.agreement().min_cosine_similarity(), job.agreement().mean_cosine_similarity());
    ASSERT_GE(job.layer_sqnr_size(), 5);
    for (const v1::LayerSqnr& layer : job.layer_sqnr()) {
      EXPECT_FALSE(layer.node_name().empty());
      EXPECT_FALSE(layer.op_type().empty());
      EXPECT_FALSE(layer.output().empty());
      EXPECT_GT(layer.sqnr_db(), 15.0) << layer.node_name();
    }
    EXPECT_EQ(job.layer_sqnr(0).op_type(), "Conv");  // graph order: the stem first
  }

  v1::Model model_;
  v1::Dataset images_;
};

TEST_F(JobEvaluationReportTest, LabelledEvaluationSetGetsAccuracyAgreementAndSqnr) {
  const v1::Dataset evaluation = UploadEvaluationSet(/*labelled=*/true);
  const v1::Job job = QuantizeAndWait(evaluation.id());
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.fp32_accuracy().num_samples(), kEvaluationSamples);
  EXPECT_EQ(job.int8_accuracy().num_samples(), kEvaluationSamples);
  ExpectCloseToFp32(job, evaluation.id(), kEvaluationSamples);
  // Stored with the job, not only streamed.
  const v1::Job stored = GetJob(job.id());
  EXPECT_EQ(stored.agreement().SerializeAsString(), job.agreement().SerializeAsString());
  EXPECT_EQ(stored.layer_sqnr_size(), job.layer_sqnr_size());
}

TEST_F(JobEvaluationReportTest, UnlabelledEvaluationSetGetsAgreementAndSqnrWithoutAccuracy) {
  const v1::Dataset evaluation = UploadEvaluationSet(/*labelled=*/false);
  const v1::Job job = QuantizeAndWait(evaluation.id());
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_FALSE(job.has_fp32_accuracy());
  EXPECT_FALSE(job.has_int8_accuracy());
  ExpectCloseToFp32(job, evaluation.id(), kEvaluationSamples);
}

TEST_F(JobEvaluationReportTest, WithoutEvaluationSetComparesOnCalibrationSamples) {
  const v1::Job job = QuantizeAndWait("");
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_FALSE(job.has_fp32_accuracy());
  // At most 256 of the calibration dataset's 10000 images.
  ExpectCloseToFp32(job, images_.id(), 256);
}

}  // namespace
}  // namespace quantd::server
