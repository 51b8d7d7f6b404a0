// A server restarted on the same data directory serves what the first one
// stored: the uploaded model, its int8 version and the finished job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>

#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/shared_server.h"
#include "tests/e2e/subprocess.h"

namespace quantd::e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::Pointwise;

// A temporary directory removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string path = (std::filesystem::temp_directory_path() / "quantd-e2e-data-XXXXXX").string();
    if (mkdtemp(path.data()) != nullptr) path_ = path;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

v1::Job WatchToEnd(v1::Quantd::Stub& stub, const std::string& job_id) {
  grpc::ClientContext context;
  SetDeadline(context, 180);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto reader = stub.WatchJob(&context, request);
  v1::Job job;
  v1::Job last;
  while (reader->Read(&job)) last = job;
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return last;
}

TEST(QuantdRestartE2eTest, RestartedServerServesStoredModelsAndVersions) {
  TempDir data_dir;
  ASSERT_FALSE(data_dir.path().empty());
  auto images =
      engine::ReadIdxDataset(FashionMnistFile("t10k-images-idx3-ubyte.gz"),
                             FashionMnistFile("t10k-labels-idx1-ubyte.gz"), 1.0f / 255.0f);
  ASSERT_TRUE(images.ok()) << images.status();
  const std::string model_path = FixtureFile("resnet_fmnist.onnx");
  const v1::Tensor batch = BatchTensor(*images, 0, 8);

  v1::Model model;
  v1::Job job;
  v1::InferResponse int8_before;
  {
    auto first = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path());
    ASSERT_TRUE(first.ok()) << first.status();
    auto stub = ConnectTo((*first)->address());
    grpc::Status status = UploadModel(*stub, "resnet-restart", ReadWholeFile(model_path),
                                      Sha256OfFile(model_path), model);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::Dataset calibration;
    status = UploadRawSubset(*stub, "fmnist-test-64", *images, 64, calibration);
    ASSERT_TRUE(status.ok()) << status.error_message();

    grpc::ClientContext context;
    SetDeadline(context);
    v1::QuantizeModelRequest request;
    request.set_model_id(model.id());
    request.set_calibration_dataset_id(calibration.id());
    status = stub->QuantizeModel(&context, request, &job);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const v1::Job done = WatchToEnd(*stub, job.id());
    ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();

    status = Infer(*stub, model.id(), v1::INT8, batch, int8_before);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const int exit_status = (*first)->Stop();
    EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0)
        << "quantd did not exit cleanly on SIGTERM (wait status " << exit_status << ")";
  }

  auto second = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path());
  ASSERT_TRUE(second.ok()) << second.status();
  auto stub = ConnectTo((*second)->address());
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetModelRequest request;
    request.set_model_id(model.id());
    v1::Model stored;
    const grpc::Status status = stub->GetModel(&context, request, &stored);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(stored.sha256(), model.sha256());
    ASSERT_EQ(stored.versions_size(), 2);
    EXPECT_EQ(stored.versions(1).precision(), v1::INT8);
    EXPECT_EQ(stored.versions(1).created_by_job_id(), job.id());
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetJobRequest request;
    request.set_job_id(job.id());
    v1::Job stored;
    const grpc::Status status = stub->GetJob(&context, request, &stored);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(stored.state(), v1::SUCCEEDED);
    EXPECT_EQ(stored.result_version(), 2);
  }
  // The int8 plan is rebuilt from what was stored and answers as before.
  v1::InferResponse int8_after;
  const grpc::Status status = Infer(*stub, model.id(), v1::INT8, batch, int8_after);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(int8_after.version(), 2);
  ASSERT_EQ(int8_after.outputs_size(), 1);
  EXPECT_THAT(int8_after.outputs(0).shape(), ElementsAre(8, 10));
  EXPECT_EQ(ArgmaxRows(int8_after.outputs(0)), ArgmaxRows(int8_before.outputs(0)));
  EXPECT_THAT(int8_after.outputs(0).data(),
              Pointwise(FloatNear(1e-3f), int8_before.outputs(0).data()));
}

}  // namespace
}  // namespace quantd::e2e
