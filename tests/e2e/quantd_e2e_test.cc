// End-to-end tests over a real quantd server on loopback: the quantization
// flow from upload to int8 inference, and how the server answers bad input
// while it keeps serving.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/shared_server.h"
#include "tests/e2e/subprocess.h"
#include "tests/promtool_findings.h"

namespace quantd::e2e {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// The ids of the listed models. Matching on these rather than on the Model
// messages keeps failures short, and keeps gmock from instantiating its
// protobuf printer, which trips a GCC 12 -Wrestrict false positive.
std::vector<std::string> ModelIds(const v1::ListModelsResponse& response) {
  std::vector<std::string> ids;
  for (const v1::Model& model : response.models()) ids.push_back(model.id());
  return ids;
}

class QuantdE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = GetSharedServer();
    ASSERT_TRUE(shared.ok()) << "cannot start the shared quantd: " << shared.status();
    server_ = *shared;
  }

  v1::Quantd::Stub& stub() { return *server_->stub; }
  const engine::Dataset& test_images() { return server_->test_images; }

  // After a rejected request the server must still list and serve the model
  // uploaded before it.
  void ExpectStillServing() {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::ListModelsResponse models;
    const grpc::Status listed = stub().ListModels(&context, {}, &models);
    ASSERT_TRUE(listed.ok()) << listed.error_message();
    EXPECT_THAT(ModelIds(models), Contains(server_->resnet.id()));

    v1::InferResponse response;
    const grpc::Status inferred =
        Infer(stub(), server_->resnet.id(), v1::FP32, BatchTensor(test_images(), 0, 2), response);
    ASSERT_TRUE(inferred.ok()) << inferred.error_message();
    ASSERT_EQ(response.outputs_size(), 1);
    EXPECT_EQ(ArgmaxRows(response.outputs(0)).size(), 2u);
  }

  v1::Dataset UploadTestSubset(const std::string& name, int64_t count) {
    v1::Dataset dataset;
    const grpc::Status status = UploadRawSubset(stub(), name, test_images(), count, dataset);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return dataset;
  }

  SharedServer* server_ = nullptr;
};

