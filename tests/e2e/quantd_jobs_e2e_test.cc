// End-to-end job control over a real quantd: cancelling a job while it
// calibrates, and the cancellation surviving a restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/shared_server.h"
#include "tests/e2e/subprocess.h"
#include "tests/server/temp_dir.h"

namespace quantd::e2e {
namespace {

using ::quantd::server::testing::TempDir;

TEST(QuantdJobsE2eTest, CancelStopsARunningCalibrationWithinFiveSeconds) {
  TempDir data_dir;
  ASSERT_FALSE(data_dir.path().empty());
  const std::string model_path = FixtureFile("resnet_fmnist.onnx");
  std::string job_id;
  {
    auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = ConnectTo((*server)->address());
    v1::Model model;
    grpc::Status status = UploadModel(*stub, "resnet-cancel", ReadWholeFile(model_path),
                                      Sha256OfFile(model_path), model);
    ASSERT_TRUE(status.ok()) << status.error_message();
    // All 60,000 training images: calibration takes far longer than the test
    // needs to see it running.
    v1::DatasetUploadHeader header;
    header.set_name("fmnist-train");
    header.set_format(v1::IDX);
    v1::Dataset calibration;
    status =
        UploadDataset(*stub, header, ReadWholeFile(FashionMnistFile("train-images-idx3-ubyte.gz")),
                      "", calibration);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(calibration.num_samples(), 60000);

    v1::Job job;
    {
      grpc::ClientContext context;
      SetDeadline(context);
      v1::QuantizeModelRequest request;
      request.set_model_id(model.id());
      request.set_calibration_dataset_id(calibration.id());
      status = stub->QuantizeModel(&context, request, &job);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    job_id = job.id();
    const v1::Job calibrating = WatchJobUntil(*stub, job_id, [](const v1::Job& j) {
      return j.phase() == "calibrating" && j.progress() > 0;
    });
    ASSERT_EQ(calibrating.state(), v1::RUNNING);
    ASSERT_EQ(calibrating.phase(), "calibrating");

    const auto cancelled_at = std::chrono::steady_clock::now();
    v1::Job requested;
    status = CancelJob(*stub, job_id, requested);
    ASSERT_TRUE(status.ok()) << status.error_message();
    // The job really was running when cancelled, not already over.
    ASSERT_EQ(requested.state(), v1::RUNNING);
    ASSERT_EQ(requested.phase(), "calibrating");
    EXPECT_TRUE(requested.cancel_requested());

    const v1::Job ended = WatchJobUntil(*stub, job_id, [](const v1::Job&) { return false; });
    const auto elapsed = std::chrono::steady_clock::now() - cancelled_at;
    EXPECT_EQ(ended.state(), v1::CANCELLED) << ended.error();
    EXPECT_LT(elapsed, std::chrono::seconds(5));
    EXPECT_EQ(ended.phase(), "calibrating") << "the job got past calibration";

    v1::Job again;
    EXPECT_EQ(CancelJob(*stub, job_id, again).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    (*server)->Stop();
  }

  auto restarted = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto stub = ConnectTo((*restarted)->address());
  v1::Job stored;
  const grpc::Status status = GetJob(*stub, job_id, stored);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(stored.state(), v1::CANCELLED);
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListJobsRequest request;
  request.set_state(v1::CANCELLED);
  v1::ListJobsResponse response;
  ASSERT_TRUE(stub->ListJobs(&context, request, &response).ok());
  ASSERT_EQ(response.jobs_size(), 1);
  EXPECT_EQ(response.jobs(0).id(), job_id);
}

}  // namespace
}  // namespace quantd::e2e
