// A model with two graph inputs served end to end: uploaded, then run through
// quantd.v1 Infer (`inputs`) and KServe ModelInfer against a computation done
// here by hand, with concurrent KServe requests merged into fewer runs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "grpcpp/create_channel.h"
#include "inference/grpc_service.grpc.pb.h"
#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/engine/onnx_model_builder.h"

namespace quantd::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace builder = ::quantd::engine::testing;

constexpr int kFeatures = 4;
constexpr int kClasses = 3;

std::vector<float> Weights() {
  std::vector<float> w(kFeatures * kClasses);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
  return w;
}

// logits = Relu(features + offset) x W: two inputs [N,4], one output [N,3].
std::string TwoInputModel() {
  onnx::ModelProto model = builder::MakeOnnxModel();
  builder::AddGraphInput(model, "features", {builder::kSymbolicBatchDim, kFeatures});
  builder::AddGraphInput(model, "offset", {builder::kSymbolicBatchDim, kFeatures});
  builder::AddFloatInitializer(model, "w", {kFeatures, kClasses}, Weights());
  builder::AddNode(model, "Add", {"features", "offset"}, {"sum"});
  builder::AddNode(model, "Relu", {"sum"}, {"hidden"});
  builder::AddNode(model, "MatMul", {"hidden", "w"}, {"logits"});
  builder::AddGraphOutput(model, "logits", {builder::kSymbolicBatchDim, kClasses});
  return builder::Serialize(model);
}

// Row `row` of each input, and the logits computed here.
std::vector<float> Features(int row) { return {0.5f * row, -1.0f, 2.0f - row, 0.25f}; }
std::vector<float> Offset(int row) { return {1.0f, 0.5f * row, -0.5f, row - 1.0f}; }
std::vector<float> Expected(int row) {
  const std::vector<float> w = Weights();
  std::vector<float> out(kClasses, 0.0f);
  for (int f = 0; f < kFeatures; ++f) {
    const float hidden = std::max(0.0f, Features(row)[f] + Offset(row)[f]);
    for (int c = 0; c < kClasses; ++c) out[c] += hidden * w[f * kClasses + c];
  }
  return out;
}

v1::Tensor RowTensor(const std::string& name, const std::vector<float>& values) {
  v1::Tensor tensor;
  tensor.set_name(name);
  tensor.add_shape(1);
  tensor.add_shape(kFeatures);
  tensor.mutable_data()->Add(values.begin(), values.end());
  return tensor;
}

class MultiInputE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server =
        ServerProcess::Start(QUANTD_SERVER_BINARY, {"--infer_max_queue_delay_us=1000000"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    quantd_ = ConnectTo(server_->address());
    kserve_ = inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    const std::string onnx = TwoInputModel();
    const grpc::Status uploaded =
        UploadModel(*quantd_, "two-inputs", onnx, Sha256Hex(onnx), model_);
    ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::Quantd::Stub> quantd_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> kserve_;
  v1::Model model_;
};

TEST_F(MultiInputE2eTest, InferTakesEveryInputByNameOrPosition) {
  ASSERT_EQ(model_.inputs_size(), 2);
  for (const bool named : {true, false}) {
    v1::InferRequest request;
    request.set_model_id(model_.id());
    // Named: given in the other order; unnamed: by position.
    if (named) {
      *request.add_inputs() = RowTensor("offset", Offset(2));
      *request.add_inputs() = RowTensor("features", Features(2));
    } else {
      *request.add_inputs() = RowTensor("", Features(2));
      *request.add_inputs() = RowTensor("", Offset(2));
    }
    grpc::ClientContext context;
    SetDeadline(context);
    v1::InferResponse response;
    const grpc::Status status = quantd_->Infer(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.outputs_size(), 1);
    EXPECT_THAT(response.outputs(0).shape(), ElementsAre(1, kClasses));
    for (int c = 0; c < kClasses; ++c) {
      EXPECT_NEAR(response.outputs(0).data(c), Expected(2)[c], 1e-5) << (named ? "named" : "");
    }
  }
  // One tensor for a two-input model is refused, naming the field to use.
  v1::InferRequest single;
  single.set_model_id(model_.id());
  *single.mutable_input() = RowTensor("features", Features(0));
  grpc::ClientContext context;
  SetDeadline(context);
  v1::InferResponse response;
  const grpc::Status status = quantd_->Infer(&context, single, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("`inputs`"));
}

TEST_F(MultiInputE2eTest, ConcurrentModelInferCallsMergeAndGetTheirOwnRows) {
  constexpr int kCallers = 6;
  std::vector<inference::ModelInferResponse> responses(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      inference::ModelInferRequest request;
      request.set_model_name("two-inputs");
      for (const auto& [name, values] :
           {std::pair{"features", Features(i)}, std::pair{"offset", Offset(i)}}) {
        auto& input = *request.add_inputs();
        input.set_name(name);
        input.set_datatype("FP32");
        input.add_shape(1);
        input.add_shape(kFeatures);
        request.add_raw_input_contents(std::string(reinterpret_cast<const char*>(values.data()),
                                                   values.size() * sizeof(float)));
      }
      grpc::ClientContext context;
      SetDeadline(context);
      statuses[i] = kserve_->ModelInfer(&context, request, &responses[i]);
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    ASSERT_EQ(responses[i].raw_output_contents_size(), 1);
    std::vector<float> logits(kClasses);
    ASSERT_EQ(responses[i].raw_output_contents(0).size(), sizeof(float) * kClasses);
    std::memcpy(logits.data(), responses[i].raw_output_contents(0).data(),
                sizeof(float) * kClasses);
    for (int c = 0; c < kClasses; ++c) EXPECT_NEAR(logits[c], Expected(i)[c], 1e-5) << i;
  }
  grpc::ClientContext context;
  SetDeadline(context);
  inference::ModelStatisticsRequest request;
  request.set_name("two-inputs");
  inference::ModelStatisticsResponse statistics;
  ASSERT_TRUE(kserve_->ModelStatistics(&context, request, &statistics).ok());
  ASSERT_EQ(statistics.model_stats_size(), 1);
  EXPECT_EQ(statistics.model_stats(0).inference_stats().success().count(), kCallers);
  EXPECT_LT(statistics.model_stats(0).execution_count(), kCallers);
}

}  // namespace
}  // namespace quantd::e2e
