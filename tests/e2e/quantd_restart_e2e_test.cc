// A server restarted on the same data directory serves what the first one
// stored: the uploaded model, its int8 version and the finished job, also
// after the first one was killed (SIGKILL) in the middle of a job or of
// uploads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/shared_server.h"
#include "tests/e2e/subprocess.h"
#include "tests/server/temp_dir.h"

namespace quantd::e2e {
namespace {

using ::quantd::server::testing::TempDir;

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::Pointwise;

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
    auto first = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
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

  auto second = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
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
    EXPECT_DOUBLE_EQ(stored.int8_coverage().mac_share(), 1.0);
  }
  // Per-version gauges come back from what the versions stored.
  EXPECT_THAT(HttpGet((*second)->metrics_port(), "/metrics"),
              ::testing::HasSubstr("quantd_model_int8_mac_share{model=\"" + model.id() +
                                   "\",version=\"2\"} 1\n"));
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

// Every model listed has the files of every version, nothing half-written is
// left in the data directory, and uploads' scratch space is empty.
void ExpectConsistentDataDir(v1::Quantd::Stub& stub, const std::string& data_dir) {
  namespace fs = std::filesystem;
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub.ListModels(&context, {}, &models).ok());
  for (const v1::Model& model : models.models()) {
    for (const v1::ModelVersion& version : model.versions()) {
      const fs::path dir =
          fs::path(data_dir) / "models" / model.id() / absl::StrCat("v", version.version());
      EXPECT_TRUE(fs::exists(dir / "model.onnx")) << dir;
      if (version.precision() == v1::INT8) {
        EXPECT_TRUE(fs::exists(dir / "calibration.tsv")) << dir;
      }
    }
  }
  EXPECT_TRUE(fs::is_empty(fs::path(data_dir) / "uploads"));
  for (const auto& entry : fs::recursive_directory_iterator(data_dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos)
        << "temp file left behind: " << entry.path();
  }
}

std::vector<std::string> ListDatasetIds(v1::Quantd::Stub& stub) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListDatasetsResponse response;
  EXPECT_TRUE(stub.ListDatasets(&context, {}, &response).ok());
  std::vector<std::string> ids;
  for (const v1::Dataset& dataset : response.datasets()) ids.push_back(dataset.id());
  return ids;
}

TEST(QuantdCrashE2eTest, KilledDuringAJobRestartsWithEverythingCommittedAndTheJobFailed) {
  TempDir data_dir;
  ASSERT_FALSE(data_dir.path().empty());
  const std::string model_path = FixtureFile("resnet_fmnist.onnx");
  v1::Model model;
  v1::Dataset calibration;
  v1::Job finished;
  v1::Job interrupted;
  {
    auto first = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
    ASSERT_TRUE(first.ok()) << first.status();
    auto stub = ConnectTo((*first)->address());
    grpc::Status status = UploadModel(*stub, "resnet-crash", ReadWholeFile(model_path),
                                      Sha256OfFile(model_path), model);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::DatasetUploadHeader header;
    header.set_name("fmnist-t10k");
    header.set_format(v1::IDX);
    status =
        UploadDataset(*stub, header, ReadWholeFile(FashionMnistFile("t10k-images-idx3-ubyte.gz")),
                      "", calibration);
    ASSERT_TRUE(status.ok()) << status.error_message();

    // One job completes (version 2), the next is killed mid-calibration.
    for (auto [samples, job] : {std::pair{int64_t{64}, &finished}, {int64_t{0}, &interrupted}}) {
      grpc::ClientContext context;
      SetDeadline(context);
      v1::QuantizeModelRequest request;
      request.set_model_id(model.id());
      request.set_calibration_dataset_id(calibration.id());
      request.set_num_calibration_samples(samples);
      status = stub->QuantizeModel(&context, request, job);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    ASSERT_EQ(WatchToEnd(*stub, finished.id()).state(), v1::SUCCEEDED);
    const v1::Job running = WatchJobUntil(*stub, interrupted.id(), [](const v1::Job& j) {
      return j.phase() == "calibrating" && j.progress() > 0;
    });
    ASSERT_EQ(running.state(), v1::RUNNING);
    const int wait_status = (*first)->Kill();
    ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  }

  auto second = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
  ASSERT_TRUE(second.ok()) << second.status();
  auto stub = ConnectTo((*second)->address());
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetModelRequest request;
    request.set_model_id(model.id());
    v1::Model stored;
    ASSERT_TRUE(stub->GetModel(&context, request, &stored).ok());
    ASSERT_EQ(stored.versions_size(), 2);
    EXPECT_EQ(stored.versions(1).created_by_job_id(), finished.id());
  }
  EXPECT_THAT(ListDatasetIds(*stub), ElementsAre(calibration.id()));
  v1::Job job;
  ASSERT_TRUE(GetJob(*stub, finished.id(), job).ok());
  EXPECT_EQ(job.state(), v1::SUCCEEDED);
  // Restart recovery fails a job that was running, saying why; it is not lost.
  ASSERT_TRUE(GetJob(*stub, interrupted.id(), job).ok());
  EXPECT_EQ(job.state(), v1::FAILED);
  EXPECT_THAT(job.error(), ::testing::HasSubstr("interrupted"));
  ExpectConsistentDataDir(*stub, data_dir.path().string());

  // The surviving int8 version still serves.
  auto images =
      engine::ReadIdxDataset(FashionMnistFile("t10k-images-idx3-ubyte.gz"), "", 1.0f / 255.0f);
  ASSERT_TRUE(images.ok()) << images.status();
  v1::InferResponse response;
  const grpc::Status inferred =
      Infer(*stub, model.id(), v1::INT8, BatchTensor(*images, 0, 2), response);
  ASSERT_TRUE(inferred.ok()) << inferred.error_message();
  EXPECT_EQ(response.version(), 2);
}

