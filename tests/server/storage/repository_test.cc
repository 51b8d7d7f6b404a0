#include "server/storage/repository.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/storage/atomic_file.h"
#include "server/storage/sqlite_database.h"
#include "tests/server/break_job_saves.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

engine::ModelSummary TinySummary() {
  engine::ModelSummary summary;
  summary.inputs = {{"input", {-1, 1, 28, 28}}};
  summary.outputs = {{"logits", {-1, 10}}};
  summary.op_counts = {{"Conv", 2}, {"Gemm", 1}};
  summary.opset_version = 13;
  return summary;
}

engine::Dataset TinyDataset(bool labels) {
  engine::Dataset data;
  data.sample_shape = {1, 2, 2};
  data.num_samples = 3;
  for (int i = 0; i < 12; ++i) data.samples.push_back(0.25f * static_cast<float>(i) - 1.0f);
  if (labels) data.labels = {7, 0, 3};
  return data;
}

std::unique_ptr<Repository> OpenOrDie(const fs::path& dir) {
  auto repository = Repository::Open(dir);
  EXPECT_TRUE(repository.ok()) << repository.status();
  return repository.ok() ? std::move(*repository) : nullptr;
}

// A streamed upload's scratch file becomes the stored model file without a
// copy through memory; the model keeps it after the scratch name is gone.
TEST(RepositoryTest, ModelFileIsLinkedIntoPlace) {
  testing::TempDir dir;
  const std::string onnx = "bytes that arrived in chunks";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    const fs::path upload = repository->scratch_dir() / "model.tmp-upload";
    ASSERT_TRUE(WriteFileAtomically(upload, onnx).ok());
    auto model = repository->AddModelFile("streamed", upload, static_cast<int64_t>(onnx.size()),
                                          Sha256Hex(onnx), TinySummary());
    ASSERT_TRUE(model.ok()) << model.status();
    model_id = model->id();
    EXPECT_EQ(model->size_bytes(), static_cast<int64_t>(onnx.size()));
    EXPECT_EQ(fs::hard_link_count(upload), 2u);  // linked, not copied
    fs::remove(upload);
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  absl::StatusOr<MappedFile> stored = repository->ReadModelFile(model_id, 1);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->bytes(), onnx);
  EXPECT_EQ(repository->GetModel(model_id)->name(), "streamed");
}

TEST(RepositoryTest, ModelSurvivesReopenWithItsSummaryAndFile) {
  testing::TempDir dir;
  const std::string onnx = "not really onnx, but bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    auto model = repository->AddModel("tiny", onnx, Sha256Hex(onnx), TinySummary());
    ASSERT_TRUE(model.ok()) << model.status();
    model_id = model->id();
    EXPECT_THAT(model_id, ::testing::StartsWith("mdl_"));
    ASSERT_EQ(model->versions_size(), 1);
    EXPECT_EQ(model->versions(0).precision(), v1::FP32);
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  auto model = repository->GetModel(model_id);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name(), "tiny");
  EXPECT_EQ(model->size_bytes(), static_cast<int64_t>(onnx.size()));
  EXPECT_EQ(model->sha256(), Sha256Hex(onnx));
  EXPECT_EQ(model->opset_version(), 13);
  ASSERT_EQ(model->inputs_size(), 1);
  EXPECT_THAT(model->inputs(0).shape(), ElementsAre(-1, 1, 28, 28));
  EXPECT_EQ(model->op_counts().at("Conv"), 2);
  ASSERT_EQ(model->versions_size(), 1);
  EXPECT_EQ(repository->ReadModelFile(model_id, 1)->bytes(), onnx);
  EXPECT_TRUE(fs::exists(dir.path() / "models" / model_id / "v1" / "model.onnx"));
  EXPECT_EQ(repository->ListModels().size(), 1u);
}

TEST(RepositoryTest, UnknownIdsAreNotFoundAndNamed) {
  testing::TempDir dir;
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  absl::Status status = repository->GetModel("mdl_nope").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "model 'mdl_nope' not found");
  status = repository->GetDataset("ds_nope").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "dataset 'ds_nope' not found");
}

