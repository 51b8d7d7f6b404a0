#include "server/storage/repository.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/status_macros.h"
#include "server/storage/atomic_file.h"
#include "server/storage/resource_id.h"
#include "server/wire/proto_conversion.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;

// Dataset files hold the in-memory representation verbatim.
static_assert(std::endian::native == std::endian::little,
              "dataset files are little-endian; add byte swapping for this platform");

constexpr char kModelFile[] = "model.onnx";
constexpr char kCalibrationFile[] = "calibration.tsv";
constexpr char kCalibrationJsonFile[] = "calibration.json";
constexpr char kQdqModelFile[] = "model.qdq.onnx";
constexpr char kSamplesFile[] = "samples.f32";
constexpr char kLabelsFile[] = "labels.i32";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS models (
  id TEXT PRIMARY KEY,
  created_unix_ms INTEGER NOT NULL,
  model BLOB NOT NULL              -- quantd.v1.Model without versions
);
CREATE TABLE IF NOT EXISTS model_versions (
  model_id TEXT NOT NULL REFERENCES models(id),
  version INTEGER NOT NULL,
  precision INTEGER NOT NULL,      -- quantd.v1.Precision
  created_by_job_id TEXT NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  accuracy BLOB,                   -- quantd.v1.AccuracyReport, NULL if not evaluated
  speedup BLOB,                    -- quantd.v1.SpeedupReport, NULL for FP32 and simulated
  options BLOB,                    -- quantd.v1.QuantizeModelRequest, NULL for FP32 versions
  simulated INTEGER NOT NULL DEFAULT 0,
  int8_coverage BLOB,              -- quantd.v1.Int8Coverage, NULL for FP32 and simulated
  PRIMARY KEY (model_id, version)
);
-- Numbers of deleted versions, so that a number is never given to a second
-- version of the same model (clients may have pinned it).
CREATE TABLE IF NOT EXISTS deleted_versions (
  model_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (model_id, version)
);
CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY,
  created_unix_ms INTEGER NOT NULL,
  dataset BLOB NOT NULL            -- quantd.v1.Dataset
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  state INTEGER NOT NULL,          -- quantd.v1.JobState, for queries by state
  created_unix_ms INTEGER NOT NULL,
  job BLOB NOT NULL                -- quantd.v1.Job
);
)sql";

template <typename Message>
absl::StatusOr<Message> ParseRow(const std::string& bytes, const std::string& what) {
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat("corrupt ", what, " row in quantd.db"));
  }
  return message;
}

std::string_view AsBytes(const void* data, size_t size) {
  return std::string_view(static_cast<const char*>(data), size);
}

void RemoveDirectoryQuietly(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Databases created before a model_versions column existed get it added.
// Versions stored before the options column existed were quantized with the
// defaults, which is what a NULL options column means.
absl::Status AddVersionColumnIfMissing(SqliteDatabase& db, const std::string& name,
                                       const std::string& definition) {
  ASSIGN_OR_RETURN(
      SqliteStatement * columns,
      db.Prepare(absl::StrCat("SELECT COUNT(*) FROM pragma_table_info('model_versions') "
                              "WHERE name = '",
                              name, "'")));
  ASSIGN_OR_RETURN(const bool row, columns->Step());
  const bool present = row && columns->ColumnInt64(0) > 0;
  columns->Reset();
  if (present) return absl::OkStatus();
  return db.Exec(absl::StrCat("ALTER TABLE model_versions ADD COLUMN ", name, " ", definition));
}

// Removes every entry of `dir` whose name `keep` rejects.
template <typename Keep>
void RemoveEntriesExcept(const fs::path& dir, Keep&& keep) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!keep(it->path().filename().string())) stale.push_back(it->path());
  }
  for (const fs::path& path : stale) RemoveDirectoryQuietly(path);
}

// Moves the entries of `data_dir / dir` whose names `keep` rejects to the same
// place under `quarantine`, created when first needed; returns how many moved.
// Files no row references may still be someone's data (a database restored
// from an older backup, a bug): an operator decides, not the server.
template <typename Keep>
int QuarantineEntriesExcept(const fs::path& data_dir, const fs::path& dir, Keep&& keep,
                            const fs::path& quarantine) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(data_dir / dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!keep(it->path().filename().string())) stale.push_back(it->path());
  }
  int moved = 0;
  for (const fs::path& path : stale) {
    const fs::path target = quarantine / dir / path.filename();
    fs::create_directories(target.parent_path(), ec);
    fs::rename(path, target, ec);
    if (ec) {
      std::cerr << "quantd: could not move unreferenced " << path << " to " << target << ": "
                << ec.message() << std::endl;
    } else {
      ++moved;
    }
  }
  return moved;
}

}  // namespace

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

