// The job, deletion and download RPCs of the assembled server, in-process
// over loopback gRPC: CancelJob/ListJobs, DeleteModel/DeleteVersion/
// DeleteDataset against active jobs, DownloadVersion.

#include "server/api/quantd_service.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/jobs/job_tracker.h"
#include "server/storage/atomic_file.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class QuantdServiceTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    if (HasFatalFailure()) return;
    onnx_ = *ReadFileToString(kModelPath);
    UploadFixtureModelAndImages(&model_, &images_);
  }

  absl::StatusOr<v1::Job> Quantize(int64_t samples, const std::string& evaluation = "") {
    grpc::ClientContext context;
    v1::QuantizeModelRequest request;
    request.set_model_id(model_.id());
    request.set_calibration_dataset_id(images_.id());
    request.set_num_calibration_samples(samples);
    request.set_evaluation_dataset_id(evaluation);
    v1::Job job;
    const grpc::Status status = stub_->QuantizeModel(&context, request, &job);
    if (!status.ok()) return absl::InternalError(status.error_message());
    return job;
  }

  grpc::Status CancelJob(const std::string& job_id, v1::Job* job) {
    grpc::ClientContext context;
    v1::CancelJobRequest request;
    request.set_job_id(job_id);
    return stub_->CancelJob(&context, request, job);
  }

  std::vector<std::string> ListJobIds(const std::string& model_id, v1::JobState state) {
    grpc::ClientContext context;
    v1::ListJobsRequest request;
    request.set_model_id(model_id);
    request.set_state(state);
    v1::ListJobsResponse response;
    EXPECT_TRUE(stub_->ListJobs(&context, request, &response).ok());
    std::vector<std::string> ids;
    for (const v1::Job& job : response.jobs()) ids.push_back(job.id());
    return ids;
  }

  grpc::Status DeleteModel(const std::string& model_id) {
    grpc::ClientContext context;
    v1::DeleteModelRequest request;
    request.set_model_id(model_id);
    v1::DeleteModelResponse response;
    return stub_->DeleteModel(&context, request, &response);
  }

  grpc::Status DeleteVersion(const std::string& model_id, int32_t version) {
    grpc::ClientContext context;
    v1::DeleteVersionRequest request;
    request.set_model_id(model_id);
    request.set_version(version);
    v1::DeleteVersionResponse response;
    return stub_->DeleteVersion(&context, request, &response);
  }

  grpc::Status DeleteDataset(const std::string& dataset_id) {
    grpc::ClientContext context;
    v1::DeleteDatasetRequest request;
    request.set_dataset_id(dataset_id);
    v1::DeleteDatasetResponse response;
    return stub_->DeleteDataset(&context, request, &response);
  }

  grpc::Status Download(int32_t version, v1::ArtifactKind kind,
                        std::vector<v1::DownloadVersionResponse>& chunks) {
    grpc::ClientContext context;
    v1::DownloadVersionRequest request;
    request.set_model_id(model_.id());
    request.set_version(version);
    request.set_artifact(kind);
    auto reader = stub_->DownloadVersion(&context, request);
    v1::DownloadVersionResponse chunk;
    while (reader->Read(&chunk)) chunks.push_back(chunk);
    return reader->Finish();
  }

  v1::Tensor OneImage() {
    v1::Tensor input;
    for (int64_t d : {1, 1, 28, 28}) input.add_shape(d);
    input.mutable_data()->Resize(784, 0.5f);
    return input;
  }

  std::string onnx_;
  v1::Model model_;
  v1::Dataset images_;
};

