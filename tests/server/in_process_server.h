#ifndef QUANTD_TESTS_SERVER_IN_PROCESS_SERVER_H_
#define QUANTD_TESTS_SERVER_IN_PROCESS_SERVER_H_

// A QuantdServer started in-process on loopback with a temporary data
// directory, and small helpers for the streaming RPCs. Shared by the tests of
// the assembled server.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "quantd/v1/quantd.grpc.pb.h"
#include "server/quantd_server.h"
#include "server/storage/atomic_file.h"
#include "tests/e2e/quantd_test_client.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {

inline const std::filesystem::path kModelPath =
    std::filesystem::path(QUANTD_SOURCE_DIR) / "fixtures" / "resnet_fmnist.onnx";
inline const std::filesystem::path kImagesPath =
    "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
inline const std::filesystem::path kLabelsPath =
    "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

class InProcessServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    namespace fs = std::filesystem;
    if (!fs::exists(kModelPath) || !fs::exists(kImagesPath) || !fs::exists(kLabelsPath)) {
      FAIL() << "needs " << kModelPath << " and Fashion-MNIST in " << kImagesPath.parent_path();
    }
    StartServer();
  }

  void StartServer() {
    ServerConfig config;
    config.listen_address = "127.0.0.1:0";
    config.metrics_listen_address = "none";
    config.data_dir = dir_.path().string();
    config.job_queue_capacity = 4;
    config.insecure_no_auth = true;  // tests of authentication set a token file instead
    AdjustConfig(config);
    auto server = QuantdServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    EXPECT_THAT(server_->StartupLine(),
                ::testing::MatchesRegex("quantd listening on 127\\.0\\.0\\.1:[0-9]+, metrics on "
                                        "disabled, data in .+"));
    stub_ = v1::Quantd::NewStub(
        grpc::CreateChannel(server_->listen_address(), grpc::InsecureChannelCredentials()));
  }

  // Tests of a limit lower it here.
  virtual void AdjustConfig(ServerConfig& /*config*/) {}

  void RestartServer() {
    stub_.reset();
    server_.reset();
    StartServer();
  }

  grpc::Status UploadModelBytes(const std::string& bytes, const std::string& sha,
                                v1::Model* model) {
    grpc::ClientContext context;
    auto writer = stub_->UploadModel(&context, model);
    v1::UploadModelRequest request;
    request.mutable_header()->set_name("resnet");
    request.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
    request.mutable_header()->set_sha256(sha);
    writer->Write(request);
    for (size_t pos = 0; pos < bytes.size(); pos += 64 * 1024) {
      request.set_chunk(bytes.substr(pos, 64 * 1024));
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status UploadDataset(const v1::DatasetUploadHeader& header, const std::string& samples,
                             const std::string& labels, v1::Dataset* dataset) {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, dataset);
    v1::UploadDatasetRequest request;
    *request.mutable_header() = header;
    writer->Write(request);
    for (const auto& [part, bytes] :
         {std::pair{v1::SAMPLES, &samples}, std::pair{v1::LABELS, &labels}}) {
      for (size_t pos = 0; pos < bytes->size(); pos += 1 << 20) {
        request.mutable_chunk()->set_part(part);
        request.mutable_chunk()->set_data(bytes->substr(pos, 1 << 20));
        if (!writer->Write(request)) break;
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Uploads the ResNet fixture as `model` and the Fashion-MNIST test images
  // with labels (IDX, as a client sends them) as `images`: where most tests
  // of the assembled server start.
  void UploadFixtureModelAndImages(v1::Model* model, v1::Dataset* images) {
    const std::string onnx = *ReadFileToString(kModelPath);
    ASSERT_TRUE(UploadModelBytes(onnx, Sha256Hex(onnx), model).ok());
    v1::DatasetUploadHeader idx;
    idx.set_name("fmnist-t10k");
    idx.set_format(v1::IDX);
    const grpc::Status uploaded =
        UploadDataset(idx, *ReadFileToString(kImagesPath), *ReadFileToString(kLabelsPath), images);
    ASSERT_TRUE(uploaded.ok()) << uploaded.error_message();
  }

  // Watches job `job_id` until `until` holds for an update or the job ends;
  // returns the last update.
  v1::Job WatchUntil(const std::string& job_id, const std::function<bool(const v1::Job&)>& until) {
    // Bounds a hung job so the test fails instead of the suite timing out.
    constexpr int kWatchDeadlineSeconds = 600;
    return e2e::WatchJobUntil(*stub_, job_id, until, kWatchDeadlineSeconds);
  }

  v1::Job WatchToEnd(const std::string& job_id) {
    return WatchUntil(job_id, [](const v1::Job&) { return false; });
  }

  // Submits `request` (expecting it to be accepted) and watches the job to its end.
  v1::Job QuantizeAndWatchToEnd(const v1::QuantizeModelRequest& request) {
    v1::Job job;
    grpc::ClientContext context;
    const grpc::Status status = stub_->QuantizeModel(&context, request, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) return job;
    return WatchToEnd(job.id());
  }

  grpc::Status Infer(const std::string& model_id, v1::Precision precision, const v1::Tensor& input,
                     v1::InferResponse* response) {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_id);
    request.set_precision(precision);
    *request.mutable_input() = input;
    return stub_->Infer(&context, request, response);
  }

  testing::TempDir dir_;
  std::unique_ptr<QuantdServer> server_;
  std::unique_ptr<v1::Quantd::Stub> stub_;
};

}  // namespace quantd::server

#endif  // QUANTD_TESTS_SERVER_IN_PROCESS_SERVER_H_