namespace {

// A dataset's samples and labels as stored: 4 bytes per value.
int64_t StoredBytes(const v1::Dataset& dataset) {
  int64_t values = 1;
  for (const int64_t dim : dataset.sample_shape()) values *= dim;
  return 4 * dataset.num_samples() * (values + (dataset.has_labels() ? 1 : 0));
}

}  // namespace

Repository::Repository(fs::path data_dir, DataDirLock lock, std::unique_ptr<SqliteDatabase> db)
    : data_dir_(std::move(data_dir)), lock_(std::move(lock)), db_(std::move(db)) {}

absl::StatusOr<std::unique_ptr<Repository>> Repository::Open(const fs::path& data_dir) {
  RETURN_IF_ERROR(CreateDirectoriesDurably(data_dir));
  // Before anything is cleaned up: another quantd's in-flight files are not
  // debris.
  ASSIGN_OR_RETURN(DataDirLock lock, DataDirLock::Acquire(data_dir));
  RETURN_IF_ERROR(CreateDirectoriesDurably(data_dir / "models"));
  RETURN_IF_ERROR(CreateDirectoriesDurably(data_dir / "datasets"));
  RETURN_IF_ERROR(CreateDirectoriesDurably(data_dir / "uploads"));
  RemoveStaleTempFiles(data_dir);
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDatabase> db,
                   SqliteDatabase::Open((data_dir / "quantd.db").string()));
  RETURN_IF_ERROR(db->Exec(kSchema));
  RETURN_IF_ERROR(AddVersionColumnIfMissing(*db, "speedup", "BLOB"));
  RETURN_IF_ERROR(AddVersionColumnIfMissing(*db, "options", "BLOB"));
  RETURN_IF_ERROR(AddVersionColumnIfMissing(*db, "simulated", "INTEGER NOT NULL DEFAULT 0"));
  RETURN_IF_ERROR(AddVersionColumnIfMissing(*db, "int8_coverage", "BLOB"));
  std::unique_ptr<Repository> repository(new Repository(data_dir, std::move(lock), std::move(db)));
  {
    absl::MutexLock lock(&repository->mu_);
    RETURN_IF_ERROR(repository->LoadModelsAndDatasets());
    repository->RemoveUnreferencedFiles();
  }
  return repository;
}

void Repository::RemoveUnreferencedFiles() {
  // Nothing is in flight while the repository opens: every upload scratch
  // file is an interrupted transfer and goes. Model, version and dataset
  // directories without a database row (files are written before their row
  // commits, and deleted after it is removed) are usually debris of a crash,
  // but are kept aside in quarantine/<time>/ rather than deleted.
  RemoveEntriesExcept(scratch_dir(), [](const std::string&) { return false; });
  const fs::path quarantine = data_dir_ / "quarantine" /
                              absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
  int moved = QuarantineEntriesExcept(
      data_dir_, "datasets", [&](const std::string& id) { return datasets_.contains(id); },
      quarantine);
  moved += QuarantineEntriesExcept(
      data_dir_, "models", [&](const std::string& id) { return models_.contains(id); }, quarantine);
  for (const auto& [id, model] : models_) {
    // A named reference: C++20 lambdas may not capture a structured binding
    // in every compiler (clang 14).
    const v1::Model& stored = model;
    moved += QuarantineEntriesExcept(
        data_dir_, fs::path("models") / id,
        [&](const std::string& name) {
          for (const v1::ModelVersion& v : stored.versions()) {
            if (name == absl::StrCat("v", v.version())) return true;
          }
          return false;
        },
        quarantine);
  }
  if (moved > 0) {
    std::cerr << "quantd: moved " << moved
              << " model, version or dataset directories that no database row references to "
              << quarantine << " (delete them once you know they are not needed)" << std::endl;
  }
}