TEST_F(QuantdServiceTest, CancelEndsQueuedJobsAtOnceAndRunningJobsSoon) {
  // One worker: the long job runs, the second waits behind it.
  auto running = Quantize(10000);
  ASSERT_TRUE(running.ok()) << running.status();
  auto queued = Quantize(64);
  ASSERT_TRUE(queued.ok()) << queued.status();

  v1::Job cancelled;
  ASSERT_TRUE(CancelJob(queued->id(), &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  EXPECT_GT(cancelled.finished_unix_ms(), 0);

  const v1::Job calibrating =
      WatchUntil(running->id(), [](const v1::Job& j) { return j.phase() == "calibrating"; });
  ASSERT_EQ(calibrating.state(), v1::RUNNING);
  ASSERT_EQ(calibrating.phase(), "calibrating");
  v1::Job requested;
  ASSERT_TRUE(CancelJob(running->id(), &requested).ok());
  ASSERT_EQ(requested.state(), v1::RUNNING) << "calibration of 10000 samples ended too soon";
  EXPECT_TRUE(requested.cancel_requested());
  const v1::Job ended = WatchToEnd(running->id());
  EXPECT_EQ(ended.state(), v1::CANCELLED);
  EXPECT_EQ(ended.phase(), "calibrating");
  EXPECT_EQ(ended.error(), kCancelledJobError);
  EXPECT_FALSE(ended.has_eta_seconds());

  // Nothing was published, and a finished job cannot be cancelled again.
  v1::Job again;
  const grpc::Status status = CancelJob(running->id(), &again);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("CANCELLED"));
  EXPECT_EQ(CancelJob("job_missing", &again).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CancelJob("", &again).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_THAT(ListJobIds("", v1::CANCELLED), ElementsAre(running->id(), queued->id()));
  EXPECT_THAT(ListJobIds(model_.id(), v1::JOB_STATE_UNSPECIFIED),
              ElementsAre(running->id(), queued->id()));
  EXPECT_TRUE(ListJobIds("mdl_other", v1::JOB_STATE_UNSPECIFIED).empty());
  EXPECT_TRUE(ListJobIds("", v1::SUCCEEDED).empty());
  {
    grpc::ClientContext context;
    v1::ListJobsRequest request;
    request.set_state(static_cast<v1::JobState>(42));
    v1::ListJobsResponse response;
    const grpc::Status bad = stub_->ListJobs(&context, request, &response);
    EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(bad.error_message(), HasSubstr("state"));
  }

  RestartServer();
  EXPECT_THAT(ListJobIds("", v1::CANCELLED), ElementsAre(running->id(), queued->id()));
  grpc::ClientContext context;
  v1::GetModelRequest get;
  get.set_model_id(model_.id());
  v1::Model model;
  ASSERT_TRUE(stub_->GetModel(&context, get, &model).ok());
  EXPECT_EQ(model.versions_size(), 1);
}

TEST_F(QuantdServiceTest, RunningJobShowsProgressAndEta) {
  auto job = Quantize(10000);
  ASSERT_TRUE(job.ok()) << job.status();
  const v1::Job with_eta = WatchUntil(job->id(), [](const v1::Job& j) {
    return j.phase() == "calibrating" && j.has_eta_seconds();
  });
  ASSERT_EQ(with_eta.state(), v1::RUNNING);
  EXPECT_GT(with_eta.progress(), 0);
  EXPECT_GT(with_eta.eta_seconds(), 0);
  grpc::ClientContext context;
  v1::GetJobRequest get;
  get.set_job_id(job->id());
  v1::Job fetched;
  ASSERT_TRUE(stub_->GetJob(&context, get, &fetched).ok());
  EXPECT_EQ(fetched.phase(), "calibrating");
  v1::Job cancelled;
  ASSERT_TRUE(CancelJob(job->id(), &cancelled).ok());
  EXPECT_EQ(WatchToEnd(job->id()).state(), v1::CANCELLED);
}

TEST_F(QuantdServiceTest, DeletionWaitsForActiveJobsThenRemovesEverything) {
  auto long_job = Quantize(10000);
  ASSERT_TRUE(long_job.ok()) << long_job.status();
  grpc::Status status = DeleteModel(model_.id());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr(long_job->id()));
  status = DeleteDataset(images_.id());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr(long_job->id()));
  v1::Job cancelled;
  ASSERT_TRUE(CancelJob(long_job->id(), &cancelled).ok());
  ASSERT_TRUE(IsTerminal(WatchToEnd(long_job->id()).state()));

  auto job = Quantize(64);
  ASSERT_TRUE(job.ok()) << job.status();
  const v1::Job done = WatchToEnd(job->id());
  ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  ASSERT_EQ(done.result_version(), 2);
  // No evaluation set: the speed-up is timed on the calibration set.
  EXPECT_EQ(done.speedup().dataset_id(), images_.id());

  // Every version shows its precision and (int8) its measured speed-up.
  {
    grpc::ClientContext context;
    v1::GetModelRequest get;
    get.set_model_id(model_.id());
    v1::Model model;
    ASSERT_TRUE(stub_->GetModel(&context, get, &model).ok());
    ASSERT_EQ(model.versions_size(), 2);
    EXPECT_EQ(model.versions(0).precision(), v1::FP32);
    EXPECT_FALSE(model.versions(0).has_speedup());
    EXPECT_EQ(model.versions(1).precision(), v1::INT8);
    EXPECT_DOUBLE_EQ(model.versions(1).speedup().throughput_speedup(),
                     done.speedup().throughput_speedup());
  }

  // Downloads: every artifact of version 2, in order, with digests that match.
  std::vector<v1::DownloadVersionResponse> chunks;
  ASSERT_TRUE(Download(2, v1::ARTIFACT_KIND_UNSPECIFIED, chunks).ok());
  std::map<v1::ArtifactKind, std::string> files;
  std::map<v1::ArtifactKind, v1::DownloadVersionResponse> headers;
  for (const auto& chunk : chunks) {
    if (!chunk.file_name().empty()) headers[chunk.artifact()] = chunk;
    files[chunk.artifact()] += chunk.data();
  }
  // model.onnx, calibration.tsv, model.qdq.onnx, calibration.json
  // (the exports are tested in download_exports_test.cc).
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[v1::ONNX_MODEL], onnx_);
  EXPECT_EQ(headers[v1::ONNX_MODEL].file_name(), "model.onnx");
  EXPECT_EQ(headers[v1::ONNX_MODEL].size_bytes(), static_cast<int64_t>(onnx_.size()));
  EXPECT_EQ(headers[v1::ONNX_MODEL].sha256(), Sha256Hex(onnx_));
  EXPECT_FALSE(files[v1::CALIBRATION_TABLE].empty());
  EXPECT_EQ(headers[v1::CALIBRATION_TABLE].sha256(), Sha256Hex(files[v1::CALIBRATION_TABLE]));
  chunks.clear();
  ASSERT_TRUE(Download(1, v1::ONNX_MODEL, chunks).ok());
  ASSERT_FALSE(chunks.empty());
  EXPECT_EQ(chunks[0].artifact(), v1::ONNX_MODEL);
  chunks.clear();
  status = Download(1, v1::CALIBRATION_TABLE, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("CALIBRATION_TABLE"));
  EXPECT_EQ(Download(9, v1::ARTIFACT_KIND_UNSPECIFIED, chunks).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Download(0, v1::ARTIFACT_KIND_UNSPECIFIED, chunks).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Version 1 goes only with its model; an int8 version on its own.
  status = DeleteVersion(model_.id(), 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("DeleteModel"));
  EXPECT_EQ(DeleteVersion(model_.id(), 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::InferResponse response;
  {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_.id());
    request.set_version(2);
    *request.mutable_input() = OneImage();
    ASSERT_TRUE(stub_->Infer(&context, request, &response).ok());  // now cached
  }
  ASSERT_TRUE(DeleteVersion(model_.id(), 2).ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "models" / model_.id() / "v2"));
  {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_.id());
    request.set_version(2);
    *request.mutable_input() = OneImage();
    EXPECT_EQ(stub_->Infer(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(DeleteVersion(model_.id(), 2).error_code(), grpc::StatusCode::NOT_FOUND);

  // Datasets: listed, fetched, deleted.
  {
    grpc::ClientContext context;
    v1::ListDatasetsResponse list;
    ASSERT_TRUE(stub_->ListDatasets(&context, {}, &list).ok());
    ASSERT_EQ(list.datasets_size(), 1);
    EXPECT_EQ(list.datasets(0).id(), images_.id());
  }
  ASSERT_TRUE(DeleteDataset(images_.id()).ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "datasets" / images_.id()));
  {
    grpc::ClientContext context;
    v1::GetDatasetRequest get;
    get.set_dataset_id(images_.id());
    v1::Dataset dataset;
    status = stub_->GetDataset(&context, get, &dataset);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr(images_.id()));
  }

  ASSERT_TRUE(DeleteModel(model_.id()).ok());
  EXPECT_FALSE(fs::exists(dir_.path() / "models" / model_.id()));
  {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_.id());
    *request.mutable_input() = OneImage();
    EXPECT_EQ(stub_->Infer(&context, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(DeleteModel(model_.id()).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DeleteModel("").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The jobs stay as history; the deletions survive a restart.
  RestartServer();
  grpc::ClientContext context;
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub_->ListModels(&context, {}, &models).ok());
  EXPECT_EQ(models.models_size(), 0);
  EXPECT_EQ(ListJobIds("", v1::JOB_STATE_UNSPECIFIED).size(), 2u);
}

v1::Model GetModelOrDie(v1::Quantd::Stub& stub, const std::string& model_id) {
  grpc::ClientContext context;
  v1::GetModelRequest get;
  get.set_model_id(model_id);
  v1::Model model;
  EXPECT_TRUE(stub.GetModel(&context, get, &model).ok());
  return model;
}

// Knobs travel from the request to the version, which keeps them across a
// restart: the int8 session is rebuilt from fp32 ONNX, table and options.
TEST_F(QuantdServiceTest, QuantizationKnobsAreStoredWithTheVersionAndSurviveRestart) {
  // A small labelled set, so the simulated version is evaluated quickly.
  constexpr int kEvalSamples = 128;
  v1::DatasetUploadHeader raw;
  raw.set_name("small-eval");
  raw.set_format(v1::RAW_FLOAT32);
  for (int64_t d : {1, 28, 28}) raw.add_sample_shape(d);
  std::vector<float> pixels(kEvalSamples * 784);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 37) % 256) / 255;
  std::vector<int32_t> labels(kEvalSamples);
  for (int i = 0; i < kEvalSamples; ++i) labels[i] = i % 10;
  v1::Dataset eval;
  ASSERT_TRUE(UploadDataset(raw,
                            std::string(reinterpret_cast<const char*>(pixels.data()),
                                        pixels.size() * sizeof(float)),
                            std::string(reinterpret_cast<const char*>(labels.data()),
                                        labels.size() * sizeof(int32_t)),
                            &eval)
                  .ok());

  v1::QuantizeModelRequest entropy;
  entropy.set_model_id(model_.id());
  entropy.set_calibration_dataset_id(images_.id());
  entropy.set_num_calibration_samples(128);
  entropy.set_calibration(v1::ENTROPY);
  entropy.set_calibration_seed(3);
  entropy.mutable_quantization()->set_weight_granularity(v1::PER_TENSOR);
  entropy.mutable_quantization()->set_keep_batchnorm(true);

  v1::QuantizeModelRequest low_bit;
  low_bit.set_model_id(model_.id());
  low_bit.set_calibration_dataset_id(images_.id());
  low_bit.set_num_calibration_samples(128);
  low_bit.set_evaluation_dataset_id(eval.id());
  low_bit.set_calibration(v1::PERCENTILE);
  low_bit.set_percentile(99.9);
  low_bit.mutable_quantization()->set_weight_bits(4);
  low_bit.mutable_quantization()->set_activation_bits(4);
  low_bit.mutable_quantization()->set_exclude_first_conv(true);

  for (const v1::QuantizeModelRequest& request : {entropy, low_bit}) {
    grpc::ClientContext context;
    v1::Job job;
    ASSERT_TRUE(stub_->QuantizeModel(&context, request, &job).ok());
    const v1::Job done = WatchToEnd(job.id());
    ASSERT_EQ(done.state(), v1::SUCCEEDED) << done.error();
  }

  auto check_versions = [&](const v1::Model& model) {
    ASSERT_EQ(model.versions_size(), 3);
    const v1::ModelVersion& v2 = model.versions(1);
    EXPECT_FALSE(v2.simulated());
    EXPECT_TRUE(v2.has_speedup());
    EXPECT_EQ(v2.options().calibration(), v1::ENTROPY);
    EXPECT_EQ(v2.options().calibration_seed(), 3u);
    EXPECT_EQ(v2.options().quantization().weight_granularity(), v1::PER_TENSOR);
    EXPECT_TRUE(v2.options().quantization().keep_batchnorm());
    // Defaults are spelled out.
    EXPECT_EQ(v2.options().quantization().weight_bits(), 8);
    EXPECT_EQ(v2.options().quantization().activation_type(), v1::ACTIVATION_TYPE_AUTO);

    const v1::ModelVersion& v3 = model.versions(2);
    EXPECT_TRUE(v3.simulated());
    EXPECT_FALSE(v3.has_speedup());  // no benchmark for fake quantization
    EXPECT_EQ(v3.accuracy().num_samples(), kEvalSamples);
    EXPECT_EQ(v3.options().calibration(), v1::PERCENTILE);
    EXPECT_DOUBLE_EQ(v3.options().percentile(), 99.9);
    EXPECT_EQ(v3.options().quantization().weight_bits(), 4);
    EXPECT_EQ(v3.options().quantization().activation_bits(), 4);
    EXPECT_TRUE(v3.options().quantization().exclude_first_conv());
    EXPECT_EQ(v3.options().quantization().weight_granularity(), v1::PER_CHANNEL);
    EXPECT_FALSE(v3.options().quantization().keep_batchnorm());
  };
  auto infer = [&](int32_t version, v1::InferResponse* response) {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_.id());
    request.set_version(version);
    request.set_precision(v1::INT8);
    *request.mutable_input() = OneImage();
    return stub_->Infer(&context, request, response);
  };

  check_versions(GetModelOrDie(*stub_, model_.id()));
  // BatchNorm kept (v2): the Convs' own outputs are values of the graph too,
  // so its table has ranges the folded graph's (v3) has not.
  auto table_lines = [&](int32_t version) {
    std::vector<v1::DownloadVersionResponse> chunks;
    EXPECT_TRUE(Download(version, v1::CALIBRATION_TABLE, chunks).ok());
    std::string table;
    for (const auto& chunk : chunks) table += chunk.data();
    return std::count(table.begin(), table.end(), '\n');
  };
  EXPECT_GT(table_lines(2), table_lines(3));
  v1::InferResponse before2, before3;
  ASSERT_TRUE(infer(2, &before2).ok());
  ASSERT_TRUE(infer(3, &before3).ok());
  ASSERT_EQ(before3.outputs_size(), 1);
  EXPECT_EQ(before3.precision(), v1::INT8);

  // After a restart the sessions are rebuilt from the stored options: the
  // same outputs as the sessions the jobs built.
  RestartServer();
  check_versions(GetModelOrDie(*stub_, model_.id()));
  for (const auto& [version, before] : {std::pair{2, &before2}, std::pair{3, &before3}}) {
    v1::InferResponse after;
    ASSERT_TRUE(infer(version, &after).ok());
    ASSERT_EQ(after.outputs_size(), before->outputs_size());
    ASSERT_EQ(after.outputs(0).data_size(), before->outputs(0).data_size());
    for (int i = 0; i < after.outputs(0).data_size(); ++i) {
      EXPECT_NEAR(after.outputs(0).data(i), before->outputs(0).data(i), 1e-3)
          << "version " << version << " output " << i;
    }
  }
}

