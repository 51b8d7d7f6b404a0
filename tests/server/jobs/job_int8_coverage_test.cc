// The int8 coverage report of a quantization job, through the assembled
// server: on the job, on the version it published, and on that version after
// the server (and so the repository) is reopened.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

using ::testing::ElementsAre;

class JobInt8CoverageTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    if (HasFatalFailure()) return;
    UploadFixtureModelAndImages(&model_, &images_);
  }

  // Calibrates on 32 images; agreement, SQNR and timing then run on the
  // first 256 calibration samples.
  v1::Job QuantizeAndWait(int32_t weight_bits = 0) {
    v1::QuantizeModelRequest request;
    request.set_model_id(model_.id());
    request.set_calibration_dataset_id(images_.id());
    request.set_num_calibration_samples(32);
    request.mutable_quantization()->set_weight_bits(weight_bits);
    return QuantizeAndWatchToEnd(request);
  }

  v1::Model GetModel() {
    grpc::ClientContext context;
    v1::GetModelRequest request;
    request.set_model_id(model_.id());
    v1::Model model;
    const grpc::Status status = stub_->GetModel(&context, request, &model);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return model;
  }

  v1::Model model_;
  v1::Dataset images_;
};

TEST_F(JobInt8CoverageTest, ResNetRunsEveryMacInInt8AndTheVersionKeepsTheReport) {
  const v1::Job job = QuantizeAndWait();
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  ASSERT_TRUE(job.has_int8_coverage());
  const v1::Int8Coverage& coverage = job.int8_coverage();
  // Every Conv and the Gemm of the ResNet fixture have int8 kernels.
  EXPECT_EQ(coverage.mac_share(), 1.0);
  EXPECT_GT(coverage.total_macs(), 0);
  EXPECT_EQ(coverage.int8_macs(), coverage.total_macs());
  EXPECT_GT(coverage.int8_nodes(), 0);
  EXPECT_LE(coverage.int8_nodes(), coverage.total_nodes());
  // Nodes without MACs may still run fp32; each says why.
  EXPECT_EQ(coverage.fp32_islands_size(), coverage.total_nodes() - coverage.int8_nodes());
  for (const v1::Fp32Island& island : coverage.fp32_islands()) {
    EXPECT_EQ(island.macs(), 0) << island.node_name();
    EXPECT_FALSE(island.op_type().empty());
    EXPECT_FALSE(island.reason().empty()) << island.node_name();
  }
  // The fp32 input is quantized at least once on its way into the first Conv.
  EXPECT_GE(coverage.reorders().quantize(), 1);
  // One sample of the calibration set's [1, 28, 28].
  EXPECT_THAT(coverage.input_shape(), ElementsAre(1, 1, 28, 28));

  v1::Model model = GetModel();
  ASSERT_EQ(model.versions_size(), 2);
  EXPECT_FALSE(model.versions(0).has_int8_coverage());  // the fp32 original
  EXPECT_EQ(model.versions(1).int8_coverage().SerializeAsString(), coverage.SerializeAsString());

  RestartServer();
  model = GetModel();
  ASSERT_EQ(model.versions_size(), 2);
  EXPECT_FALSE(model.versions(0).has_int8_coverage());
  EXPECT_EQ(model.versions(1).int8_coverage().SerializeAsString(), coverage.SerializeAsString());
}

TEST_F(JobInt8CoverageTest, SimulatedVersionHasNoCoverage) {
  const v1::Job job = QuantizeAndWait(/*weight_bits=*/4);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_FALSE(job.has_int8_coverage());
  const v1::Model model = GetModel();
  ASSERT_EQ(model.versions_size(), 2);
  EXPECT_TRUE(model.versions(1).simulated());
  EXPECT_FALSE(model.versions(1).has_int8_coverage());
}

}  // namespace
}  // namespace quantd::server
