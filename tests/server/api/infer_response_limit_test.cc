// An Infer response is sized before it is built: a request whose outputs and
// top-k classifications would exceed --max_infer_response_bytes fails with
// RESOURCE_EXHAUSTED naming the flag (a 1000-class model with 1 KiB labels,
// 4096 samples and top_k 1000 used to abort the server building a message
// past protobuf's 2 GiB limit), and the server keeps serving.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

class InferResponseLimitTest : public InProcessServerTest {
 protected:
  // The ResNet fixture has 10 classes: [64, 10] logits are 2,560 bytes,
  // and 64 rows of 10 classifications well over 4 KiB.
  void AdjustConfig(ServerConfig& config) override { config.max_infer_response_bytes = 4096; }

  v1::Tensor Zeros(int64_t batch) {
    v1::Tensor input;
    for (int64_t d : {batch, int64_t{1}, int64_t{28}, int64_t{28}}) input.add_shape(d);
    input.mutable_data()->Resize(static_cast<int>(batch * 28 * 28), 0.0f);
    return input;
  }

  grpc::Status InferTopK(const v1::Model& model, int64_t batch, int32_t top_k,
                         v1::InferResponse* response) {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model.id());
    *request.mutable_input() = Zeros(batch);
    request.set_top_k(top_k);
    return stub_->Infer(&context, request, response);
  }
};

TEST_F(InferResponseLimitTest, OversizedResponseIsRefusedAndTheServerKeepsServing) {
  v1::Model model;
  v1::Dataset images;
  UploadFixtureModelAndImages(&model, &images);

  v1::InferResponse response;
  grpc::Status status = InferTopK(model, 64, 10, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_infer_response_bytes (4096)"));
  EXPECT_EQ(response.outputs_size(), 0);

  // A top_k beyond the class count is clipped, not a reason to refuse.
  response.Clear();
  status = InferTopK(model, 1, 1 << 30, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.classifications_size(), 1);
  EXPECT_EQ(response.classifications(0).top_size(), 10);
}

}  // namespace
}  // namespace quantd::server
