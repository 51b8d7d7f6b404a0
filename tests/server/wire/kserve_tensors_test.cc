#include "server/wire/kserve_tensors.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using InputTensor = inference::ModelInferRequest::InferInputTensor;

// A model with two inputs, "image" [-1,2] and "mask" [-1,2], and one output.
v1::Model TwoInputModel() {
  v1::Model model;
  for (const char* name : {"image", "mask"}) {
    v1::TensorInfo& input = *model.add_inputs();
    input.set_name(name);
    input.add_shape(-1);
    input.add_shape(2);
  }
  return model;
}

InputTensor& AddInput(inference::ModelInferRequest& request, const std::string& name,
                      std::vector<int64_t> shape) {
  InputTensor& input = *request.add_inputs();
  input.set_name(name);
  input.set_datatype("FP32");
  for (int64_t d : shape) input.add_shape(d);
  return input;
}

std::string RawBytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

TEST(KServeTensorsTest, InputsInAnyOrderBecomeNamedTensors) {
  inference::ModelInferRequest request;
  AddInput(request, "mask", {1, 2}).mutable_contents()->add_fp32_contents(1);
  request.mutable_inputs(0)->mutable_contents()->add_fp32_contents(0);
  AddInput(request, "image", {1, 2}).mutable_contents()->add_fp32_contents(0.5f);
  request.mutable_inputs(1)->mutable_contents()->add_fp32_contents(-2);
  auto tensors = InputsFromModelInfer(request, TwoInputModel());
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  ASSERT_EQ(tensors->size(), 2u);
  EXPECT_EQ((*tensors)[0].name, "mask");
  EXPECT_THAT((*tensors)[0].data, ElementsAre(1, 0));
  EXPECT_EQ((*tensors)[1].name, "image");
  EXPECT_THAT((*tensors)[1].shape, ElementsAre(1, 2));
  EXPECT_THAT((*tensors)[1].data, ElementsAre(0.5f, -2));
}

TEST(KServeTensorsTest, RawContentsAreOnePerInputInOrder) {
  inference::ModelInferRequest request;
  AddInput(request, "image", {2, 2});
  AddInput(request, "mask", {2, 2});
  request.add_raw_input_contents(RawBytes({1, 2, 3, 4}));
  request.add_raw_input_contents(RawBytes({5, 6, 7, 8}));
  auto tensors = InputsFromModelInfer(request, TwoInputModel());
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_THAT((*tensors)[0].data, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT((*tensors)[1].data, ElementsAre(5, 6, 7, 8));

  request.mutable_raw_input_contents()->RemoveLast();
  auto short_list = InputsFromModelInfer(request, TwoInputModel());
  EXPECT_EQ(short_list.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_list.status().message(), HasSubstr("1 entries for 2 inputs"));
}

TEST(KServeTensorsTest, EachMistakeNamesTheInput) {
  struct Case {
    const char* what;
    void (*spoil)(inference::ModelInferRequest&);
    const char* message;
  };
  const Case cases[] = {
      {"missing", [](auto& r) { r.mutable_inputs()->RemoveLast(); }, "input 'mask' is missing"},
      {"unknown", [](auto& r) { r.mutable_inputs(1)->set_name("depth"); }, "unknown input 'depth'"},
      {"twice", [](auto& r) { *r.add_inputs() = r.inputs(0); }, "'image' is given twice"},
      {"datatype", [](auto& r) { r.mutable_inputs(1)->set_datatype("INT32"); },
       "'mask' has datatype 'INT32'"},
      {"rank", [](auto& r) { r.mutable_inputs(1)->add_shape(1); },
       "does not fit model input 'mask'"},
      {"static dim", [](auto& r) { r.mutable_inputs(0)->set_shape(1, 3); },
       "input 'image' shape [1,3]"},
      {"zero dim", [](auto& r) { r.mutable_inputs(0)->set_shape(0, 0); }, "non-positive"},
      {"overflow",
       [](auto& r) {
         r.mutable_inputs(0)->set_shape(0, int64_t{1} << 62);
         r.mutable_inputs(0)->set_shape(1, 8);
       },
       "more than 2^63"},
      {"count", [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(9); },
       "needs 2 fp32_contents values, got 3"},
      {"mixed",
       [](auto& r) {
         r.add_raw_input_contents(RawBytes({1, 2}));
         r.add_raw_input_contents(RawBytes({1, 2}));
       },
       "has contents while raw_input_contents"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest request;
    AddInput(request, "image", {1, 2}).mutable_contents()->add_fp32_contents(1);
    request.mutable_inputs(0)->mutable_contents()->add_fp32_contents(2);
    AddInput(request, "mask", {1, 2}).mutable_contents()->add_fp32_contents(3);
    request.mutable_inputs(1)->mutable_contents()->add_fp32_contents(4);
    c.spoil(request);
    auto tensors = InputsFromModelInfer(request, TwoInputModel());
    EXPECT_EQ(tensors.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(tensors.status().message(), HasSubstr(c.message)) << c.what;
  }
}

// 2^62 values of 4 bytes each wrap a 64-bit byte count around to 0: the
// empty raw entry must not pass for them.
TEST(KServeTensorsTest, ByteCountsThatOverflowAreRefused) {
  inference::ModelInferRequest request;
  AddInput(request, "image", {int64_t{1} << 61, 2});
  AddInput(request, "mask", {1, 2});
  request.add_raw_input_contents("");
  request.add_raw_input_contents(RawBytes({1, 2}));
  const auto tensors = InputsFromModelInfer(request, TwoInputModel());
  EXPECT_EQ(tensors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tensors.status().message(), HasSubstr("more bytes than 2^63"));
}

TEST(KServeTensorsTest, OutputsAreRawFp32AndFilteredByName) {
  std::vector<engine::Tensor> outputs(2);
  outputs[0] = {"logits", {1, 3}, {1, 2, 3}};
  outputs[1] = {"embedding", {1, 2}, {4, 5}};
  inference::ModelInferRequest request;
  inference::ModelInferResponse all;
  ASSERT_TRUE(SetModelInferOutputs(outputs, request, all).ok());
  ASSERT_EQ(all.outputs_size(), 2);
  EXPECT_EQ(all.outputs(1).name(), "embedding");
  EXPECT_EQ(all.outputs(1).datatype(), "FP32");
  EXPECT_THAT(all.outputs(1).shape(), ElementsAre(1, 2));
  ASSERT_EQ(all.raw_output_contents_size(), 2);
  EXPECT_EQ(all.raw_output_contents(1), RawBytes({4, 5}));

  request.add_outputs()->set_name("embedding");
  inference::ModelInferResponse one;
  ASSERT_TRUE(SetModelInferOutputs(outputs, request, one).ok());
  ASSERT_EQ(one.outputs_size(), 1);
  EXPECT_EQ(one.outputs(0).name(), "embedding");
  EXPECT_EQ(one.raw_output_contents(0), RawBytes({4, 5}));

  request.add_outputs()->set_name("boxes");
  inference::ModelInferResponse refused;
  const absl::Status status = SetModelInferOutputs(outputs, request, refused);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("'boxes'"));
  EXPECT_THAT(status.message(), HasSubstr("'logits', 'embedding'"));
}

}  // namespace
}  // namespace quantd::server