absl::Status Repository::LoadModelsAndDatasets() {
  ASSIGN_OR_RETURN(SqliteStatement * models,
                   db_->Prepare("SELECT id, model FROM models ORDER BY created_unix_ms, rowid"));
  while (true) {
    ASSIGN_OR_RETURN(const bool row, models->Step());
    if (!row) break;
    ASSIGN_OR_RETURN(v1::Model model, ParseRow<v1::Model>(models->ColumnBlob(1), "models"));
    creation_order_[models->ColumnText(0)] = next_creation_++;
    models_[models->ColumnText(0)] = std::move(model);
  }
  ASSIGN_OR_RETURN(SqliteStatement * versions,
                   db_->Prepare("SELECT model_id, version, precision, created_by_job_id, "
                                "created_unix_ms, accuracy, speedup, options, simulated, "
                                "int8_coverage FROM model_versions "
                                "ORDER BY model_id, version"));
  while (true) {
    ASSIGN_OR_RETURN(const bool row, versions->Step());
    if (!row) break;
    auto it = models_.find(versions->ColumnText(0));
    if (it == models_.end()) continue;
    v1::ModelVersion* version = it->second.add_versions();
    version->set_version(static_cast<int32_t>(versions->ColumnInt64(1)));
    version->set_precision(static_cast<v1::Precision>(versions->ColumnInt64(2)));
    version->set_created_by_job_id(versions->ColumnText(3));
    version->set_created_unix_ms(versions->ColumnInt64(4));
    const std::string accuracy = versions->ColumnBlob(5);
    if (!accuracy.empty()) {
      ASSIGN_OR_RETURN(*version->mutable_accuracy(),
                       ParseRow<v1::AccuracyReport>(accuracy, "model_versions"));
    }
    const std::string speedup = versions->ColumnBlob(6);
    if (!speedup.empty()) {
      ASSIGN_OR_RETURN(*version->mutable_speedup(),
                       ParseRow<v1::SpeedupReport>(speedup, "model_versions"));
    }
    const std::string options = versions->ColumnBlob(7);
    if (!options.empty()) {
      ASSIGN_OR_RETURN(*version->mutable_options(),
                       ParseRow<v1::QuantizeModelRequest>(options, "model_versions"));
    }
    version->set_simulated(versions->ColumnInt64(8) != 0);
    const std::string coverage = versions->ColumnBlob(9);
    if (!coverage.empty()) {
      ASSIGN_OR_RETURN(*version->mutable_int8_coverage(),
                       ParseRow<v1::Int8Coverage>(coverage, "model_versions"));
    }
  }
  ASSIGN_OR_RETURN(SqliteStatement * deleted,
                   db_->Prepare("SELECT model_id, MAX(version) FROM deleted_versions "
                                "GROUP BY model_id"));
  while (true) {
    ASSIGN_OR_RETURN(const bool row, deleted->Step());
    if (!row) break;
    highest_deleted_version_[deleted->ColumnText(0)] =
        static_cast<int32_t>(deleted->ColumnInt64(1));
  }
  ASSIGN_OR_RETURN(
      SqliteStatement * datasets,
      db_->Prepare("SELECT id, dataset FROM datasets ORDER BY created_unix_ms, rowid"));
  while (true) {
    ASSIGN_OR_RETURN(const bool row, datasets->Step());
    if (!row) break;
    ASSIGN_OR_RETURN(v1::Dataset dataset,
                     ParseRow<v1::Dataset>(datasets->ColumnBlob(1), "datasets"));
    creation_order_[datasets->ColumnText(0)] = next_creation_++;
    datasets_[datasets->ColumnText(0)] = std::move(dataset);
  }
  return absl::OkStatus();
}

fs::path Repository::VersionDir(const std::string& model_id, int32_t version) const {
  return data_dir_ / "models" / std::string(model_id) / absl::StrCat("v", version);
}

fs::path Repository::DatasetDir(const std::string& dataset_id) const {
  return data_dir_ / "datasets" / std::string(dataset_id);
}