TEST(RepositoryTest, Int8VersionsAreNumberedAndPersisted) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
    v1::AccuracyReport accuracy;
    accuracy.set_dataset_id("ds_x");
    accuracy.set_top1(0.75);
    auto v2 = repository->AddInt8Version(model_id, "job_a", "conv1\t0\t6\n", accuracy);
    ASSERT_TRUE(v2.ok()) << v2.status();
    EXPECT_EQ(v2->version(), 2);
    auto v3 = repository->AddInt8Version(model_id, "job_b", "conv1\t0\t5\n", std::nullopt);
    ASSERT_TRUE(v3.ok()) << v3.status();
    EXPECT_EQ(v3->version(), 3);
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  auto model = repository->GetModel(model_id);
  ASSERT_TRUE(model.ok());
  ASSERT_EQ(model->versions_size(), 3);
  EXPECT_EQ(model->versions(1).precision(), v1::INT8);
  EXPECT_EQ(model->versions(1).created_by_job_id(), "job_a");
  EXPECT_DOUBLE_EQ(model->versions(1).accuracy().top1(), 0.75);
  EXPECT_FALSE(model->versions(2).has_accuracy());
  EXPECT_EQ(repository->ReadModelFile(model_id, 3)->bytes(), onnx);
  EXPECT_EQ(*repository->ReadCalibrationTable(model_id, 2), "conv1\t0\t6\n");
  EXPECT_EQ(repository->ReadCalibrationTable(model_id, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(repository->ReadModelFile(model_id, 9).status().message(),
              HasSubstr("has no version 9"));
}

v1::Job RunningJob(const std::string& id) {
  v1::Job job;
  job.set_id(id);
  job.set_state(v1::RUNNING);
  job.set_created_unix_ms(1);
  return job;
}

// The version and the end of the job that made it commit together: a restart
// never finds one without the other.
TEST(RepositoryTest, AVersionIsPublishedWithItsJobsEnd) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
    ASSERT_TRUE(repository->SaveJob(RunningJob("job_a")).ok());
    auto ended = [](const v1::ModelVersion& version) {
      v1::Job job = RunningJob("job_a");
      job.set_state(v1::SUCCEEDED);
      job.set_result_version(version.version());
      return job;
    };
    auto version = repository->AddInt8Version(model_id, "job_a", "t", std::nullopt, std::nullopt,
                                              std::nullopt, false, {}, std::nullopt, ended);
    ASSERT_TRUE(version.ok()) << version.status();
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  EXPECT_EQ(repository->GetModel(model_id)->versions_size(), 2);
  auto jobs = repository->LoadJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].state(), v1::SUCCEEDED);
  EXPECT_EQ((*jobs)[0].result_version(), 2);
}

TEST(RepositoryTest, AVersionWhoseJobsEndCannotBeSavedIsNotPublished) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  const std::string model_id =
      repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
  ASSERT_TRUE(repository->SaveJob(RunningJob("job_a")).ok());
  testing::BreakJobSaves(dir.path());
  auto ended = [](const v1::ModelVersion&) {
    v1::Job job = RunningJob("job_a");
    job.set_state(v1::SUCCEEDED);
    return job;
  };
  auto version = repository->AddInt8Version(model_id, "job_a", "t", std::nullopt, std::nullopt,
                                            std::nullopt, false, {}, std::nullopt, ended);
  EXPECT_THAT(version.status().message(), HasSubstr("disk full"));
  EXPECT_EQ(repository->GetModel(model_id)->versions_size(), 1);
  EXPECT_FALSE(fs::exists(dir.path() / "models" / model_id / "v2"));
  repository.reset();
  auto reopened = OpenOrDie(dir.path());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->GetModel(model_id)->versions_size(), 1);
  EXPECT_EQ((*reopened->LoadJobs())[0].state(), v1::RUNNING);
}

