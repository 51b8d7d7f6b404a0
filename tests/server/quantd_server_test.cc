// The assembled server in-process over loopback gRPC, with a real model
// fixture: upload, infer, quantize (watching the job), infer int8, restart.
// The end-to-end tests in tests/e2e drive the real binary; this one reaches
// inside (data dir, restart) and runs in the server's own test binary.

#include "server/quantd_server.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "engine/data/dataset.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "quantd/v1/quantd.grpc.pb.h"
#include "server/storage/atomic_file.h"
#include "server/storage/repository.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using QuantdServerTest = InProcessServerTest;

bool IsTerminalState(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

int ArgMax(const v1::Tensor& logits, int row) {
  const int classes = static_cast<int>(logits.shape(1));
  const float* begin = logits.data().data() + row * classes;
  return static_cast<int>(std::max_element(begin, begin + classes) - begin);
}

TEST_F(QuantdServerTest, UploadQuantizeWatchInferAndRestart) {
  const std::string onnx = *ReadFileToString(kModelPath);
  v1::Model model;
  ASSERT_TRUE(UploadModelBytes(onnx, Sha256Hex(onnx), &model).ok());
  EXPECT_THAT(model.id(), ::testing::StartsWith("mdl_"));
  ASSERT_EQ(model.inputs_size(), 1);
  ASSERT_EQ(model.versions_size(), 1);

  // Calibration set: the IDX files as a client would send them.
  v1::DatasetUploadHeader idx;
  idx.set_name("fmnist-t10k");
  idx.set_format(v1::IDX);
  v1::Dataset calibration;
  grpc::Status status = UploadDataset(idx, *ReadFileToString(kImagesPath),
                                      *ReadFileToString(kLabelsPath), &calibration);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(calibration.num_samples(), 10000);
  EXPECT_TRUE(calibration.has_labels());

  // Evaluation set: the first 500 test images as RAW_FLOAT32.
  auto decoded = engine::ReadIdxDataset(kImagesPath.string(), kLabelsPath.string(), 1.0f / 255);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const int kEval = 500;
  std::string samples(kEval * 784 * sizeof(float), '\0');
  std::memcpy(samples.data(), decoded->samples.data(), samples.size());
  std::string labels(kEval * sizeof(int32_t), '\0');
  std::memcpy(labels.data(), decoded->labels.data(), labels.size());
  v1::DatasetUploadHeader raw;
  raw.set_name("fmnist-500");
  raw.set_format(v1::RAW_FLOAT32);
  for (int64_t d : {1, 28, 28}) raw.add_sample_shape(d);
  v1::Dataset evaluation;
  status = UploadDataset(raw, samples, labels, &evaluation);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::Tensor batch;
  for (int64_t d : {8, 1, 28, 28}) batch.add_shape(d);
  batch.mutable_data()->Add(decoded->samples.begin(), decoded->samples.begin() + 8 * 784);

  v1::InferResponse fp32;
  status = Infer(model.id(), v1::FP32, batch, &fp32);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fp32.version(), 1);
  ASSERT_EQ(fp32.outputs_size(), 1);
  EXPECT_THAT(fp32.outputs(0).shape(), ::testing::ElementsAre(8, 10));

  v1::InferResponse none;
  status = Infer(model.id(), v1::INT8, batch, &none);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("has no INT8 version; run QuantizeModel first"));

  v1::QuantizeModelRequest quantize;
  quantize.set_model_id(model.id());
  quantize.set_calibration_dataset_id(calibration.id());
  quantize.set_num_calibration_samples(256);
  quantize.set_evaluation_dataset_id(evaluation.id());
  v1::Job job;
  {
    grpc::ClientContext context;
    status = stub_->QuantizeModel(&context, quantize, &job);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(job.state(), v1::QUEUED);

  std::vector<v1::Job> updates;
  {
    grpc::ClientContext context;
    v1::WatchJobRequest watch;
    watch.set_job_id(job.id());
    auto reader = stub_->WatchJob(&context, watch);
    v1::Job update;
    while (reader->Read(&update)) updates.push_back(update);
    status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  ASSERT_FALSE(updates.empty());
  const v1::Job& done = updates.back();
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  EXPECT_EQ(done.result_version(), 2);
  EXPECT_GT(done.fp32_accuracy().top1(), 0.5);
  EXPECT_GT(done.int8_accuracy().top1(), done.fp32_accuracy().top1() - 0.05);
  EXPECT_EQ(done.int8_accuracy().num_samples(), kEval);
  for (size_t i = 1; i < updates.size(); ++i) {
    EXPECT_GE(updates[i].progress(), updates[i - 1].progress()) << "progress went backwards";
  }
  EXPECT_TRUE(std::any_of(updates.begin(), updates.end(),
                          [](const v1::Job& j) { return j.phase() == "calibrating"; }));
  EXPECT_TRUE(std::any_of(updates.begin(), updates.end(),
                          [](const v1::Job& j) { return j.phase() == "benchmarking"; }));
  // The speed-up was measured on the evaluation set and is published with the version.
  ASSERT_TRUE(done.has_speedup());
  EXPECT_EQ(done.speedup().dataset_id(), done.request().evaluation_dataset_id());
  EXPECT_GT(done.speedup().throughput_speedup(), 0);
  EXPECT_GT(done.speedup().latency_speedup(), 0);
  EXPECT_FALSE(done.has_eta_seconds());

  v1::InferResponse int8;
  status = Infer(model.id(), v1::INT8, batch, &int8);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(int8.version(), 2);
  EXPECT_EQ(int8.precision(), v1::INT8);
  int agree = 0;
  for (int i = 0; i < 8; ++i) agree += ArgMax(fp32.outputs(0), i) == ArgMax(int8.outputs(0), i);
  EXPECT_GE(agree, 6);

  // After a restart everything is still there, and the int8 version is
  // rebuilt from the stored calibration table.
  RestartServer();
  {
    grpc::ClientContext context;
    v1::GetModelRequest get;
    get.set_model_id(model.id());
    v1::Model reloaded;
    ASSERT_TRUE(stub_->GetModel(&context, get, &reloaded).ok());
    ASSERT_EQ(reloaded.versions_size(), 2);
    EXPECT_EQ(reloaded.versions(1).precision(), v1::INT8);
    EXPECT_NEAR(reloaded.versions(1).accuracy().top1(), done.int8_accuracy().top1(), 1e-12);
    ASSERT_TRUE(reloaded.versions(1).has_speedup());
    EXPECT_DOUBLE_EQ(reloaded.versions(1).speedup().throughput_speedup(),
                     done.speedup().throughput_speedup());
  }
  v1::InferResponse reloaded_int8;
  status = Infer(model.id(), v1::INT8, batch, &reloaded_int8);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reloaded_int8.outputs(0).data_size(), int8.outputs(0).data_size());
  for (int i = 0; i < int8.outputs(0).data_size(); ++i) {
    EXPECT_FLOAT_EQ(reloaded_int8.outputs(0).data(i), int8.outputs(0).data(i));
  }
  {
    grpc::ClientContext context;
    v1::GetJobRequest get;
    get.set_job_id(job.id());
    v1::Job reloaded_job;
    ASSERT_TRUE(stub_->GetJob(&context, get, &reloaded_job).ok());
    EXPECT_EQ(reloaded_job.state(), v1::SUCCEEDED);
  }
}