absl::Status Repository::InsertVersion(const std::string& model_id,
                                       const v1::ModelVersion& version) {
  ASSIGN_OR_RETURN(SqliteStatement * insert,
                   db_->Prepare("INSERT INTO model_versions (model_id, version, precision, "
                                "created_by_job_id, created_unix_ms, accuracy, speedup, options, "
                                "simulated, int8_coverage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  RETURN_IF_ERROR(insert->BindText(1, model_id));
  RETURN_IF_ERROR(insert->BindInt64(2, version.version()));
  RETURN_IF_ERROR(insert->BindInt64(3, version.precision()));
  RETURN_IF_ERROR(insert->BindText(4, version.created_by_job_id()));
  RETURN_IF_ERROR(insert->BindInt64(5, version.created_unix_ms()));
  if (version.has_accuracy()) {
    RETURN_IF_ERROR(insert->BindBlob(6, version.accuracy().SerializeAsString()));
  }
  if (version.has_speedup()) {
    RETURN_IF_ERROR(insert->BindBlob(7, version.speedup().SerializeAsString()));
  }
  if (version.has_options()) {
    RETURN_IF_ERROR(insert->BindBlob(8, version.options().SerializeAsString()));
  }
  RETURN_IF_ERROR(insert->BindInt64(9, version.simulated() ? 1 : 0));
  if (version.has_int8_coverage()) {
    RETURN_IF_ERROR(insert->BindBlob(10, version.int8_coverage().SerializeAsString()));
  }
  return insert->Execute();
}

absl::StatusOr<v1::Model> Repository::AddModel(const std::string& name, std::string_view onnx_bytes,
                                               const std::string& sha256,
                                               const engine::ModelSummary& summary,
                                               const v1::ModelUploadHeader* image_interface) {
  return AddModelWith(name, static_cast<int64_t>(onnx_bytes.size()), sha256, summary,
                      image_interface,
                      [&](const fs::path& path) { return WriteFileAtomically(path, onnx_bytes); });
}

absl::StatusOr<v1::Model> Repository::AddModelFile(const std::string& name,
                                                   const fs::path& onnx_file, int64_t size_bytes,
                                                   const std::string& sha256,
                                                   const engine::ModelSummary& summary,
                                                   const v1::ModelUploadHeader* image_interface) {
  return AddModelWith(
      name, size_bytes, sha256, summary, image_interface,
      [&](const fs::path& path) { return LinkOrCopyFileAtomically(onnx_file, path); });
}

absl::StatusOr<v1::Model> Repository::AddModelWith(
    const std::string& name, int64_t size_bytes, const std::string& sha256,
    const engine::ModelSummary& summary, const v1::ModelUploadHeader* image_interface,
    const std::function<absl::Status(const fs::path&)>& write_model) {
  v1::Model model;
  model.set_id(NewResourceId(kModelIdPrefix));
  model.set_name(std::string(name));
  model.set_size_bytes(size_bytes);
  model.set_sha256(std::string(sha256));
  model.set_created_unix_ms(NowUnixMs());
  SetModelSummary(summary, model);
  if (image_interface != nullptr) {
    if (image_interface->has_preprocessing()) {
      *model.mutable_preprocessing() = image_interface->preprocessing();
    }
    *model.mutable_labels() = image_interface->labels();
  }

  const fs::path dir = VersionDir(model.id(), 1);
  RETURN_IF_ERROR(CreateDirectoriesDurably(dir));
  if (absl::Status s = write_model(dir / kModelFile); !s.ok()) {
    RemoveDirectoryQuietly(dir.parent_path());
    return s;
  }

  v1::ModelVersion version;
  version.set_version(1);
  version.set_precision(v1::FP32);
  version.set_created_unix_ms(model.created_unix_ms());

  absl::MutexLock lock(&mu_);
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::Begin(db_.get()));
    ASSIGN_OR_RETURN(SqliteStatement * insert,
                     db_->Prepare("INSERT INTO models (id, created_unix_ms, model) "
                                  "VALUES (?, ?, ?)"));
    RETURN_IF_ERROR(insert->BindText(1, model.id()));
    RETURN_IF_ERROR(insert->BindInt64(2, model.created_unix_ms()));
    RETURN_IF_ERROR(insert->BindBlob(3, model.SerializeAsString()));
    RETURN_IF_ERROR(insert->Execute());
    RETURN_IF_ERROR(InsertVersion(model.id(), version));
    return transaction.Commit();
  }();
  if (!status.ok()) {
    RemoveDirectoryQuietly(dir.parent_path());
    return status;
  }
  *model.add_versions() = version;
  creation_order_[model.id()] = next_creation_++;
  models_[model.id()] = model;
  return model;
}