// A stored end is final: a save racing it with an earlier state (a cancel
// request of the running job) does not bring the job back.
TEST(RepositoryTest, AStoredJobEndIsNotOverwritten) {
  testing::TempDir dir;
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  v1::Job job = RunningJob("job_a");
  ASSERT_TRUE(repository->SaveJob(job).ok());
  job.set_state(v1::SUCCEEDED);
  ASSERT_TRUE(repository->SaveJob(job).ok());
  job.set_state(v1::RUNNING);
  job.set_cancel_requested(true);
  ASSERT_TRUE(repository->SaveJob(job).ok());
  auto jobs = repository->LoadJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ((*jobs)[0].state(), v1::SUCCEEDED);
  EXPECT_FALSE((*jobs)[0].cancel_requested());
}

TEST(RepositoryTest, DatasetRoundTripsInCanonicalForm) {
  testing::TempDir dir;
  std::string labelled_id, unlabelled_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    auto labelled = repository->AddDataset("train", TinyDataset(true));
    ASSERT_TRUE(labelled.ok()) << labelled.status();
    labelled_id = labelled->id();
    EXPECT_THAT(labelled_id, ::testing::StartsWith("ds_"));
    EXPECT_TRUE(labelled->has_labels());
    unlabelled_id = repository->AddDataset("calib", TinyDataset(false))->id();
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  auto meta = repository->GetDataset(labelled_id);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->num_samples(), 3);
  EXPECT_THAT(meta->sample_shape(), ElementsAre(1, 2, 2));
  auto data = repository->LoadDataset(labelled_id);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->samples, TinyDataset(true).samples);
  EXPECT_THAT(data->labels, ElementsAre(7, 0, 3));
  EXPECT_EQ(fs::file_size(dir.path() / "datasets" / labelled_id / "samples.f32"), 12u * 4);
  auto unlabelled = repository->LoadDataset(unlabelled_id);
  ASSERT_TRUE(unlabelled.ok());
  EXPECT_FALSE(unlabelled->has_labels());
}

TEST(RepositoryTest, JobsAreUpsertedAndListedOldestFirst) {
  testing::TempDir dir;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    for (int i = 0; i < 3; ++i) {
      v1::Job job;
      job.set_id("job_" + std::to_string(i));
      job.set_state(v1::QUEUED);
      job.set_created_unix_ms(1000 + i);
      ASSERT_TRUE(repository->SaveJob(job).ok());
    }
    v1::Job updated;
    updated.set_id("job_0");
    updated.set_state(v1::SUCCEEDED);
    updated.set_created_unix_ms(1000);
    updated.set_result_version(2);
    ASSERT_TRUE(repository->SaveJob(updated).ok());
    ASSERT_TRUE(repository->DeleteJob("job_1").ok());
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  auto jobs = repository->LoadJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].id(), "job_0");
  EXPECT_EQ((*jobs)[0].state(), v1::SUCCEEDED);
  EXPECT_EQ((*jobs)[0].result_version(), 2);
  EXPECT_EQ((*jobs)[1].id(), "job_2");
}

TEST(RepositoryTest, LeftoverTempFilesAreRemovedOnOpen) {
  testing::TempDir dir;
  { ASSERT_NE(OpenOrDie(dir.path()), nullptr); }
  const fs::path stale = dir.path() / "models" / "model.onnx.tmp-w_123";
  { std::ofstream(stale) << "partial"; }
  ASSERT_NE(OpenOrDie(dir.path()), nullptr);
  EXPECT_FALSE(fs::exists(stale));
}