TEST_F(QuantdE2eTest, QuantizesUploadedModelAndServesBothPrecisions) {
  // Its own copy of the model, so the shared one stays fp32-only.
  v1::Model model;
  grpc::Status status =
      UploadModel(stub(), "resnet-flow", server_->resnet_bytes, server_->resnet_sha256, model);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(model.id().empty());
  EXPECT_EQ(model.name(), "resnet-flow");
  EXPECT_EQ(model.size_bytes(), static_cast<int64_t>(server_->resnet_bytes.size()));
  EXPECT_EQ(model.sha256(), server_->resnet_sha256);
  ASSERT_EQ(model.inputs_size(), 1);
  EXPECT_EQ(model.inputs(0).name(), "input");
  EXPECT_THAT(model.inputs(0).shape(), ElementsAre(-1, 1, 28, 28));
  ASSERT_EQ(model.outputs_size(), 1);
  EXPECT_EQ(model.outputs(0).name(), "logits");
  EXPECT_GT(model.op_counts().count("Conv") ? model.op_counts().at("Conv") : 0, 0);
  ASSERT_EQ(model.versions_size(), 1);
  EXPECT_EQ(model.versions(0).version(), 1);
  EXPECT_EQ(model.versions(0).precision(), v1::FP32);

  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::ListModelsResponse models;
    ASSERT_TRUE(stub().ListModels(&context, {}, &models).ok());
    EXPECT_THAT(ModelIds(models), Contains(model.id()));
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetModelRequest request;
    request.set_model_id(model.id());
    v1::Model fetched;
    ASSERT_TRUE(stub().GetModel(&context, request, &fetched).ok());
    EXPECT_EQ(fetched.sha256(), model.sha256());
    EXPECT_THAT(fetched.inputs(0).shape(), ElementsAre(-1, 1, 28, 28));
  }

  // Calibration: the first 200 training images; evaluation: 1,000 test images.
  auto train =
      engine::ReadIdxDataset(FashionMnistFile("train-images-idx3-ubyte.gz"),
                             FashionMnistFile("train-labels-idx1-ubyte.gz"), 1.0f / 255.0f);
  ASSERT_TRUE(train.ok()) << train.status();
  v1::Dataset calibration;
  status = UploadRawSubset(stub(), "fmnist-train-200", *train, 200, calibration);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(calibration.num_samples(), 200);
  EXPECT_THAT(calibration.sample_shape(), ElementsAre(1, 28, 28));
  EXPECT_TRUE(calibration.has_labels());
  const v1::Dataset evaluation = UploadTestSubset("fmnist-test-1000", 1000);
  ASSERT_EQ(evaluation.num_samples(), 1000);

  v1::QuantizeModelRequest quantize;
  quantize.set_model_id(model.id());
  quantize.set_calibration_dataset_id(calibration.id());
  quantize.set_calibration(v1::NAIVE);
  quantize.set_evaluation_dataset_id(evaluation.id());
  v1::Job job;
  {
    grpc::ClientContext context;
    SetDeadline(context);
    status = stub().QuantizeModel(&context, quantize, &job);
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(job.id().empty());
  EXPECT_EQ(job.model_id(), model.id());
  EXPECT_TRUE(job.state() == v1::QUEUED || job.state() == v1::RUNNING)
      << "QuantizeModel must return before the job ends, got " << v1::JobState_Name(job.state());

  // WatchJob streams until the terminal state; states never go backwards.
  std::vector<v1::Job> updates;
  {
    grpc::ClientContext context;
    SetDeadline(context, 180);
    v1::WatchJobRequest watch;
    watch.set_job_id(job.id());
    auto reader = stub().WatchJob(&context, watch);
    v1::Job update;
    while (reader->Read(&update)) updates.push_back(update);
    status = reader->Finish();
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(updates.empty());
  for (size_t i = 1; i < updates.size(); ++i) {
    EXPECT_LE(updates[i - 1].state(), updates[i].state()) << "update " << i;
  }
  const v1::Job& done = updates.back();
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << "job error: " << done.error();
  EXPECT_EQ(done.result_version(), 2);
  EXPECT_GT(done.finished_unix_ms(), 0);
  ASSERT_TRUE(done.has_int8_accuracy());
  EXPECT_EQ(done.int8_accuracy().num_samples(), 1000);
  EXPECT_GT(done.int8_accuracy().top1(), 0.6);
  if (done.has_fp32_accuracy() && done.fp32_accuracy().num_samples() > 0) {
    EXPECT_NEAR(done.int8_accuracy().top1(), done.fp32_accuracy().top1(), 0.05);
  }

  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetModelRequest request;
    request.set_model_id(model.id());
    v1::Model fetched;
    ASSERT_TRUE(stub().GetModel(&context, request, &fetched).ok());
    ASSERT_EQ(fetched.versions_size(), 2);
    EXPECT_EQ(fetched.versions(1).version(), 2);
    EXPECT_EQ(fetched.versions(1).precision(), v1::INT8);
    EXPECT_EQ(fetched.versions(1).created_by_job_id(), job.id());
  }

  // Both precisions on 8 test images: same answers (up to one), mostly right.
  const v1::Tensor batch = BatchTensor(test_images(), 0, 8);
  v1::InferResponse fp32;
  v1::InferResponse int8;
  status = Infer(stub(), model.id(), v1::FP32, batch, fp32);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = Infer(stub(), model.id(), v1::INT8, batch, int8);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fp32.version(), 1);
  EXPECT_EQ(fp32.precision(), v1::FP32);
  EXPECT_EQ(int8.version(), 2);
  EXPECT_EQ(int8.precision(), v1::INT8);
  ASSERT_EQ(fp32.outputs_size(), 1);
  ASSERT_EQ(int8.outputs_size(), 1);
  EXPECT_THAT(int8.outputs(0).shape(), ElementsAre(8, 10));
  const std::vector<int> fp32_classes = ArgmaxRows(fp32.outputs(0));
  const std::vector<int> int8_classes = ArgmaxRows(int8.outputs(0));
  ASSERT_EQ(fp32_classes.size(), 8u);
  ASSERT_EQ(int8_classes.size(), 8u);
  int agree = 0, fp32_right = 0, int8_right = 0;
  for (size_t i = 0; i < 8; ++i) {
    agree += fp32_classes[i] == int8_classes[i];
    fp32_right += fp32_classes[i] == test_images().labels[i];
    int8_right += int8_classes[i] == test_images().labels[i];
  }
  EXPECT_GE(agree, 7);
  EXPECT_GE(fp32_right, 6);
  EXPECT_GE(int8_right, 6);

  v1::InferResponse pinned;
  status = Infer(stub(), model.id(), v1::INT8, batch, pinned, /*version=*/2);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(pinned.version(), 2);

  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetJobRequest request;
    request.set_job_id(job.id());
    v1::Job fetched;
    ASSERT_TRUE(stub().GetJob(&context, request, &fetched).ok());
    EXPECT_EQ(fetched.state(), v1::SUCCEEDED);
    EXPECT_EQ(fetched.result_version(), 2);
    EXPECT_EQ(fetched.request().calibration_dataset_id(), calibration.id());
    EXPECT_EQ(fetched.request().evaluation_dataset_id(), evaluation.id());
  }
}