absl::StatusOr<v1::Model> Repository::GetModel(const std::string& model_id) const {
  absl::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("model '", model_id, "' not found"));
  }
  return it->second;
}

bool Repository::HasVersion(const std::string& model_id, int32_t version) const {
  absl::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) return false;
  for (const v1::ModelVersion& v : it->second.versions()) {
    if (v.version() == version) return true;
  }
  return false;
}

namespace {

// Models or datasets oldest first: by creation time, ties in creation order.
template <typename T>
std::vector<T> OldestFirst(const std::map<std::string, T, std::less<>>& items,
                           const std::map<std::string, int64_t, std::less<>>& creation_order) {
  std::vector<const T*> sorted;
  for (const auto& [id, item] : items) sorted.push_back(&item);
  std::sort(sorted.begin(), sorted.end(), [&](const T* a, const T* b) {
    return std::pair(a->created_unix_ms(), creation_order.at(a->id())) <
           std::pair(b->created_unix_ms(), creation_order.at(b->id()));
  });
  std::vector<T> out;
  for (const T* item : sorted) out.push_back(*item);
  return out;
}

}  // namespace

std::vector<v1::Model> Repository::ListModels() const {
  absl::MutexLock lock(&mu_);
  return OldestFirst(models_, creation_order_);
}

std::vector<v1::Model> Repository::FindModelsNamed(std::string_view name) const {
  std::vector<v1::Model> models = ListModels();
  std::erase_if(models, [&](const v1::Model& model) { return model.name() != name; });
  return models;
}

absl::StatusOr<v1::ModelVersion> Repository::FindVersion(const std::string& model_id,
                                                         int32_t version) const {
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("model '", model_id, "' not found"));
  }
  for (const v1::ModelVersion& v : it->second.versions()) {
    if (v.version() == version) return v;
  }
  return absl::NotFoundError(absl::StrCat("model '", model_id, "' has no version ", version));
}

absl::StatusOr<MappedFile> Repository::ReadModelFile(const std::string& model_id,
                                                     int32_t version) const {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(FindVersion(model_id, version).status());
  }
  // Published files never change, so they are read without the lock.
  return MappedFile::Open(VersionDir(model_id, version) / kModelFile);
}

absl::StatusOr<std::string> Repository::ReadCalibrationTable(const std::string& model_id,
                                                             int32_t version) const {
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(const v1::ModelVersion found, FindVersion(model_id, version));
    if (found.precision() != v1::INT8) {
      return absl::FailedPreconditionError(absl::StrCat("model '", model_id, "' version ", version,
                                                        " is not INT8 and has no calibration"));
    }
  }
  return ReadFileToString(VersionDir(model_id, version) / kCalibrationFile);
}

absl::StatusOr<v1::ModelVersion> Repository::AddInt8Version(
    const std::string& model_id, const std::string& job_id, std::string_view calibration_table,
    const std::optional<v1::AccuracyReport>& accuracy,
    const std::optional<v1::SpeedupReport>& speedup,
    const std::optional<v1::QuantizeModelRequest>& options, bool simulated,
    const VersionExports& exports, const std::optional<v1::Int8Coverage>& int8_coverage,
    const std::function<v1::Job(const v1::ModelVersion&)>& ended_job) {
  // Holding the lock across the file writes keeps version numbers unique when
  // two jobs for one model finish together; the files are small next to the
  // ONNX model, which is hard-linked rather than copied.
  absl::MutexLock lock(&mu_);
  auto it = models_.find(model_id);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("model '", model_id, "' not found"));
  }
  int32_t next = 1;
  for (const v1::ModelVersion& v : it->second.versions()) next = std::max(next, v.version() + 1);
  if (auto deleted = highest_deleted_version_.find(model_id);
      deleted != highest_deleted_version_.end()) {
    next = std::max(next, deleted->second + 1);
  }

  v1::ModelVersion version;
  version.set_version(next);
  version.set_precision(v1::INT8);
  version.set_created_by_job_id(std::string(job_id));
  version.set_created_unix_ms(NowUnixMs());
  if (accuracy.has_value()) *version.mutable_accuracy() = *accuracy;
  if (speedup.has_value()) *version.mutable_speedup() = *speedup;
  if (options.has_value()) *version.mutable_options() = *options;
  version.set_simulated(simulated);
  if (int8_coverage.has_value()) *version.mutable_int8_coverage() = *int8_coverage;

  const fs::path dir = VersionDir(model_id, next);
  // A directory without a database row is debris of an earlier crash.
  RemoveDirectoryQuietly(dir);
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(CreateDirectoriesDurably(dir));
    RETURN_IF_ERROR(
        LinkOrCopyFileAtomically(VersionDir(model_id, 1) / kModelFile, dir / kModelFile));
    RETURN_IF_ERROR(WriteFileAtomically(dir / kCalibrationFile, calibration_table));
    if (!exports.calibration_json.empty()) {
      RETURN_IF_ERROR(WriteFileAtomically(dir / kCalibrationJsonFile, exports.calibration_json));
    }
    if (exports.qdq_model.has_value()) {
      RETURN_IF_ERROR(WriteFileAtomically(dir / kQdqModelFile, *exports.qdq_model));
    }
    ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::Begin(db_.get()));
    RETURN_IF_ERROR(InsertVersion(model_id, version));
    if (ended_job) RETURN_IF_ERROR(SaveJobLocked(ended_job(version)));
    return transaction.Commit();
  }();
  if (!status.ok()) {
    RemoveDirectoryQuietly(dir);
    return status;
  }
  *it->second.add_versions() = version;
  return version;
}