TEST(RepositoryTest, DeletedVersionsAndModelsLoseRowsAndFilesAndNumbersAreNotReused) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
    ASSERT_TRUE(repository->AddInt8Version(model_id, "job_a", "t2", std::nullopt).ok());
    ASSERT_TRUE(repository->AddInt8Version(model_id, "job_b", "t3", std::nullopt).ok());
    EXPECT_EQ(repository->DeleteVersion(model_id, 1).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(repository->DeleteVersion(model_id, 7).code(), absl::StatusCode::kNotFound);
    ASSERT_TRUE(repository->DeleteVersion(model_id, 3).ok());
    EXPECT_FALSE(fs::exists(dir.path() / "models" / model_id / "v3"));
    EXPECT_TRUE(fs::exists(dir.path() / "models" / model_id / "v2" / "model.onnx"));
    EXPECT_EQ(repository->ReadModelFile(model_id, 3).status().code(), absl::StatusCode::kNotFound);
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  auto model = repository->GetModel(model_id);
  ASSERT_TRUE(model.ok());
  ASSERT_EQ(model->versions_size(), 2);
  EXPECT_EQ(model->versions(1).version(), 2);
  // A client that pinned version 3 must never get a different model under it.
  auto next = repository->AddInt8Version(model_id, "job_c", "t4", std::nullopt);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->version(), 4);

  ASSERT_TRUE(repository->DeleteModel(model_id).ok());
  EXPECT_EQ(repository->GetModel(model_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir.path() / "models" / model_id));
  EXPECT_EQ(repository->DeleteModel(model_id).code(), absl::StatusCode::kNotFound);
  repository.reset();
  repository = OpenOrDie(dir.path());
  EXPECT_TRUE(repository->ListModels().empty());
}

// Datasets added within one millisecond (eight in a row almost always are)
// list in the order they were added, live and after reopening, whatever
// their random ids: ordering by timestamp alone put them in id order.
TEST(RepositoryTest, ListsDatasetsInCreationOrderWithinOneMillisecond) {
  testing::TempDir dir;
  std::vector<std::string> added;
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  for (int i = 0; i < 8; ++i) {
    auto dataset = repository->AddDataset(absl::StrCat("d", i), TinyDataset(true));
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    added.push_back(dataset->id());
  }
  std::vector<std::string> listed;
  for (const v1::Dataset& dataset : repository->ListDatasets()) listed.push_back(dataset.id());
  EXPECT_EQ(listed, added);
  repository.reset();
  repository = OpenOrDie(dir.path());
  listed.clear();
  for (const v1::Dataset& dataset : repository->ListDatasets()) listed.push_back(dataset.id());
  EXPECT_EQ(listed, added);
}

// A second quantd on the same data directory would delete the first one's
// in-flight files as debris: it fails to open instead, naming the directory,
// and the directory opens again once the first lets go.
TEST(RepositoryTest, ADataDirectoryOpensOnceAtATime) {
  testing::TempDir dir;
  auto first = Repository::Open(dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string id = (*first)->AddDataset("kept", TinyDataset(true))->id();
  auto second = Repository::Open(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("is in use by another quantd"));
  EXPECT_TRUE((*first)->GetDataset(id).ok());
  first->reset();
  auto third = Repository::Open(dir.path());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE((*third)->GetDataset(id).ok());
}

TEST(RepositoryTest, DatasetsAreListedOldestFirstAndDeleted) {
  testing::TempDir dir;
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  const std::string first = repository->AddDataset("first", TinyDataset(true))->id();
  const std::string second = repository->AddDataset("second", TinyDataset(false))->id();
  std::vector<std::string> names;
  for (const v1::Dataset& d : repository->ListDatasets()) names.push_back(d.name());
  EXPECT_THAT(names, ElementsAre("first", "second"));

  ASSERT_TRUE(repository->DeleteDataset(first).ok());
  EXPECT_FALSE(fs::exists(dir.path() / "datasets" / first));
  EXPECT_EQ(repository->GetDataset(first).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repository->DeleteDataset(first).code(), absl::StatusCode::kNotFound);
  repository.reset();
  repository = OpenOrDie(dir.path());
  ASSERT_EQ(repository->ListDatasets().size(), 1u);
  EXPECT_EQ(repository->ListDatasets()[0].id(), second);
}

TEST(RepositoryTest, SpeedupIsStoredWithTheVersionAndArtifactsAreListed) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
    v1::SpeedupReport speedup;
    speedup.set_dataset_id("ds_x");
    speedup.set_throughput_speedup(3.5);
    speedup.set_latency_speedup(2.0);
    ASSERT_TRUE(repository->AddInt8Version(model_id, "job_a", "t2", std::nullopt, speedup).ok());
  }
  auto repository = OpenOrDie(dir.path());
  auto model = repository->GetModel(model_id);
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE(model->versions(0).has_speedup());
  ASSERT_TRUE(model->versions(1).has_speedup());
  EXPECT_DOUBLE_EQ(model->versions(1).speedup().throughput_speedup(), 3.5);
  EXPECT_EQ(model->versions(1).speedup().dataset_id(), "ds_x");

  auto fp32 = repository->ListArtifacts(model_id, 1);
  ASSERT_TRUE(fp32.ok());
  ASSERT_EQ(fp32->size(), 1u);
  EXPECT_EQ((*fp32)[0].kind, v1::ONNX_MODEL);
  auto int8 = repository->ListArtifacts(model_id, 2);
  ASSERT_TRUE(int8.ok());
  ASSERT_EQ(int8->size(), 2u);
  EXPECT_EQ((*int8)[1].kind, v1::CALIBRATION_TABLE);
  EXPECT_EQ(*ReadFileToString((*int8)[1].path), "t2");
  EXPECT_EQ(repository->ListArtifacts(model_id, 5).status().code(), absl::StatusCode::kNotFound);
}

