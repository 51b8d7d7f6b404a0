// The KServe v2 / Triton gRPC API (inference.GRPCInferenceService) on a real
// quantd, called through a client generated from its proto: every RPC quantd
// implements, ModelInfer against quantd.v1 Infer, its errors, and dynamic
// batching seen through ModelStatistics.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/create_channel.h"
#include "inference/grpc_service.grpc.pb.h"
#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/shared_server.h"

namespace quantd::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using KServe = inference::GRPCInferenceService;

std::unique_ptr<KServe::Stub> KServeStubFor(const std::string& address) {
  return KServe::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// A ModelInferRequest for images [start, start + count) of `images`, with the
// values as fp32_contents, or as raw_input_contents when `raw`.
inference::ModelInferRequest InferRequestFor(const std::string& model,
                                             const engine::Dataset& images, int64_t start,
                                             int64_t count, bool raw) {
  const v1::Tensor batch = BatchTensor(images, start, count);
  inference::ModelInferRequest request;
  request.set_model_name(model);
  request.set_id("request-7");
  auto& input = *request.add_inputs();
  input.set_name("input");
  input.set_datatype("FP32");
  input.mutable_shape()->CopyFrom(batch.shape());
  if (raw) {
    request.add_raw_input_contents()->assign(reinterpret_cast<const char*>(batch.data().data()),
                                             batch.data_size() * sizeof(float));
  } else {
    input.mutable_contents()->mutable_fp32_contents()->CopyFrom(batch.data());
  }
  return request;
}

grpc::Status ModelInfer(KServe::Stub& stub, const inference::ModelInferRequest& request,
                        inference::ModelInferResponse& response) {
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.ModelInfer(&context, request, &response);
}

std::vector<float> RawFloats(const std::string& bytes) {
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

void ExpectNear(const std::vector<float>& got, const v1::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.size(), static_cast<size_t>(want.data_size())) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want.data(static_cast<int>(i)),
                1e-4 + 1e-4 * std::fabs(want.data(static_cast<int>(i))))
        << what << " value " << i;
  }
}

class KServeE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = GetSharedServer();
    ASSERT_TRUE(shared.ok()) << shared.status();
    server_ = *shared;
    kserve_ = KServeStubFor(server_->process->address());
  }

  SharedServer* server_ = nullptr;
  std::unique_ptr<KServe::Stub> kserve_;
};