absl::StatusOr<v1::Dataset> Repository::AddDataset(const std::string& name,
                                                   const engine::Dataset& data,
                                                   v1::DatasetFormat format,
                                                   const v1::PreprocessingSpec* preprocessing,
                                                   int64_t max_stored_bytes) {
  if (data.samples.size() != static_cast<size_t>(data.num_samples * data.SampleSize()) ||
      (data.has_labels() && data.labels.size() != static_cast<size_t>(data.num_samples))) {
    return absl::InternalError("dataset to store is inconsistent with its own sizes");
  }
  v1::Dataset dataset;
  dataset.set_id(NewResourceId(kDatasetIdPrefix));
  dataset.set_name(std::string(name));
  dataset.set_num_samples(data.num_samples);
  dataset.mutable_sample_shape()->Add(data.sample_shape.begin(), data.sample_shape.end());
  dataset.set_has_labels(data.has_labels());
  dataset.set_created_unix_ms(NowUnixMs());
  dataset.set_format(format);
  if (preprocessing != nullptr) *dataset.mutable_preprocessing() = *preprocessing;

  const int64_t bytes = StoredBytes(dataset);
  {
    absl::MutexLock lock(&mu_);
    int64_t stored = reserved_dataset_bytes_;
    for (const auto& entry : datasets_) stored += StoredBytes(entry.second);
    if (bytes > max_stored_bytes - stored) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "storing this dataset (", bytes, " bytes as float32) would bring the datasets kept to ",
          stored + bytes, " bytes, over --max_stored_dataset_bytes (", max_stored_bytes,
          "); delete datasets that are no longer needed"));
    }
    reserved_dataset_bytes_ += bytes;
  }
  const fs::path dir = DatasetDir(dataset.id());
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(CreateDirectoriesDurably(dir));
    RETURN_IF_ERROR(WriteFileAtomically(
        dir / kSamplesFile, AsBytes(data.samples.data(), data.samples.size() * sizeof(float))));
    if (data.has_labels()) {
      RETURN_IF_ERROR(WriteFileAtomically(
          dir / kLabelsFile, AsBytes(data.labels.data(), data.labels.size() * sizeof(int32_t))));
    }
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(SqliteStatement * insert,
                     db_->Prepare("INSERT INTO datasets (id, created_unix_ms, dataset) "
                                  "VALUES (?, ?, ?)"));
    RETURN_IF_ERROR(insert->BindText(1, dataset.id()));
    RETURN_IF_ERROR(insert->BindInt64(2, dataset.created_unix_ms()));
    RETURN_IF_ERROR(insert->BindBlob(3, dataset.SerializeAsString()));
    RETURN_IF_ERROR(insert->Execute());
    creation_order_[dataset.id()] = next_creation_++;
    datasets_[dataset.id()] = dataset;
    reserved_dataset_bytes_ -= bytes;
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    RemoveDirectoryQuietly(dir);
    absl::MutexLock lock(&mu_);
    reserved_dataset_bytes_ -= bytes;
    return status;
  }
  return dataset;
}

