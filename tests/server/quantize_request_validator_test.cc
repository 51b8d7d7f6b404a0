#include "server/quantize_request_validator.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

v1::Model ModelWithInput(std::vector<int64_t> shape) {
  v1::Model model;
  model.set_id("mdl_1");
  v1::TensorInfo* input = model.add_inputs();
  input->set_name("input");
  for (int64_t d : shape) input->add_shape(d);
  return model;
}

v1::Dataset DatasetWithShape(std::vector<int64_t> shape) {
  v1::Dataset dataset;
  dataset.set_id("ds_1");
  for (int64_t d : shape) dataset.add_sample_shape(d);
  return dataset;
}

TEST(CheckDatasetFitsModelTest, BatchAndDynamicDimensionsAreFree) {
  EXPECT_TRUE(
      CheckDatasetFitsModel(DatasetWithShape({1, 28, 28}), ModelWithInput({-1, 1, 28, 28})).ok());
  EXPECT_TRUE(
      CheckDatasetFitsModel(DatasetWithShape({3, 32, 32}), ModelWithInput({8, 3, -1, -1})).ok());
}

TEST(CheckDatasetFitsModelTest, MismatchNamesDatasetAndModelInput) {
  absl::Status status =
      CheckDatasetFitsModel(DatasetWithShape({1, 32, 32}), ModelWithInput({-1, 1, 28, 28}));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "dataset 'ds_1' samples [1,32,32] do not fit model input 'input' [-1,1,28,28]");
  EXPECT_FALSE(
      CheckDatasetFitsModel(DatasetWithShape({28, 28}), ModelWithInput({-1, 1, 28, 28})).ok());
}

class ValidateQuantizeRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto repository = Repository::Open(dir_.path());
    ASSERT_TRUE(repository.ok()) << repository.status();
    repository_ = std::move(*repository);
    engine::ModelSummary summary;
    summary.inputs = {{"input", {-1, 1, 2, 2}}};
    summary.outputs = {{"logits", {-1, 3}}};
    model_id_ = repository_->AddModel("m", "bytes", std::string(64, 'a'), summary)->id();
    engine::Dataset data;
    data.sample_shape = {1, 2, 2};
    data.num_samples = 1;
    data.samples = {0, 1, 2, 3};
    unlabelled_id_ = repository_->AddDataset("calib", data)->id();
    data.labels = {1};
    labelled_id_ = repository_->AddDataset("eval", data)->id();
  }

  v1::QuantizeModelRequest Request() const {
    v1::QuantizeModelRequest request;
    request.set_model_id(model_id_);
    request.set_calibration_dataset_id(unlabelled_id_);
    return request;
  }

  testing::TempDir dir_;
  std::unique_ptr<Repository> repository_;
  std::string model_id_, unlabelled_id_, labelled_id_;
};

TEST_F(ValidateQuantizeRequestTest, AcceptsAWellFormedRequest) {
  v1::QuantizeModelRequest request = Request();
  EXPECT_TRUE(ValidateQuantizeRequest(request, *repository_).ok());
  request.set_evaluation_dataset_id(labelled_id_);
  request.set_num_calibration_samples(1);
  EXPECT_TRUE(ValidateQuantizeRequest(request, *repository_).ok());
}

TEST_F(ValidateQuantizeRequestTest, UnknownModelOrDatasetIsNotFound) {
  v1::QuantizeModelRequest request = Request();
  request.set_model_id("mdl_nope");
  absl::Status status = ValidateQuantizeRequest(request, *repository_);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "model 'mdl_nope' not found");
  request = Request();
  request.set_calibration_dataset_id("ds_nope");
  EXPECT_EQ(ValidateQuantizeRequest(request, *repository_).code(), absl::StatusCode::kNotFound);
  request = Request();
  request.set_evaluation_dataset_id("ds_nope");
  EXPECT_EQ(ValidateQuantizeRequest(request, *repository_).code(), absl::StatusCode::kNotFound);
}

TEST_F(ValidateQuantizeRequestTest, EvaluationSetNeedsLabels) {
  v1::QuantizeModelRequest request = Request();
  request.set_evaluation_dataset_id(unlabelled_id_);
  absl::Status status = ValidateQuantizeRequest(request, *repository_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has no labels"));
}

TEST_F(ValidateQuantizeRequestTest, RejectsNegativeSampleCountAndMissingIds) {
  v1::QuantizeModelRequest request = Request();
  request.set_num_calibration_samples(-1);
  EXPECT_EQ(ValidateQuantizeRequest(request, *repository_).code(),
            absl::StatusCode::kInvalidArgument);
  request = Request();
  request.clear_calibration_dataset_id();
  EXPECT_THAT(ValidateQuantizeRequest(request, *repository_).message(),
              HasSubstr("calibration_dataset_id is required"));
}

}  // namespace
}  // namespace quantd::server