TEST_F(QuantdE2eTest, AcceptsGzipIdxFilesAsUploaded) {
  v1::DatasetUploadHeader header;
  header.set_name("fmnist-t10k");
  header.set_format(v1::IDX);
  v1::Dataset dataset;
  const grpc::Status status =
      UploadDataset(stub(), header, ReadWholeFile(FashionMnistFile("t10k-images-idx3-ubyte.gz")),
                    ReadWholeFile(FashionMnistFile("t10k-labels-idx1-ubyte.gz")), dataset);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dataset.num_samples(), 10000);
  EXPECT_THAT(dataset.sample_shape(), ElementsAre(1, 28, 28));
  EXPECT_TRUE(dataset.has_labels());
}

TEST_F(QuantdE2eTest, MalformedOnnxIsInvalidArgument) {
  const std::string garbage = "this is not an ONNX model\n";
  const auto path = std::filesystem::temp_directory_path() / "quantd-e2e-garbage.onnx";
  std::ofstream(path, std::ios::binary) << garbage;
  const std::string digest = Sha256OfFile(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(digest.size(), 64u);

  v1::Model model;
  const grpc::Status status = UploadModel(stub(), "garbage", garbage, digest, model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  ExpectStillServing();
}

TEST_F(QuantdE2eTest, WrongSha256IsInvalidArgument) {
  // The digest of "abc", not of the model.
  const std::string wrong = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  v1::Model model;
  const grpc::Status status =
      UploadModel(stub(), "resnet-bad-digest", server_->resnet_bytes, wrong, model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(absl::AsciiStrToLower(status.error_message()), HasSubstr("sha256"));
  ExpectStillServing();
}

TEST_F(QuantdE2eTest, UnknownIdsAreNotFound) {
  const v1::Dataset calibration = UploadTestSubset("fmnist-test-16", 16);
  ASSERT_FALSE(calibration.id().empty());
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetModelRequest request;
    request.set_model_id("no-such-model");
    v1::Model model;
    EXPECT_EQ(stub().GetModel(&context, request, &model).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    v1::InferResponse response;
    EXPECT_EQ(Infer(stub(), "no-such-model", v1::FP32, BatchTensor(test_images(), 0, 1), response)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::QuantizeModelRequest request;
    request.set_model_id("no-such-model");
    request.set_calibration_dataset_id(calibration.id());
    v1::Job job;
    EXPECT_EQ(stub().QuantizeModel(&context, request, &job).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::QuantizeModelRequest request;
    request.set_model_id(server_->resnet.id());
    request.set_calibration_dataset_id("no-such-dataset");
    v1::Job job;
    EXPECT_EQ(stub().QuantizeModel(&context, request, &job).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GetJobRequest request;
    request.set_job_id("no-such-job");
    v1::Job job;
    EXPECT_EQ(stub().GetJob(&context, request, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::WatchJobRequest request;
    request.set_job_id("no-such-job");
    auto reader = stub().WatchJob(&context, request);
    v1::Job job;
    while (reader->Read(&job)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  ExpectStillServing();
}

TEST_F(QuantdE2eTest, QuantizeRequestsAreValidatedAtOnce) {
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::QuantizeModelRequest request;
    request.set_model_id(server_->resnet.id());  // no calibration dataset
    v1::Job job;
    EXPECT_EQ(stub().QuantizeModel(&context, request, &job).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // 32x32 samples cannot calibrate a model that takes 28x28 images.
  v1::DatasetUploadHeader header;
  header.set_name("wrong-shape");
  header.set_format(v1::RAW_FLOAT32);
  for (int64_t d : {1, 32, 32}) header.add_sample_shape(d);
  const std::vector<float> samples(4 * 32 * 32, 0.5f);
  v1::Dataset dataset;
  grpc::Status status = UploadDataset(
      stub(), header,
      std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * sizeof(float)),
      "", dataset);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dataset.num_samples(), 4);

  grpc::ClientContext context;
  SetDeadline(context);
  v1::QuantizeModelRequest request;
  request.set_model_id(server_->resnet.id());
  request.set_calibration_dataset_id(dataset.id());
  v1::Job job;
  status = stub().QuantizeModel(&context, request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  ExpectStillServing();
}

TEST_F(QuantdE2eTest, InferWithWrongInputIsInvalidArgument) {
  v1::InferResponse response;
  v1::Tensor wrong_shape;
  wrong_shape.set_name("input");
  for (int64_t d : {1, 1, 32, 32}) wrong_shape.add_shape(d);
  wrong_shape.mutable_data()->Resize(32 * 32, 0.5f);
  grpc::Status status = Infer(stub(), server_->resnet.id(), v1::FP32, wrong_shape, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  v1::Tensor short_data = BatchTensor(test_images(), 0, 1);
  short_data.mutable_data()->Truncate(100);
  status = Infer(stub(), server_->resnet.id(), v1::FP32, short_data, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  ExpectStillServing();
}

TEST_F(QuantdE2eTest, Int8InferBeforeQuantizationIsRefused) {
  v1::InferResponse response;
  const grpc::Status status =
      Infer(stub(), server_->resnet.id(), v1::INT8, BatchTensor(test_images(), 0, 1), response);
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
              status.error_code() == grpc::StatusCode::NOT_FOUND)
      << "got code " << status.error_code() << ": " << status.error_message();
  ExpectStillServing();
}

// The same batch as raw little-endian float32 bytes gets the same answer.
TEST_F(QuantdE2eTest, RawDataInputMatchesFloatData) {
  const v1::Tensor typed = BatchTensor(test_images(), 0, 3);
  v1::Tensor raw = typed;
  raw.clear_data();
  raw.set_raw_data(std::string(reinterpret_cast<const char*>(typed.data().data()),
                               static_cast<size_t>(typed.data_size()) * sizeof(float)));
  v1::InferResponse from_typed, from_raw;
  ASSERT_TRUE(Infer(stub(), server_->resnet.id(), v1::FP32, typed, from_typed).ok());
  const grpc::Status status = Infer(stub(), server_->resnet.id(), v1::FP32, raw, from_raw);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(from_raw.outputs_size(), 1);
  EXPECT_THAT(from_raw.outputs(0).data(), ElementsAreArray(from_typed.outputs(0).data()));
}

TEST_F(QuantdE2eTest, ConcurrentInferCallsAllSucceed) {
  std::vector<std::thread> callers;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        v1::InferResponse response;
        const grpc::Status status = Infer(stub(), server_->resnet.id(), v1::FP32,
                                          BatchTensor(test_images(), 8 * (t * 5 + i), 8), response);
        if (!status.ok() || response.outputs_size() != 1 ||
            ArgmaxRows(response.outputs(0)).size() != 8) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_THAT(failures, ElementsAre(0, 0, 0, 0));
}

// Each Infer call is recorded under the version that served it, with its
// time split into waiting for its run and running the model, its
// batch size and its bytes.
TEST_F(QuantdE2eTest, InferMetricsSplitTimeAndCountSamplesPerVersion) {
  const int port = server_->process->metrics_port();
  const std::string labels =
      "model=\"" + server_->resnet.id() + "\",precision=\"fp32\",version=\"1\"";
  const std::string before = MetricsBody(port);
  for (int i = 0; i < 3; ++i) {
    v1::InferResponse response;
    const grpc::Status status =
        Infer(stub(), server_->resnet.id(), v1::FP32, BatchTensor(test_images(), i, 4), response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string after = MetricsBody(port);
  auto increase = [&](const std::string& name) {
    return SeriesValue(after, name, labels) - std::max(0.0, SeriesValue(before, name, labels));
  };
  for (const char* name : {"quantd_infer_latency_seconds_count", "quantd_infer_queue_seconds_count",
                           "quantd_infer_compute_seconds_count", "quantd_infer_batch_size_count"}) {
    EXPECT_EQ(increase(name), 3) << name << "\n" << after;
  }
  EXPECT_EQ(increase("quantd_infer_batch_size_sum"), 12);  // 3 calls x 4 images
  // 4 images of 28 x 28 floats: over 12 KB per request, over 40 B per response.
  EXPECT_GT(increase("quantd_infer_request_bytes_total"), 3 * 4 * 28 * 28 * 4);
  EXPECT_GT(increase("quantd_infer_response_bytes_total"), 3 * 4 * 10 * 4);
  EXPECT_GT(increase("quantd_infer_compute_seconds_sum"), 0);
  EXPECT_THAT(after, HasSubstr("quantd_infer_running 0"));
  EXPECT_THAT(after, HasSubstr("quantd_infer_waiting 0"));
}

TEST_F(QuantdE2eTest, MetricsPassPromtool) {
  for (int i = 0; i < 3; ++i) {
    v1::InferResponse response;
    const grpc::Status status =
        Infer(stub(), server_->resnet.id(), v1::FP32, BatchTensor(test_images(), i, 4), response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const std::string response = HttpGet(server_->process->metrics_port(), "/metrics");
  ASSERT_THAT(response, HasSubstr(" 200 ")) << response.substr(0, 200);
  const size_t body_start = response.find("\r\n\r\n");
  ASSERT_NE(body_start, std::string::npos);
  const std::string body = response.substr(body_start + 4);

  EXPECT_THAT(body, HasSubstr("quantd_jobs_total"));
  const std::regex latency_bucket(
      R"re(quantd_infer_latency_seconds_bucket\{[^}]*model[a-z_]*="[^"]+"[^}]*\})re");
  EXPECT_TRUE(std::regex_search(body, latency_bucket)) << body;
  const std::regex fp32_bucket(
      R"re(quantd_infer_latency_seconds_bucket\{[^}]*precision="(fp32|FP32)"[^}]*\})re");
  EXPECT_TRUE(std::regex_search(body, fp32_bucket)) << body;
  EXPECT_THAT(body, HasSubstr("quantd_infer_running 0"));
  EXPECT_THAT(body, HasSubstr("quantd_job_workers 1"));

  const std::string promtool = "/usr/bin/promtool";
  ASSERT_TRUE(std::filesystem::exists(promtool))
      << promtool << " is missing: install Debian's `prometheus` package "
      << "(scripts/install_deps.sh does)";
  const auto path = std::filesystem::temp_directory_path() /
                    ("quantd-e2e-metrics-" + std::to_string(getpid()) + ".txt");
  std::ofstream(path, std::ios::binary) << body;
  const ProgramResult checked = RunProgram({promtool, "check", "metrics"}, path.string());
  std::filesystem::remove(path);
  EXPECT_THAT(::quantd::testing::UnexpectedPromtoolFindings(checked.out + checked.err), ::testing::IsEmpty())
      << "promtool check metrics:\n" << checked.out << checked.err;
}

// Dynamic batching on a real server: calls that arrive together run as one
// batch (the merged-rows histogram grows by more than the calls' own rows),
// and each caller gets the logits of its own image, as when it ran alone.
// A 1 s merge window (calls that come within 200 ms of each other merge)
// makes the merge certain on a loaded machine.
TEST(QuantdBatchingE2eTest, ConcurrentCallsMergeAndEachGetsItsOwnRows) {
  auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, {"--infer_max_queue_delay_us=1000000"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = ConnectTo((*server)->address());
  auto shared = GetSharedServer();
  ASSERT_TRUE(shared.ok()) << shared.status();
  v1::Model model;
  ASSERT_TRUE(UploadModel(*stub, "batched", (*shared)->resnet_bytes, (*shared)->resnet_sha256,
                          model)
                  .ok());
  const engine::Dataset& images = (*shared)->test_images;
  constexpr int kCallers = 6;
  std::vector<v1::InferResponse> alone(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(Infer(*stub, model.id(), v1::FP32, BatchTensor(images, i, 1), alone[i]).ok());
  }
  const std::string labels = "model=\"" + model.id() + "\",precision=\"fp32\",version=\"1\"";
  const std::string before = MetricsBody((*server)->metrics_port());

  std::vector<v1::InferResponse> together(kCallers);
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      statuses[i] = Infer(*stub, model.id(), v1::FP32, BatchTensor(images, i, 1), together[i]);
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    ASSERT_EQ(together[i].outputs_size(), 1);
    const v1::Tensor& got = together[i].outputs(0);
    const v1::Tensor& want = alone[i].outputs(0);
    EXPECT_THAT(got.shape(), ElementsAre(1, 10));
    ASSERT_EQ(got.data_size(), want.data_size());
    for (int k = 0; k < got.data_size(); ++k) {
      EXPECT_NEAR(got.data(k), want.data(k), 1e-4 + 1e-4 * std::fabs(want.data(k)))
          << "caller " << i << " logit " << k;
    }
  }
  const std::string after = MetricsBody((*server)->metrics_port());
  auto increase = [&](const std::string& name) {
    return SeriesValue(after, name, labels) - std::max(0.0, SeriesValue(before, name, labels));
  };
  EXPECT_EQ(increase("quantd_infer_batch_size_sum"), kCallers);
  EXPECT_GT(increase("quantd_infer_merged_batch_rows_sum"), kCallers) << after;
  EXPECT_EQ((*server)->Stop(), 0);
}

// A second server with a small upload limit; also checks a clean SIGTERM exit.
TEST(QuantdLimitsE2eTest, OversizedUploadIsResourceExhausted) {
  auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, {"--max_model_bytes=4096"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = ConnectTo((*server)->address());
  const std::string path = FixtureFile("resnet_fmnist.onnx");
  const std::string bytes = ReadWholeFile(path);
  ASSERT_GT(bytes.size(), 4096u);

  v1::Model model;
  const grpc::Status status = UploadModel(*stub, "too-big", bytes, Sha256OfFile(path), model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("4096"));

  grpc::ClientContext context;
  SetDeadline(context);
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub->ListModels(&context, {}, &models).ok());
  EXPECT_EQ(models.models_size(), 0);

  const int exit_status = (*server)->Stop();
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0)
      << "quantd did not exit cleanly on SIGTERM (wait status " << exit_status << ")";
}

}  // namespace
}  // namespace quantd::e2e
