#include "server/api/infer_request_validator.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/wire/proto_conversion.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

v1::Model ModelWithVersions(std::vector<v1::Precision> precisions) {
  v1::Model model;
  model.set_id("mdl_1");
  v1::TensorInfo* input = model.add_inputs();
  input->set_name("input");
  for (int64_t d : {-1, 1, 2, 2}) input->add_shape(d);
  int32_t number = 1;
  for (v1::Precision p : precisions) {
    v1::ModelVersion* version = model.add_versions();
    version->set_version(number++);
    version->set_precision(p);
  }
  return model;
}

v1::Tensor TensorOf(std::vector<int64_t> shape, int values) {
  v1::Tensor tensor;
  for (int64_t d : shape) tensor.add_shape(d);
  for (int i = 0; i < values; ++i) tensor.add_data(0.5f);
  return tensor;
}

TEST(ResolveModelVersionTest, ZeroPicksTheNewestOfThePrecision) {
  const v1::Model model = ModelWithVersions({v1::FP32, v1::INT8, v1::INT8});
  EXPECT_EQ(ResolveModelVersion(model, 0, v1::PRECISION_UNSPECIFIED)->version(), 3);
  EXPECT_EQ(ResolveModelVersion(model, 0, v1::INT8)->version(), 3);
  EXPECT_EQ(ResolveModelVersion(model, 0, v1::FP32)->version(), 1);
  EXPECT_EQ(ResolveModelVersion(model, 2, v1::PRECISION_UNSPECIFIED)->version(), 2);
  EXPECT_EQ(ResolveModelVersion(model, 2, v1::INT8)->version(), 2);
}

