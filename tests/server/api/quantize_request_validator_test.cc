#include "server/api/quantize_request_validator.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

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

TEST_F(ValidateQuantizeRequestTest, EvaluationSetMayBeUnlabelled) {
  // Without labels the job reports agreement with fp32 instead of accuracy.
  v1::QuantizeModelRequest request = Request();
  request.set_evaluation_dataset_id(unlabelled_id_);
  EXPECT_TRUE(ValidateQuantizeRequest(request, *repository_).ok());
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

TEST_F(ValidateQuantizeRequestTest, AcceptsEveryKnobWithinRange) {
  v1::QuantizeModelRequest request = Request();
  request.set_calibration(v1::EMA);
  request.set_calibration_seed(7);
  request.set_ema_decay(0);
  request.set_ema_passes(2);
  v1::QuantizationSettings& q = *request.mutable_quantization();
  q.set_weight_granularity(v1::PER_GROUP);
  q.set_weight_group_size(4);
  q.set_weight_bits(4);
  q.set_activation_bits(2);
  q.set_activation_type(v1::ACTIVATION_TYPE_UINT8);
  q.set_asymmetric_activations(true);
  q.set_weight_clipping(v1::WEIGHT_CLIPPING_MSE);
  q.add_exclude_op_types("Gemm");
  q.set_exclude_first_conv(true);
  q.set_exclude_last_fc(true);
  EXPECT_TRUE(ValidateQuantizeRequest(request, *repository_).ok())
      << ValidateQuantizeRequest(request, *repository_);
  request = Request();
  request.set_calibration(v1::PERCENTILE);
  request.set_percentile(100);
  EXPECT_TRUE(ValidateQuantizeRequest(request, *repository_).ok());
}

// Each bad knob is INVALID_ARGUMENT with a message naming the field and value.
TEST_F(ValidateQuantizeRequestTest, RejectsEachBadKnobNamingTheField) {
  struct Case {
    std::function<void(v1::QuantizeModelRequest&)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_calibration(static_cast<v1::CalibrationMethod>(42)); },
       "calibration method 42 is not one of"},
      {[](auto& r) {
         r.set_calibration(v1::PERCENTILE);
         r.set_percentile(101);
       },
       "percentile must be in (0, 100], got 101"},
      {[](auto& r) {
         r.set_calibration(v1::PERCENTILE);
         r.set_percentile(0);
       },
       "percentile must be in (0, 100], got 0"},
      {[](auto& r) {
         r.set_calibration(v1::EMA);
         r.set_ema_decay(1);
       },
       "ema_decay must be in [0, 1), got 1"},
      {[](auto& r) { r.set_ema_passes(-1); }, "ema_passes must be >= 0 (0: 1), got -1"},
      {[](auto& r) { r.mutable_quantization()->set_weight_bits(9); },
       "quantization.weight_bits must be in 2..8 (0: 8), got 9"},
      {[](auto& r) { r.mutable_quantization()->set_weight_bits(1); },
       "quantization.weight_bits must be in 2..8 (0: 8), got 1"},
      {[](auto& r) { r.mutable_quantization()->set_activation_bits(-3); },
       "quantization.activation_bits must be in 2..8 (0: 8), got -3"},
      {[](auto& r) {
         r.mutable_quantization()->set_weight_granularity(static_cast<v1::WeightGranularity>(9));
       },
       "quantization.weight_granularity 9 is not one of"},
      {[](auto& r) { r.mutable_quantization()->set_weight_granularity(v1::PER_GROUP); },
       "quantization.weight_group_size must be >= 1 with PER_GROUP, got 0"},
      {[](auto& r) { r.mutable_quantization()->set_weight_group_size(4); },
       "quantization.weight_group_size applies to PER_GROUP only, got 4"},
      {[](auto& r) {
         r.mutable_quantization()->set_activation_type(static_cast<v1::ActivationType>(7));
       },
       "quantization.activation_type 7 is not one of"},
      {[](auto& r) {
         r.mutable_quantization()->set_weight_clipping(static_cast<v1::WeightClipping>(5));
       },
       "quantization.weight_clipping 5 is not one of"},
      // docs/decisions/0006: real int8 (8 bits, not simulated) has no zero points.
      {[](auto& r) { r.mutable_quantization()->set_asymmetric_activations(true); },
       "quantization.asymmetric_activations needs activation zero points"},
      {[](auto& r) { r.mutable_quantization()->set_activation_type(v1::ACTIVATION_TYPE_UINT8); },
       "quantization.activation_type ACTIVATION_TYPE_UINT8 gives signed activations"},
      {[](auto& r) {
         r.mutable_quantization()->set_weight_bits(4);
         r.mutable_quantization()->set_asymmetric_activations(true);
         r.mutable_quantization()->set_activation_type(v1::ACTIVATION_TYPE_INT8);
       },
       "ACTIVATION_TYPE_INT8 is symmetric"},
      {[](auto& r) { r.mutable_quantization()->add_exclude_op_types("Softmax"); },
       "quantization.exclude_op_types 'Softmax' is not an op the runtime quantizes"},
      {[](auto& r) { r.mutable_quantization()->add_exclude_nodes(""); },
       "quantization.exclude_nodes has an empty name"},
      // The finding: 60,000 names of 1 KiB were accepted and stored.
      {[](auto& r) {
         for (int n = 0; n < 10001; ++n) r.mutable_quantization()->add_exclude_nodes("conv");
       },
       "quantization.exclude_nodes has 10001 entries, over the limit of 10000"},
      {[](auto& r) { r.mutable_quantization()->add_exclude_op_types(std::string(1025, 'x')); },
       "quantization.exclude_op_types has a name of 1025 bytes, over the limit of 1024"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    v1::QuantizeModelRequest request = Request();
    cases[i].mutate(request);
    const absl::Status status = ValidateQuantizeRequest(request, *repository_);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "case " << i << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr(cases[i].message)) << "case " << i;
  }
}

TEST_F(ValidateQuantizeRequestTest, LowBitsAllowZeroPoints) {
  v1::QuantizeModelRequest request = Request();
  request.mutable_quantization()->set_activation_bits(7);
  request.mutable_quantization()->set_asymmetric_activations(true);
  EXPECT_TRUE(ValidateQuantizeRequest(request, *repository_).ok());
}

}  // namespace
}  // namespace quantd::server