absl::StatusOr<v1::Dataset> Repository::GetDataset(const std::string& dataset_id) const {
  absl::MutexLock lock(&mu_);
  auto it = datasets_.find(dataset_id);
  if (it == datasets_.end()) {
    return absl::NotFoundError(absl::StrCat("dataset '", dataset_id, "' not found"));
  }
  return it->second;
}

std::vector<v1::Dataset> Repository::ListDatasets() const {
  absl::MutexLock lock(&mu_);
  return OldestFirst(datasets_, creation_order_);
}

absl::Status Repository::DeleteModel(const std::string& model_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!models_.contains(model_id)) {
      return absl::NotFoundError(absl::StrCat("model '", model_id, "' not found"));
    }
    ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::Begin(db_.get()));
    for (const char* sql :
         {"DELETE FROM model_versions WHERE model_id = ?",
          "DELETE FROM deleted_versions WHERE model_id = ?", "DELETE FROM models WHERE id = ?"}) {
      ASSIGN_OR_RETURN(SqliteStatement * remove, db_->Prepare(sql));
      RETURN_IF_ERROR(remove->BindText(1, model_id));
      RETURN_IF_ERROR(remove->Execute());
    }
    RETURN_IF_ERROR(transaction.Commit());
    models_.erase(models_.find(model_id));
    creation_order_.erase(model_id);
    highest_deleted_version_.erase(model_id);
  }
  // Rows first, files after: a crash in between leaves unreferenced files,
  // which the next Open() removes, never a row whose files are gone.
  RemoveDirectoryQuietly(data_dir_ / "models" / model_id);
  return absl::OkStatus();
}

absl::Status Repository::DeleteVersion(const std::string& model_id, int32_t version) {
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(const v1::ModelVersion found, FindVersion(model_id, version));
    if (found.version() == 1) {
      return absl::FailedPreconditionError(
          absl::StrCat("version 1 of model '", model_id,
                       "' is the fp32 original the other versions derive from; "
                       "delete the whole model with DeleteModel"));
    }
    ASSIGN_OR_RETURN(SqliteTransaction transaction, SqliteTransaction::Begin(db_.get()));
    ASSIGN_OR_RETURN(SqliteStatement * remove,
                     db_->Prepare("DELETE FROM model_versions WHERE model_id = ? AND version = ?"));
    RETURN_IF_ERROR(remove->BindText(1, model_id));
    RETURN_IF_ERROR(remove->BindInt64(2, version));
    RETURN_IF_ERROR(remove->Execute());
    ASSIGN_OR_RETURN(SqliteStatement * retire,
                     db_->Prepare("INSERT OR IGNORE INTO deleted_versions (model_id, version) "
                                  "VALUES (?, ?)"));
    RETURN_IF_ERROR(retire->BindText(1, model_id));
    RETURN_IF_ERROR(retire->BindInt64(2, version));
    RETURN_IF_ERROR(retire->Execute());
    RETURN_IF_ERROR(transaction.Commit());
    auto* versions = models_.find(model_id)->second.mutable_versions();
    for (auto it = versions->begin(); it != versions->end(); ++it) {
      if (it->version() == version) {
        versions->erase(it);
        break;
      }
    }
    int32_t& highest = highest_deleted_version_[model_id];
    highest = std::max(highest, version);
  }
  RemoveDirectoryQuietly(VersionDir(model_id, version));
  return absl::OkStatus();
}

absl::Status Repository::DeleteDataset(const std::string& dataset_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!datasets_.contains(dataset_id)) {
      return absl::NotFoundError(absl::StrCat("dataset '", dataset_id, "' not found"));
    }
    ASSIGN_OR_RETURN(SqliteStatement * remove, db_->Prepare("DELETE FROM datasets WHERE id = ?"));
    RETURN_IF_ERROR(remove->BindText(1, dataset_id));
    RETURN_IF_ERROR(remove->Execute());
    datasets_.erase(datasets_.find(dataset_id));
    creation_order_.erase(dataset_id);
  }
  RemoveDirectoryQuietly(DatasetDir(dataset_id));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Repository::Artifact>> Repository::ListArtifacts(
    const std::string& model_id, int32_t version) const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const v1::ModelVersion found, FindVersion(model_id, version));
  const fs::path dir = VersionDir(model_id, version);
  std::vector<Artifact> artifacts = {{v1::ONNX_MODEL, kModelFile, dir / kModelFile}};
  if (found.precision() == v1::INT8) {
    artifacts.push_back({v1::CALIBRATION_TABLE, kCalibrationFile, dir / kCalibrationFile});
    // Written at publish time or never: their presence is the record.
    for (const auto& [kind, name] : {std::pair{v1::QDQ_MODEL, kQdqModelFile},
                                     std::pair{v1::CALIBRATION_JSON, kCalibrationJsonFile}}) {
      std::error_code ec;
      if (fs::exists(dir / name, ec)) artifacts.push_back({kind, name, dir / name});
    }
  }
  return artifacts;
}

