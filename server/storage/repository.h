#ifndef QUANTD_SERVER_STORAGE_REPOSITORY_H_
#define QUANTD_SERVER_STORAGE_REPOSITORY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/data/dataset.h"
#include "engine/graph/model_summary.h"
#include "quantd/v1/quantd.pb.h"
#include "server/storage/data_dir_lock.h"
#include "server/storage/mapped_file.h"
#include "server/storage/sqlite_database.h"

namespace quantd::server {

// Everything the server keeps under --data_dir:
//
//   quantd.db                          SQLite (WAL): models, versions (with their
//                                      quantization options), datasets, jobs
//   models/<model_id>/v<N>/model.onnx  the fp32 ONNX file (hard-linked into int8 versions)
//   models/<model_id>/v<N>/calibration.tsv   int8 versions: CalibrationTable text
//   models/<model_id>/v<N>/calibration.json  int8 versions: ranges, scales, zero points
//   models/<model_id>/v<N>/model.qdq.onnx    non-simulated int8 versions: QDQ ONNX
//                                      (versions published before these exports have neither)
//   datasets/<dataset_id>/samples.f32  decoded samples, little-endian float32
//   datasets/<dataset_id>/labels.i32   labels, little-endian int32 (if any)
//   uploads/                           scratch files while an upload is decoded
//
// Files are written atomically before the database row that makes them
// visible is committed, and deleted only after their row is removed, so a
// crash leaves at worst an unreferenced directory (removed by the next
// Open()), never a visible half-written or missing artifact. Thread-safe: one mutex serializes
// every database access.
// Files an INT8 version carries for other runtimes (docs/decisions/0007).
struct VersionExports {
  std::optional<std::string> qdq_model;  // non-simulated versions only
  std::string calibration_json;          // empty: none written
};

class Repository {
 public:
  static absl::StatusOr<std::unique_ptr<Repository>> Open(const std::filesystem::path& data_dir);

  Repository(const Repository&) = delete;
  Repository& operator=(const Repository&) = delete;

  const std::filesystem::path& data_dir() const { return data_dir_; }
  // For short-lived files of uploads in progress (data_dir/uploads).
  std::filesystem::path scratch_dir() const { return data_dir_ / "uploads"; }

  // Stores a validated upload as a new model with version 1 (FP32). The
  // preprocessing spec and labels of `image_interface` (the upload header),
  // when given, are kept with the model.
  absl::StatusOr<v1::Model> AddModel(const std::string& name, std::string_view onnx_bytes,
                                     const std::string& sha256, const engine::ModelSummary& summary,
                                     const v1::ModelUploadHeader* image_interface = nullptr);
  // The same for an upload already on disk (`onnx_file`, `size_bytes` long,
  // on the data directory's file system): it is linked into place, not copied.
  absl::StatusOr<v1::Model> AddModelFile(const std::string& name,
                                         const std::filesystem::path& onnx_file, int64_t size_bytes,
                                         const std::string& sha256,
                                         const engine::ModelSummary& summary,
                                         const v1::ModelUploadHeader* image_interface = nullptr);
  // NOT_FOUND `model 'x' not found` for an unknown id.
  absl::StatusOr<v1::Model> GetModel(const std::string& model_id) const;
  // Whether the model has that version now (cheap: copies nothing).
  bool HasVersion(const std::string& model_id, int32_t version) const;
  // Oldest first.
  std::vector<v1::Model> ListModels() const;
  // The models uploaded under `name` (names need not be unique), oldest first.
  std::vector<v1::Model> FindModelsNamed(std::string_view name) const;
  // The ONNX bytes of one version of a model, mapped from its file (a
  // model's bytes are not copied onto the heap to be parsed).
  absl::StatusOr<MappedFile> ReadModelFile(const std::string& model_id, int32_t version) const;
  // The calibration table text of an INT8 version.
  absl::StatusOr<std::string> ReadCalibrationTable(const std::string& model_id,
                                                   int32_t version) const;
  // Publishes the next version of a model as INT8: the fp32 ONNX of version 1
  // plus `calibration_table`, quantized as `options` says (unset: the
  // defaults), with the reports of the job that made it (`int8_coverage`:
  // non-simulated versions only). Atomic: either the whole version appears or none.
  // Version numbers are never reused, not even those of deleted versions.
  // `ended_job`, when given, makes the row of the job that published the
  // version (its final state) from the version; it is saved in the same
  // transaction, so that no crash leaves a version whose job is not ended.
  absl::StatusOr<v1::ModelVersion> AddInt8Version(
      const std::string& model_id, const std::string& job_id, std::string_view calibration_table,
      const std::optional<v1::AccuracyReport>& accuracy,
      const std::optional<v1::SpeedupReport>& speedup = std::nullopt,
      const std::optional<v1::QuantizeModelRequest>& options = std::nullopt, bool simulated = false,
      const VersionExports& exports = {},
      const std::optional<v1::Int8Coverage>& int8_coverage = std::nullopt,
      const std::function<v1::Job(const v1::ModelVersion&)>& ended_job = nullptr);