TEST_F(QuantdServerTest, JobInterruptedByShutdownRunsAgainAfterRestart) {
  const std::string onnx = *ReadFileToString(kModelPath);
  v1::Model model;
  ASSERT_TRUE(UploadModelBytes(onnx, Sha256Hex(onnx), &model).ok());
  v1::DatasetUploadHeader idx;
  idx.set_name("fmnist-t10k");
  idx.set_format(v1::IDX);
  v1::Dataset calibration;
  ASSERT_TRUE(UploadDataset(idx, *ReadFileToString(kImagesPath), "", &calibration).ok());

  v1::QuantizeModelRequest quantize;
  quantize.set_model_id(model.id());
  quantize.set_calibration_dataset_id(calibration.id());
  // Enough batches that the shutdown usually lands mid-calibration.
  quantize.set_num_calibration_samples(1024);
  v1::Job job;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->QuantizeModel(&context, quantize, &job).ok());
  }
  {
    // Wait until calibration is under way, then stop the server under it.
    grpc::ClientContext context;
    v1::WatchJobRequest watch;
    watch.set_job_id(job.id());
    auto reader = stub_->WatchJob(&context, watch);
    v1::Job update;
    while (reader->Read(&update)) {
      if (update.phase() == "calibrating" || IsTerminalState(update.state())) break;
    }
    context.TryCancel();
    reader->Finish().IgnoreError();
  }
  server_->Shutdown();
  // The data directory stays locked while the server object lives.
  stub_.reset();
  server_.reset();
  // Either the job finished before the shutdown reached it, or it went back
  // to QUEUED; it is never left RUNNING or failed by a clean shutdown.
  {
    auto repository = Repository::Open(dir_.path());
    ASSERT_TRUE(repository.ok());
    auto jobs = (*repository)->LoadJobs();
    ASSERT_TRUE(jobs.ok());
    ASSERT_EQ(jobs->size(), 1u);
    EXPECT_THAT((*jobs)[0].state(), ::testing::AnyOf(v1::QUEUED, v1::SUCCEEDED));
  }
  RestartServer();
  grpc::ClientContext context;
  v1::WatchJobRequest watch;
  watch.set_job_id(job.id());
  auto reader = stub_->WatchJob(&context, watch);
  v1::Job update;
  while (reader->Read(&update)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(update.state(), v1::SUCCEEDED) << update.error();
  EXPECT_EQ(update.result_version(), 2);
}