absl::StatusOr<engine::Dataset> Repository::LoadDataset(const std::string& dataset_id) const {
  ASSIGN_OR_RETURN(const v1::Dataset meta, GetDataset(dataset_id));
  engine::Dataset data;
  data.sample_shape.assign(meta.sample_shape().begin(), meta.sample_shape().end());
  data.num_samples = meta.num_samples();
  const fs::path dir = DatasetDir(dataset_id);

  ASSIGN_OR_RETURN(const std::string samples, ReadFileToString(dir / kSamplesFile));
  const size_t expected_floats = static_cast<size_t>(data.num_samples * data.SampleSize());
  if (samples.size() != expected_floats * sizeof(float)) {
    return absl::DataLossError(absl::StrCat("dataset '", dataset_id, "': ", kSamplesFile, " holds ",
                                            samples.size(), " bytes, expected ",
                                            expected_floats * sizeof(float)));
  }
  data.samples.resize(expected_floats);
  std::memcpy(data.samples.data(), samples.data(), samples.size());

  if (meta.has_labels()) {
    ASSIGN_OR_RETURN(const std::string labels, ReadFileToString(dir / kLabelsFile));
    if (labels.size() != static_cast<size_t>(data.num_samples) * sizeof(int32_t)) {
      return absl::DataLossError(absl::StrCat("dataset '", dataset_id, "': ", kLabelsFile,
                                              " holds ", labels.size(), " bytes, expected ",
                                              data.num_samples * sizeof(int32_t)));
    }
    data.labels.resize(static_cast<size_t>(data.num_samples));
    std::memcpy(data.labels.data(), labels.data(), labels.size());
  }
  return data;
}

absl::Status Repository::SaveJob(const v1::Job& job) {
  absl::MutexLock lock(&mu_);
  return SaveJobLocked(job);
}

absl::Status Repository::SaveJobLocked(const v1::Job& job) {
  // A stored end is final: a later save of the same job (a cancel request
  // racing the transaction that published its version) does not undo it.
  static_assert(v1::SUCCEEDED == 3 && v1::FAILED == 4 && v1::CANCELLED == 5);
  ASSIGN_OR_RETURN(SqliteStatement * upsert,
                   db_->Prepare("INSERT INTO jobs (id, state, created_unix_ms, job) "
                                "VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                                "state = excluded.state, job = excluded.job "
                                "WHERE jobs.state NOT IN (3, 4, 5)"));
  RETURN_IF_ERROR(upsert->BindText(1, job.id()));
  RETURN_IF_ERROR(upsert->BindInt64(2, job.state()));
  RETURN_IF_ERROR(upsert->BindInt64(3, job.created_unix_ms()));
  RETURN_IF_ERROR(upsert->BindBlob(4, job.SerializeAsString()));
  return upsert->Execute();
}

absl::Status Repository::DeleteJob(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SqliteStatement * remove, db_->Prepare("DELETE FROM jobs WHERE id = ?"));
  RETURN_IF_ERROR(remove->BindText(1, job_id));
  return remove->Execute();
}

absl::StatusOr<std::vector<v1::Job>> Repository::LoadJobs() const {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SqliteStatement * select,
                   db_->Prepare("SELECT job FROM jobs ORDER BY created_unix_ms, rowid"));
  std::vector<v1::Job> jobs;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select->Step());
    if (!row) break;
    ASSIGN_OR_RETURN(v1::Job job, ParseRow<v1::Job>(select->ColumnBlob(0), "jobs"));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace quantd::server