  // Deletes a model with every version: rows, then files. NOT_FOUND for an
  // unknown id. Callers check that no job still needs the model.
  absl::Status DeleteModel(const std::string& model_id);
  // Deletes one version (>= 2); FAILED_PRECONDITION for version 1, the
  // original every other version is built from.
  absl::Status DeleteVersion(const std::string& model_id, int32_t version);

  // A stored file of a model version, for download.
  struct Artifact {
    v1::ArtifactKind kind;
    std::string file_name;
    std::filesystem::path path;
  };
  // The version's artifacts in ArtifactKind order, those it has (QDQ_MODEL
  // and CALIBRATION_JSON only if published with them). Published files never
  // change; a reader that opened one keeps it even if the version is deleted.
  absl::StatusOr<std::vector<Artifact>> ListArtifacts(const std::string& model_id,
                                                      int32_t version) const;

  // `format` and `preprocessing` record how the samples were made (Dataset
  // proto); the stored samples are always the canonical float32 ones.
  // RESOURCE_EXHAUSTED when the datasets kept (with those being stored at
  // the same time) would exceed `max_stored_bytes` (--max_stored_dataset_bytes).
  absl::StatusOr<v1::Dataset> AddDataset(
      const std::string& name, const engine::Dataset& data,
      v1::DatasetFormat format = v1::DATASET_FORMAT_UNSPECIFIED,
      const v1::PreprocessingSpec* preprocessing = nullptr,
      int64_t max_stored_bytes = std::numeric_limits<int64_t>::max());
  // NOT_FOUND `dataset 'x' not found` for an unknown id.
  absl::StatusOr<v1::Dataset> GetDataset(const std::string& dataset_id) const;
  // Oldest first.
  std::vector<v1::Dataset> ListDatasets() const;
  // Deletes the row, then the files. Callers check that no job still needs it.
  absl::Status DeleteDataset(const std::string& dataset_id);
  absl::StatusOr<engine::Dataset> LoadDataset(const std::string& dataset_id) const;

  // Inserts or replaces the stored job.
  absl::Status SaveJob(const v1::Job& job);
  absl::Status DeleteJob(const std::string& job_id);
  // Every stored job, oldest first.
  absl::StatusOr<std::vector<v1::Job>> LoadJobs() const;

 private:
  Repository(std::filesystem::path data_dir, DataDirLock lock, std::unique_ptr<SqliteDatabase> db);

  absl::Status LoadModelsAndDatasets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leftovers of a crash: upload scratch files, and model, version and
  // dataset directories that no database row references.
  void RemoveUnreferencedFiles() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::filesystem::path VersionDir(const std::string& model_id, int32_t version) const;
  // AddModel and AddModelFile: `write_model` puts the ONNX file at the path
  // it is given.
  absl::StatusOr<v1::Model> AddModelWith(
      const std::string& name, int64_t size_bytes, const std::string& sha256,
      const engine::ModelSummary& summary, const v1::ModelUploadHeader* image_interface,
      const std::function<absl::Status(const std::filesystem::path&)>& write_model);
  std::filesystem::path DatasetDir(const std::string& dataset_id) const;
  absl::StatusOr<v1::ModelVersion> FindVersion(const std::string& model_id, int32_t version) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertVersion(const std::string& model_id, const v1::ModelVersion& version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SaveJobLocked(const v1::Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::filesystem::path data_dir_;
  const DataDirLock lock_;  // held while the repository is open
  mutable absl::Mutex mu_;
  std::unique_ptr<SqliteDatabase> db_ ABSL_GUARDED_BY(mu_);
  // Mirrors of the database rows, so reads never touch SQLite.
  std::map<std::string, v1::Model, std::less<>> models_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Dataset, std::less<>> datasets_ ABSL_GUARDED_BY(mu_);
  // Creation order of models and datasets (their ids never collide: mdl_ and
  // ds_ prefixes), for "oldest first" listings: timestamps tie within a
  // millisecond, ids are random. Loaded in (created_unix_ms, rowid) order.
  std::map<std::string, int64_t, std::less<>> creation_order_ ABSL_GUARDED_BY(mu_);
  int64_t next_creation_ ABSL_GUARDED_BY(mu_) = 0;
  // Bytes of datasets being written, not yet in datasets_.
  int64_t reserved_dataset_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Per model, the highest version number ever deleted (deleted_versions).
  std::map<std::string, int32_t, std::less<>> highest_deleted_version_ ABSL_GUARDED_BY(mu_);
};

// The current time as the proto's *_unix_ms fields store it.
int64_t NowUnixMs();

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_REPOSITORY_H_