TEST_F(QuantdServerTest, JobThatCannotRunFailsWithTheReason) {
  const std::string onnx = *ReadFileToString(kModelPath);
  v1::Model model;
  ASSERT_TRUE(UploadModelBytes(onnx, Sha256Hex(onnx), &model).ok());
  v1::DatasetUploadHeader raw;
  raw.set_name("zeros");
  raw.set_format(v1::RAW_FLOAT32);
  for (int64_t d : {1, 28, 28}) raw.add_sample_shape(d);
  v1::Dataset dataset;
  ASSERT_TRUE(UploadDataset(raw, std::string(2 * 784 * sizeof(float), '\0'), "", &dataset).ok());
  // Lose the samples behind the server's back: the job must fail, saying why.
  fs::remove(dir_.path() / "datasets" / dataset.id() / "samples.f32");

  v1::QuantizeModelRequest quantize;
  quantize.set_model_id(model.id());
  quantize.set_calibration_dataset_id(dataset.id());
  v1::Job job;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->QuantizeModel(&context, quantize, &job).ok());
  }
  grpc::ClientContext context;
  v1::WatchJobRequest watch;
  watch.set_job_id(job.id());
  auto reader = stub_->WatchJob(&context, watch);
  v1::Job update;
  while (reader->Read(&update)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(update.state(), v1::FAILED);
  EXPECT_THAT(update.error(), HasSubstr("samples.f32"));
  EXPECT_GT(update.finished_unix_ms(), 0);
}

TEST_F(QuantdServerTest, ClientErrorsComeBackAsStatusCodes) {
  const std::string onnx = *ReadFileToString(kModelPath);
  v1::Model model;
  grpc::Status status = UploadModelBytes(onnx, Sha256Hex("other"), &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("sha256 mismatch"));

  ASSERT_TRUE(UploadModelBytes(onnx, Sha256Hex(onnx), &model).ok());
  v1::Tensor bad;
  for (int64_t d : {2, 1, 28, 28}) bad.add_shape(d);
  bad.add_data(1.0f);
  v1::InferResponse response;
  status = Infer(model.id(), v1::FP32, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("needs 1568 values, but data holds 1"));

  status = Infer("mdl_missing", v1::FP32, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext context;
  v1::QuantizeModelRequest quantize;
  quantize.set_model_id(model.id());
  quantize.set_calibration_dataset_id("ds_missing");
  v1::Job job;
  status = stub_->QuantizeModel(&context, quantize, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "dataset 'ds_missing' not found");

  grpc::ClientContext watch_context;
  v1::WatchJobRequest watch;
  watch.set_job_id("job_missing");
  auto reader = stub_->WatchJob(&watch_context, watch);
  v1::Job update;
  EXPECT_FALSE(reader->Read(&update));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace quantd::server