TEST_F(KServeE2eTest, ServerHealthAndMetadata) {
  {
    grpc::ClientContext context;
    inference::ServerLiveResponse live;
    ASSERT_TRUE(kserve_->ServerLive(&context, {}, &live).ok());
    EXPECT_TRUE(live.live());
  }
  {
    grpc::ClientContext context;
    inference::ServerReadyResponse ready;
    ASSERT_TRUE(kserve_->ServerReady(&context, {}, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  grpc::ClientContext context;
  inference::ServerMetadataResponse metadata;
  ASSERT_TRUE(kserve_->ServerMetadata(&context, {}, &metadata).ok());
  EXPECT_EQ(metadata.name(), "quantd");
  EXPECT_FALSE(metadata.version().empty());
  EXPECT_THAT(metadata.extensions(), ::testing::Contains("statistics"));
}

TEST_F(KServeE2eTest, ModelsAreAddressedByNameOrIdWithTheirVersions) {
  for (const std::string& name : {std::string("resnet-shared"), server_->resnet.id()}) {
    grpc::ClientContext context;
    inference::ModelMetadataRequest request;
    request.set_name(name);
    inference::ModelMetadataResponse metadata;
    const grpc::Status status = kserve_->ModelMetadata(&context, request, &metadata);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(metadata.name(), "resnet-shared");
    EXPECT_THAT(metadata.versions(), ElementsAre("1"));
    ASSERT_EQ(metadata.inputs_size(), 1);
    EXPECT_EQ(metadata.inputs(0).name(), "input");
    EXPECT_EQ(metadata.inputs(0).datatype(), "FP32");
    EXPECT_THAT(metadata.inputs(0).shape(), ElementsAre(-1, 1, 28, 28));
    ASSERT_EQ(metadata.outputs_size(), 1);
    EXPECT_THAT(metadata.outputs(0).shape(), ElementsAre(-1, 10));
  }
  {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name("resnet-shared");
    request.set_version("1");
    inference::ModelReadyResponse ready;
    ASSERT_TRUE(kserve_->ModelReady(&context, request, &ready).ok());
    EXPECT_TRUE(ready.ready());
  }
  {
    grpc::ClientContext context;
    inference::ModelReadyRequest request;
    request.set_name("resnet-shared");
    request.set_version("9");
    inference::ModelReadyResponse ready;
    ASSERT_TRUE(kserve_->ModelReady(&context, request, &ready).ok());
    EXPECT_FALSE(ready.ready());
  }
  grpc::ClientContext context;
  inference::RepositoryIndexResponse index;
  ASSERT_TRUE(kserve_->RepositoryIndex(&context, {}, &index).ok());
  bool listed = false;
  for (const auto& model : index.models()) {
    if (model.name() == "resnet-shared" && model.version() == "1") {
      listed = true;
      EXPECT_EQ(model.state(), "READY");
    }
  }
  EXPECT_TRUE(listed) << index.DebugString();
}

TEST_F(KServeE2eTest, ModelConfigStatesBatchingAndInstances) {
  grpc::ClientContext context;
  inference::ModelConfigRequest request;
  request.set_name("resnet-shared");
  inference::ModelConfigResponse response;
  const grpc::Status status = kserve_->ModelConfig(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const inference::ModelConfig& config = response.config();
  EXPECT_EQ(config.name(), "resnet-shared");
  EXPECT_EQ(config.max_batch_size(), 32);  // --infer_max_batch's default
  ASSERT_EQ(config.input_size(), 1);
  EXPECT_EQ(config.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_THAT(config.input(0).dims(), ElementsAre(1, 28, 28));  // without the batch
  ASSERT_EQ(config.output_size(), 1);
  EXPECT_THAT(config.output(0).dims(), ElementsAre(10));
  ASSERT_TRUE(config.has_dynamic_batching());
  EXPECT_EQ(config.dynamic_batching().max_queue_delay_microseconds(), 500u);
  ASSERT_EQ(config.instance_group_size(), 1);
  EXPECT_EQ(config.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);
  EXPECT_GE(config.instance_group(0).count(), 1);
}

// Typed and raw contents give the outputs quantd.v1 Infer gives, as raw
// output bytes, with the request's id and the version that served it.
TEST_F(KServeE2eTest, ModelInferMatchesQuantdInferWithTypedAndRawContents) {
  v1::InferResponse reference;
  ASSERT_TRUE(Infer(*server_->stub, server_->resnet.id(), v1::FP32,
                    BatchTensor(server_->test_images, 10, 3), reference)
                  .ok());
  for (const bool raw : {false, true}) {
    inference::ModelInferResponse response;
    const grpc::Status status = ModelInfer(
        *kserve_, InferRequestFor("resnet-shared", server_->test_images, 10, 3, raw), response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.model_name(), "resnet-shared");
    EXPECT_EQ(response.model_version(), "1");
    EXPECT_EQ(response.id(), "request-7");
    ASSERT_EQ(response.outputs_size(), 1);
    EXPECT_EQ(response.outputs(0).datatype(), "FP32");
    EXPECT_THAT(response.outputs(0).shape(), ElementsAre(3, 10));
    ASSERT_EQ(response.raw_output_contents_size(), 1);
    ExpectNear(RawFloats(response.raw_output_contents(0)), reference.outputs(0),
               raw ? "raw contents" : "typed contents");
  }
}

TEST_F(KServeE2eTest, RequestedOutputsAreFilteredAndUnknownOnesRefused) {
  inference::ModelInferRequest request =
      InferRequestFor("resnet-shared", server_->test_images, 0, 1, /*raw=*/true);
  const std::string output = server_->resnet.outputs(0).name();
  request.add_outputs()->set_name(output);
  inference::ModelInferResponse response;
  ASSERT_TRUE(ModelInfer(*kserve_, request, response).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), output);

  request.add_outputs()->set_name("no_such_output");
  const grpc::Status status = ModelInfer(*kserve_, request, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("no_such_output"));
}

// Each bad request gets a status naming what is wrong, and the server runs on.
TEST_F(KServeE2eTest, BadRequestsAreRefusedWithTheFieldNamed) {
  struct Case {
    std::string what;
    std::function<void(inference::ModelInferRequest&)> spoil;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown model", [](auto& r) { r.set_model_name("no-such-model"); },
       grpc::StatusCode::NOT_FOUND, "no-such-model"},
      {"version not a number", [](auto& r) { r.set_model_version("latest"); },
       grpc::StatusCode::INVALID_ARGUMENT, "latest"},
      {"version absent", [](auto& r) { r.set_model_version("9"); }, grpc::StatusCode::NOT_FOUND,
       "version 9"},
      {"datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("INT64"); },
       grpc::StatusCode::INVALID_ARGUMENT, "INT64"},
      {"unknown input", [](auto& r) { r.mutable_inputs(0)->set_name("pixels"); },
       grpc::StatusCode::INVALID_ARGUMENT, "pixels"},
      {"missing input",
       [](auto& r) {
         r.clear_inputs();
         r.clear_raw_input_contents();
       },
       grpc::StatusCode::INVALID_ARGUMENT, "'input' is missing"},
      {"duplicate input", [](auto& r) { *r.add_inputs() = r.inputs(0); },
       grpc::StatusCode::INVALID_ARGUMENT, "twice"},
      {"shape", [](auto& r) { r.mutable_inputs(0)->set_shape(2, 27); },
       grpc::StatusCode::INVALID_ARGUMENT, "does not fit"},
      {"short raw bytes", [](auto& r) { r.mutable_raw_input_contents(0)->resize(100); },
       grpc::StatusCode::INVALID_ARGUMENT, "raw_input_contents"},
      {"huge shape",
       [](auto& r) {
         r.mutable_inputs(0)->set_shape(0, int64_t{1} << 40);
         r.mutable_inputs(0)->set_shape(2, -1);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "non-positive"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest request =
        InferRequestFor("resnet-shared", server_->test_images, 0, 1, /*raw=*/true);
    c.spoil(request);
    inference::ModelInferResponse response;
    const grpc::Status status = ModelInfer(*kserve_, request, response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.what;
  }
  inference::ModelInferResponse response;
  EXPECT_TRUE(ModelInfer(*kserve_,
                         InferRequestFor("resnet-shared", server_->test_images, 0, 1, false),
                         response)
                  .ok());
}

TEST_F(KServeE2eTest, RpcsQuantdLeavesOutAreUnimplemented) {
  grpc::ClientContext context;
  SetDeadline(context);
  inference::RepositoryModelLoadRequest request;
  request.set_model_name("resnet-shared");
  inference::RepositoryModelLoadResponse response;
  EXPECT_EQ(kserve_->RepositoryModelLoad(&context, request, &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

inference::ModelStatistics StatisticsOf(KServe::Stub& stub, const std::string& model) {
  grpc::ClientContext context;
  SetDeadline(context);
  inference::ModelStatisticsRequest request;
  request.set_name(model);
  request.set_version("1");
  inference::ModelStatisticsResponse response;
  const grpc::Status status = stub.ModelStatistics(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_stats_size(), 1);
  return response.model_stats_size() == 1 ? response.model_stats(0) : inference::ModelStatistics{};
}

// Concurrent ModelInfer calls merge: ModelStatistics counts fewer executions
// than requests, every request's samples, and each caller gets its own rows.
// A 1 s merge window makes the merge certain on a loaded machine. The
// nv_inference_* metrics report the same numbers.
TEST(KServeBatchingE2eTest, ConcurrentRequestsMergeAndStatisticsCountThem) {
  auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, {"--infer_max_queue_delay_us=1000000"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto shared = GetSharedServer();
  ASSERT_TRUE(shared.ok()) << shared.status();
  auto quantd = ConnectTo((*server)->address());
  v1::Model model;
  ASSERT_TRUE(
      UploadModel(*quantd, "batched", (*shared)->resnet_bytes, (*shared)->resnet_sha256, model)
          .ok());
  auto kserve = KServeStubFor((*server)->address());
  const engine::Dataset& images = (*shared)->test_images;
  constexpr int kCallers = 6;
  std::vector<v1::InferResponse> alone(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(Infer(*quantd, model.id(), v1::FP32, BatchTensor(images, i, 1), alone[i]).ok());
  }
  const inference::ModelStatistics before = StatisticsOf(*kserve, "batched");

  std::vector<inference::ModelInferResponse> together(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      statuses[i] =
          ModelInfer(*kserve, InferRequestFor("batched", images, i, 1, true), together[i]);
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    ASSERT_EQ(together[i].raw_output_contents_size(), 1);
    ExpectNear(RawFloats(together[i].raw_output_contents(0)), alone[i].outputs(0),
               "caller " + std::to_string(i));
  }

  const inference::ModelStatistics after = StatisticsOf(*kserve, "batched");
  const uint64_t requests =
      after.inference_stats().success().count() - before.inference_stats().success().count();
  const uint64_t executions = after.execution_count() - before.execution_count();
  EXPECT_EQ(requests, static_cast<uint64_t>(kCallers));
  EXPECT_EQ(after.inference_count() - before.inference_count(), static_cast<uint64_t>(kCallers));
  EXPECT_GE(executions, 1u);
  EXPECT_LT(executions, requests) << after.DebugString();
  EXPECT_GT(after.inference_stats().compute_infer().ns(),
            before.inference_stats().compute_infer().ns());
  EXPECT_GT(after.batch_stats_size(), 0);
  EXPECT_GT(after.last_inference(), 0u);

  const std::string metrics = MetricsBody((*server)->metrics_port());
  const std::string labels = "model=\"" + model.id() + "\",version=\"1\"";
  EXPECT_EQ(SeriesValue(metrics, "nv_inference_request_success", labels),
            static_cast<double>(after.inference_stats().success().count()));
  EXPECT_EQ(SeriesValue(metrics, "nv_inference_exec_count", labels),
            static_cast<double>(after.execution_count()));

  // A deleted model's statistics and series go with it.
  grpc::ClientContext context;
  SetDeadline(context);
  v1::DeleteModelRequest remove;
  remove.set_model_id(model.id());
  v1::DeleteModelResponse removed;
  ASSERT_TRUE(quantd->DeleteModel(&context, remove, &removed).ok());
  EXPECT_THAT(MetricsBody((*server)->metrics_port()), Not(HasSubstr(labels)));
  EXPECT_EQ((*server)->Stop(), 0);
}

}  // namespace
}  // namespace quantd::e2e