TEST(ResolveModelVersionTest, MismatchesAndMissingVersionsAreErrors) {
  const v1::Model fp32_only = ModelWithVersions({v1::FP32});
  absl::Status status = ResolveModelVersion(fp32_only, 0, v1::INT8).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "model 'mdl_1' has no INT8 version; run QuantizeModel first");

  status = ResolveModelVersion(fp32_only, 1, v1::INT8).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "model 'mdl_1' version 1 is FP32, but the request asks for INT8");

  status = ResolveModelVersion(fp32_only, 4, v1::PRECISION_UNSPECIFIED).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "model 'mdl_1' has no version 4");

  EXPECT_EQ(ResolveModelVersion(fp32_only, -1, v1::FP32).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveModelVersion(fp32_only, 0, static_cast<v1::Precision>(7)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateInferInputTest, AcceptsMatchingTensor) {
  const v1::Model model = ModelWithVersions({v1::FP32});
  EXPECT_TRUE(ValidateInferInput(TensorOf({3, 1, 2, 2}, 12), model).ok());
}

TEST(ValidateInferInputTest, RejectsMalformedTensors) {
  const v1::Model model = ModelWithVersions({v1::FP32});
  EXPECT_THAT(ValidateInferInput(TensorOf({}, 0), model).message(), HasSubstr("no shape"));
  EXPECT_THAT(ValidateInferInput(TensorOf({0, 1, 2, 2}, 0), model).message(),
              HasSubstr("non-positive"));
  absl::Status status = ValidateInferInput(TensorOf({2, 1, 2, 2}, 7), model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "input tensor shape [2,1,2,2] needs 8 values, but data holds 7");
  // A shape whose element count overflows int64 must not wrap around to a match.
  status = ValidateInferInput(TensorOf({1LL << 40, 1LL << 40, 1, 1}, 4), model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

// raw_data: little-endian float32 bytes instead of `data`.
v1::Tensor RawTensorOf(std::vector<int64_t> shape, std::vector<float> values) {
  v1::Tensor tensor;
  for (int64_t d : shape) tensor.add_shape(d);
  tensor.set_raw_data(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return tensor;
}

TEST(ValidateInferInputTest, RawDataCountsFourBytesPerValue) {
  const v1::Model model = ModelWithVersions({v1::FP32});
  EXPECT_TRUE(ValidateInferInput(RawTensorOf({1, 1, 2, 2}, {1, 2, 3, 4}), model).ok());
  absl::Status status = ValidateInferInput(RawTensorOf({2, 1, 2, 2}, {1, 2, 3, 4}), model);
  EXPECT_EQ(status.message(), "input tensor shape [2,1,2,2] needs 8 values, but raw_data holds 4");
  v1::Tensor ragged = RawTensorOf({1, 1, 2, 2}, {1, 2, 3, 4});
  ragged.mutable_raw_data()->push_back('x');
  status = ValidateInferInput(ragged, model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("17 bytes, not a whole number of float32 values"));
  v1::Tensor both = RawTensorOf({1, 1, 2, 2}, {1, 2, 3, 4});
  for (int i = 0; i < 4; ++i) both.add_data(0.5f);
  EXPECT_THAT(ValidateInferInput(both, model).message(), HasSubstr("both data and raw_data"));
}

TEST(ToEngineTensorTest, RawDataAndDataGiveTheSameTensor) {
  const std::vector<float> values = {0.25f, -1.5f, 3.0f, 1e-7f};
  v1::Tensor raw = RawTensorOf({1, 1, 2, 2}, values);
  v1::Tensor typed = TensorOf({1, 1, 2, 2}, 0);
  for (float v : values) typed.add_data(v);
  EXPECT_EQ(ToEngineTensor(raw).data, values);
  EXPECT_EQ(ToEngineTensor(typed).data, values);
  EXPECT_EQ(ToEngineTensor(raw).shape, ToEngineTensor(typed).shape);
}

TEST(ValidateInferInputTest, RejectsShapeThatDoesNotFitTheModel) {
  const v1::Model model = ModelWithVersions({v1::FP32});
  absl::Status status = ValidateInferInput(TensorOf({1, 1, 4, 1}, 4), model);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "input tensor shape [1,1,4,1] does not fit model input 'input' [-1,1,2,2]");
  EXPECT_FALSE(ValidateInferInput(TensorOf({4, 4}, 16), model).ok());
}

// A model with two inputs: "input" [-1,1,2,2] (the helper's) and "b" [-1,3].
v1::Model TwoInputModel() {
  v1::Model model = ModelWithVersions({v1::FP32});
  v1::TensorInfo* b = model.add_inputs();
  b->set_name("b");
  b->add_shape(-1);
  b->add_shape(3);
  return model;
}

v1::InferRequest WithInputs(std::vector<std::pair<std::string, v1::Tensor>> tensors) {
  v1::InferRequest request;
  for (auto& [name, tensor] : tensors) {
    tensor.set_name(name);
    *request.add_inputs() = tensor;
  }
  return request;
}

TEST(ValidateInferInputsTest, EveryInputOnceByNameOrPosition) {
  const v1::Model model = TwoInputModel();
  EXPECT_TRUE(
      ValidateInferRequest(
          WithInputs({{"b", TensorOf({2, 3}, 6)}, {"input", TensorOf({2, 1, 2, 2}, 8)}}), model)
          .ok());
  EXPECT_TRUE(ValidateInferRequest(
                  WithInputs({{"", TensorOf({2, 1, 2, 2}, 8)}, {"", TensorOf({2, 3}, 6)}}), model)
                  .ok());
  const struct {
    v1::InferRequest request;
    const char* message;
  } bad[] = {
      {WithInputs({{"input", TensorOf({2, 1, 2, 2}, 8)}}), "holds 1 tensors for a model with 2"},
      {WithInputs({{"input", TensorOf({2, 1, 2, 2}, 8)}, {"c", TensorOf({2, 3}, 6)}}),
       "inputs[1] names 'c'"},
      {WithInputs({{"input", TensorOf({2, 1, 2, 2}, 8)}, {"input", TensorOf({2, 1, 2, 2}, 8)}}),
       "'input' is given twice"},
      {WithInputs({{"input", TensorOf({2, 1, 2, 2}, 8)}, {"b", TensorOf({2, 4}, 8)}}),
       "input 'b' shape [2,4] does not fit"},
      {WithInputs({{"input", TensorOf({2, 1, 2, 2}, 7)}, {"b", TensorOf({2, 3}, 6)}}),
       "input 'input' shape [2,1,2,2] needs 8 values"},
  };
  for (const auto& [request, message] : bad) {
    const absl::Status status = ValidateInferRequest(request, model);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(status.message(), HasSubstr(message));
  }
  // One `input` tensor for a two-input model names the field to use.
  v1::InferRequest single;
  *single.mutable_input() = TensorOf({2, 1, 2, 2}, 8);
  EXPECT_THAT(ValidateInferRequest(single, model).message(), HasSubstr("`inputs`"));
  // `input` and `inputs` together are refused.
  v1::InferRequest both =
      WithInputs({{"input", TensorOf({2, 1, 2, 2}, 8)}, {"b", TensorOf({2, 3}, 6)}});
  *both.mutable_input() = TensorOf({2, 1, 2, 2}, 8);
  EXPECT_THAT(ValidateInferRequest(both, model).message(), HasSubstr("exactly one of"));
}

}  // namespace
}  // namespace quantd::server