TEST(QuantdCrashE2eTest, KilledDuringUploadsLeavesNoTraceOfThem) {
  TempDir data_dir;
  ASSERT_FALSE(data_dir.path().empty());
  const std::string model_path = FixtureFile("resnet_fmnist.onnx");
  const std::string model_bytes = ReadWholeFile(model_path);
  v1::Model committed;
  {
    auto first = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
    ASSERT_TRUE(first.ok()) << first.status();
    auto stub = ConnectTo((*first)->address());
    grpc::Status status =
        UploadModel(*stub, "committed", model_bytes, Sha256OfFile(model_path), committed);
    ASSERT_TRUE(status.ok()) << status.error_message();

    // A model upload and a dataset upload, each cut off half-way.
    grpc::ClientContext model_context;
    SetDeadline(model_context);
    v1::Model unused_model;
    auto model_writer = stub->UploadModel(&model_context, &unused_model);
    v1::UploadModelRequest model_request;
    model_request.mutable_header()->set_name("cut-off");
    model_request.mutable_header()->set_size_bytes(static_cast<int64_t>(model_bytes.size()));
    model_request.mutable_header()->set_sha256(Sha256OfFile(model_path));
    ASSERT_TRUE(model_writer->Write(model_request));
    model_request.set_chunk(model_bytes.substr(0, model_bytes.size() / 2));
    ASSERT_TRUE(model_writer->Write(model_request));

    grpc::ClientContext dataset_context;
    SetDeadline(dataset_context);
    v1::Dataset unused_dataset;
    auto dataset_writer = stub->UploadDataset(&dataset_context, &unused_dataset);
    v1::UploadDatasetRequest dataset_request;
    dataset_request.mutable_header()->set_name("cut-off");
    dataset_request.mutable_header()->set_format(v1::IDX);
    ASSERT_TRUE(dataset_writer->Write(dataset_request));
    const std::string images = ReadWholeFile(FashionMnistFile("train-images-idx3-ubyte.gz"));
    for (size_t offset = 0; offset < images.size() / 2; offset += kChunkBytes) {
      dataset_request.mutable_chunk()->set_part(v1::SAMPLES);
      dataset_request.mutable_chunk()->set_data(images.substr(offset, kChunkBytes));
      ASSERT_TRUE(dataset_writer->Write(dataset_request));
    }
    const int wait_status = (*first)->Kill();
    ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
    model_context.TryCancel();
    dataset_context.TryCancel();
    model_writer->Finish().IgnoreError();
    dataset_writer->Finish().IgnoreError();
  }

  auto second = ServerProcess::Start(QUANTD_SERVER_BINARY, {}, data_dir.path().string());
  ASSERT_TRUE(second.ok()) << second.status();
  auto stub = ConnectTo((*second)->address());
  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub->ListModels(&context, {}, &models).ok());
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_EQ(models.models(0).id(), committed.id());
  EXPECT_TRUE(ListDatasetIds(*stub).empty());
  ExpectConsistentDataDir(*stub, data_dir.path().string());
}

}  // namespace
}  // namespace quantd::e2e