v1::Int8Coverage PartialCoverage() {
  v1::Int8Coverage coverage;
  coverage.set_mac_share(0.75);
  coverage.set_total_macs(4000);
  coverage.set_int8_macs(3000);
  coverage.set_total_nodes(5);
  coverage.set_int8_nodes(4);
  v1::Fp32Island* island = coverage.add_fp32_islands();
  island->set_node_name("fc");
  island->set_op_type("Gemm");
  island->set_macs(1000);
  island->set_reason("excluded by the quantization options");
  coverage.mutable_reorders()->set_quantize(1);
  coverage.mutable_reorders()->set_dequantize(1);
  for (int64_t d : {1, 1, 28, 28}) coverage.add_input_shape(d);
  return coverage;
}

TEST(RepositoryTest, Int8CoverageIsStoredWithTheVersion) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
    auto v2 = repository->AddInt8Version(model_id, "job_a", "t2", std::nullopt, std::nullopt,
                                         std::nullopt, /*simulated=*/false, {}, PartialCoverage());
    ASSERT_TRUE(v2.ok()) << v2.status();
    EXPECT_EQ(v2->int8_coverage().SerializeAsString(), PartialCoverage().SerializeAsString());
    // Simulated versions have none.
    ASSERT_TRUE(repository
                    ->AddInt8Version(model_id, "job_b", "t3", std::nullopt, std::nullopt,
                                     std::nullopt, /*simulated=*/true)
                    .ok());
  }
  auto repository = OpenOrDie(dir.path());
  auto model = repository->GetModel(model_id);
  ASSERT_TRUE(model.ok());
  ASSERT_EQ(model->versions_size(), 3);
  EXPECT_FALSE(model->versions(0).has_int8_coverage());
  EXPECT_EQ(model->versions(1).int8_coverage().SerializeAsString(),
            PartialCoverage().SerializeAsString());
  EXPECT_FALSE(model->versions(2).has_int8_coverage());
}