TEST_F(QuantdServiceTest, BadKnobIsInvalidArgumentNamingTheField) {
  grpc::ClientContext context;
  v1::QuantizeModelRequest request;
  request.set_model_id(model_.id());
  request.set_calibration_dataset_id(images_.id());
  request.mutable_quantization()->set_weight_bits(9);
  v1::Job job;
  const grpc::Status status = stub_->QuantizeModel(&context, request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("weight_bits must be in 2..8 (0: 8), got 9"));
}

// ListModels pages through every model once, in upload order, as the
// unpaged list (one page of the default size here) has them.
TEST_F(QuantdServiceTest, ListModelsComesInPages) {
  const std::string onnx = *ReadFileToString(kModelPath);
  std::vector<std::string> uploaded;
  for (int i = 0; i < 3; ++i) {
    v1::Model model;
    ASSERT_TRUE(UploadModelBytes(onnx, Sha256Hex(onnx), &model).ok());
    uploaded.push_back(model.id());
  }
  std::vector<std::string> all;  // the fixture's model, then these three
  {
    grpc::ClientContext context;
    v1::ListModelsResponse everything;
    ASSERT_TRUE(stub_->ListModels(&context, {}, &everything).ok());
    EXPECT_EQ(everything.next_page_token(), "");
    for (const v1::Model& model : everything.models()) all.push_back(model.id());
  }
  EXPECT_THAT(all, ::testing::IsSupersetOf(uploaded));
  std::vector<std::string> listed;
  v1::ListModelsRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListModelsResponse page;
    ASSERT_TRUE(stub_->ListModels(&context, request, &page).ok());
    EXPECT_LE(page.models_size(), 2);
    for (const v1::Model& model : page.models()) listed.push_back(model.id());
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, static_cast<int>((all.size() + 1) / 2));
  EXPECT_EQ(listed, all);

  grpc::ClientContext context;
  request.set_page_token("not-a-token");
  v1::ListModelsResponse refused;
  EXPECT_EQ(stub_->ListModels(&context, request, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace quantd::server