// Directories no row references are quarantined, not deleted: they may be
// someone's data. Interrupted upload scratch files are deleted.
TEST(RepositoryTest, OpenQuarantinesUnreferencedDirectoriesAndRemovesUploadScratch) {
  testing::TempDir dir;
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
  }
  // What a crash can leave: files written before their row was committed.
  fs::create_directories(dir.path() / "models" / "mdl_orphan" / "v1");
  std::ofstream(dir.path() / "models" / "mdl_orphan" / "v1" / "model.onnx") << "weights";
  fs::create_directories(dir.path() / "models" / model_id / "v2");
  fs::create_directories(dir.path() / "datasets" / "ds_orphan");
  std::ofstream(dir.path() / "uploads" / "samples-123") << "partial";
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  EXPECT_FALSE(fs::exists(dir.path() / "models" / "mdl_orphan"));
  EXPECT_FALSE(fs::exists(dir.path() / "models" / model_id / "v2"));
  EXPECT_TRUE(fs::exists(dir.path() / "models" / model_id / "v1" / "model.onnx"));
  EXPECT_FALSE(fs::exists(dir.path() / "datasets" / "ds_orphan"));
  EXPECT_TRUE(fs::is_empty(dir.path() / "uploads"));

  std::vector<fs::path> quarantines;
  for (const auto& entry : fs::directory_iterator(dir.path() / "quarantine")) {
    quarantines.push_back(entry.path());
  }
  ASSERT_EQ(quarantines.size(), 1u);
  const fs::path& kept = quarantines[0];
  std::ifstream weights(kept / "models" / "mdl_orphan" / "v1" / "model.onnx");
  std::string contents;
  weights >> contents;
  EXPECT_EQ(contents, "weights");
  EXPECT_TRUE(fs::is_directory(kept / "models" / model_id / "v2"));
  EXPECT_TRUE(fs::is_directory(kept / "datasets" / "ds_orphan"));
  EXPECT_FALSE(fs::exists(kept / "uploads"));
  // Moved, not copied again: a second start finds nothing new to quarantine.
  repository.reset();
  ASSERT_NE(OpenOrDie(dir.path()), nullptr);
  EXPECT_EQ(
      std::distance(fs::directory_iterator(dir.path() / "quarantine"), fs::directory_iterator()),
      1);
}

// The datasets kept together stay within the store's byte cap; a refused
// dataset leaves nothing behind, and deleting one makes room again.
TEST(RepositoryTest, StoredDatasetBytesAreCapped) {
  testing::TempDir dir;
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  // TinyDataset(true): 3 samples of 4 floats and 3 labels, 60 bytes.
  const std::string first =
      repository->AddDataset("a", TinyDataset(true), v1::RAW_FLOAT32, nullptr, 130)->id();
  ASSERT_TRUE(repository->AddDataset("b", TinyDataset(true), v1::RAW_FLOAT32, nullptr, 130).ok());
  auto third = repository->AddDataset("c", TinyDataset(true), v1::RAW_FLOAT32, nullptr, 130);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("--max_stored_dataset_bytes (130)"));
  EXPECT_EQ(repository->ListDatasets().size(), 2u);
  ASSERT_TRUE(repository->DeleteDataset(first).ok());
  EXPECT_TRUE(repository->AddDataset("c", TinyDataset(true), v1::RAW_FLOAT32, nullptr, 130).ok());
}

// Each column added since (speedup, options, simulated, int8_coverage) is
// added by Open().
TEST(RepositoryTest, DatabaseFromTheFirstReleaseGetsTheLaterColumnsAdded) {
  testing::TempDir dir;
  {
    // model_versions as the first release created it.
    auto db = SqliteDatabase::Open((dir.path() / "quantd.db").string());
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE model_versions (model_id TEXT NOT NULL, "
                           "version INTEGER NOT NULL, precision INTEGER NOT NULL, "
                           "created_by_job_id TEXT NOT NULL, created_unix_ms INTEGER NOT NULL, "
                           "accuracy BLOB, PRIMARY KEY (model_id, version))")
                    .ok());
  }
  const std::string onnx = "onnx bytes";
  std::string model_id;
  {
    auto repository = OpenOrDie(dir.path());
    ASSERT_NE(repository, nullptr);
    model_id = repository->AddModel("m", onnx, Sha256Hex(onnx), TinySummary())->id();
    v1::SpeedupReport speedup;
    speedup.set_throughput_speedup(2.5);
    ASSERT_TRUE(repository
                    ->AddInt8Version(model_id, "job_a", "t", std::nullopt, speedup, std::nullopt,
                                     /*simulated=*/false, {}, PartialCoverage())
                    .ok());
  }
  auto repository = OpenOrDie(dir.path());
  ASSERT_NE(repository, nullptr);
  const v1::ModelVersion version = repository->GetModel(model_id)->versions(1);
  EXPECT_DOUBLE_EQ(version.speedup().throughput_speedup(), 2.5);
  EXPECT_DOUBLE_EQ(version.int8_coverage().mac_share(), 0.75);
}

}  // namespace
}  // namespace quantd::server
