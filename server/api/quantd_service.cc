#include "server/api/quantd_service.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "engine/status_macros.h"
#include "server/api/dataset_upload.h"
#include "server/api/grpc_status.h"
#include "server/api/infer_request_validator.h"
#include "server/api/model_upload.h"
#include "server/api/pagination.h"
#include "server/api/quantize_request_validator.h"
#include "server/api/recorded_infer.h"
#include "server/serving/session_loader.h"
#include "server/storage/atomic_file.h"
#include "server/storage/mapped_file.h"
#include "server/storage/resource_id.h"
#include "server/wire/image_inference.h"
#include "server/wire/proto_conversion.h"

namespace quantd::server {
namespace {

// How often a WatchJob stream without news checks whether its client left.
constexpr absl::Duration kWatchPollInterval = absl::Milliseconds(250);

// DownloadVersion chunk size: well under gRPC's default 4 MiB message limit
// of clients.
constexpr size_t kDownloadChunkBytes = size_t{1} << 20;

bool IsActive(const v1::Job& job) {
  return job.state() == v1::QUEUED || job.state() == v1::RUNNING;
}

absl::Status RequireId(const std::string& value, const char* field) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  return absl::OkStatus();
}

template <typename Message>
StreamReader<Message> ReadFrom(grpc::ServerReader<Message>* reader) {
  return [reader](Message& message) { return reader->Read(&message); };
}

}  // namespace

grpc::Status QuantdService::UploadModel(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::UploadModelRequest>* reader,
                                        v1::Model* response) {
  return Authorized(*access_, context, Permission::kBuild, "UploadModel",
                    [&] { return DoUploadModel(reader, response); });
}

absl::Status QuantdService::DoUploadModel(grpc::ServerReader<v1::UploadModelRequest>* reader,
                                          v1::Model* response) {
  ASSIGN_OR_RETURN(const AdmissionBudget::Taken upload, uploads_.Take());
  ASSIGN_OR_RETURN(ValidatedModel model,
                   ReceiveAndValidateModel(ReadFrom(reader), config_.max_model_bytes,
                                           repository_->scratch_dir()));
  const ReceivedModel& received = model.received;
  ASSIGN_OR_RETURN(*response,
                   repository_->AddModelFile(received.header.name(), received.file->path(),
                                             received.file->size(), received.header.sha256(),
                                             model.summary, &received.header));
  return absl::OkStatus();
}

grpc::Status QuantdService::ListModels(grpc::ServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) {
  return Authorized(*access_, context, Permission::kReadModels, "ListModels", [&] {
    ASSIGN_OR_RETURN(std::vector<v1::Model> page,
                     Page(repository_->ListModels(), request->page_size(), request->page_token(),
                          *response->mutable_next_page_token()));
    for (v1::Model& model : page) *response->add_models() = std::move(model);
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::GetModel(grpc::ServerContext* context,
                                     const v1::GetModelRequest* request, v1::Model* response) {
  return Authorized(*access_, context, Permission::kReadModels, "GetModel", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, repository_->GetModel(request->model_id()));
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::UploadDataset(grpc::ServerContext* context,
                                          grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                          v1::Dataset* response) {
  return Authorized(*access_, context, Permission::kBuild, "UploadDataset",
                    [&] { return DoUploadDataset(reader, response); });
}

absl::Status QuantdService::DoUploadDataset(grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                            v1::Dataset* response) {
  ASSIGN_OR_RETURN(const AdmissionBudget::Taken upload, uploads_.Take());
  ASSIGN_OR_RETURN(const ReceivedDataset received,
                   ReceiveDatasetUpload(ReadFrom(reader), config_.max_dataset_bytes,
                                        repository_->scratch_dir()));
  ASSIGN_OR_RETURN(const engine::Dataset data,
                   DecodeDataset(received, repository_->scratch_dir(), config_.max_dataset_bytes));
  const v1::DatasetUploadHeader& header = received.header;
  ASSIGN_OR_RETURN(*response, repository_->AddDataset(
                                  header.name(), data, header.format(),
                                  header.has_preprocessing() ? &header.preprocessing() : nullptr,
                                  config_.max_stored_dataset_bytes));
  return absl::OkStatus();
}

grpc::Status QuantdService::QuantizeModel(grpc::ServerContext* context,
                                          const v1::QuantizeModelRequest* request,
                                          v1::Job* response) {
  return Authorized(*access_, context, Permission::kBuild, "QuantizeModel",
                    [&] { return DoQuantizeModel(*request, response); });
}

absl::Status QuantdService::DoQuantizeModel(const v1::QuantizeModelRequest& request,
                                            v1::Job* response) {
  absl::MutexLock admission(&admission_mu_);
  RETURN_IF_ERROR(ValidateQuantizeRequest(request, *repository_));
  v1::Job job;
  job.set_id(NewResourceId(kJobIdPrefix));
  job.set_model_id(request.model_id());
  job.set_state(v1::QUEUED);
  job.set_created_unix_ms(NowUnixMs());
  *job.mutable_request() = request;
  // Stored before it is queued, so a worker never sees an unknown job.
  RETURN_IF_ERROR(jobs_->Add(job));
  if (absl::Status queued = queue_->Push(job.id()); !queued.ok()) {
    jobs_->Remove(job.id()).IgnoreError();
    return queued;
  }
  *response = std::move(job);
  return absl::OkStatus();
}

grpc::Status QuantdService::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                   v1::Job* response) {
  return Authorized(*access_, context, Permission::kReadAll, "GetJob", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, jobs_->Get(request->job_id()));
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::WatchJob(grpc::ServerContext* context,
                                     const v1::WatchJobRequest* request,
                                     grpc::ServerWriter<v1::Job>* writer) {
  return Authorized(*access_, context, Permission::kReadAll, "WatchJob",
                    [&] { return DoWatchJob(context, request->job_id(), writer); });
}

absl::Status QuantdService::DoWatchJob(grpc::ServerContext* context, const std::string& job_id,
                                       grpc::ServerWriter<v1::Job>* writer) {
  int64_t seen_revision = 0;
  while (true) {
    ASSIGN_OR_RETURN(const JobTracker::Snapshot snapshot,
                     jobs_->WaitForChange(job_id, seen_revision, kWatchPollInterval));
    if (snapshot.revision > seen_revision) {
      seen_revision = snapshot.revision;
      if (!writer->Write(snapshot.job)) {
        return absl::CancelledError(absl::StrCat("WatchJob '", job_id, "': client went away"));
      }
      if (IsTerminal(snapshot.job.state())) return absl::OkStatus();
      continue;
    }
    if (context->IsCancelled()) {
      return absl::CancelledError(absl::StrCat("WatchJob '", job_id, "' cancelled by the client"));
    }
    if (snapshot.shutting_down) {
      return absl::UnavailableError(absl::StrCat("server is shutting down; job '", job_id,
                                                 "' continues after restart, watch it again"));
    }
  }
}

grpc::Status QuantdService::ListJobs(grpc::ServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) {
  return Authorized(*access_, context, Permission::kReadAll, "ListJobs",
                    [&] { return DoListJobs(*request, response); });
}

absl::Status QuantdService::DoListJobs(const v1::ListJobsRequest& request,
                                       v1::ListJobsResponse* response) {
  if (!v1::JobState_IsValid(request.state())) {
    return absl::InvalidArgumentError(
        absl::StrCat("state ", static_cast<int>(request.state()), " is not a JobState"));
  }
  JobFilter filter;
  filter.model_id = request.model_id();
  filter.state = request.state();
  ASSIGN_OR_RETURN(std::vector<v1::Job> page,
                   Page(jobs_->List(filter), request.page_size(), request.page_token(),
                        *response->mutable_next_page_token()));
  for (v1::Job& job : page) *response->add_jobs() = std::move(job);
  return absl::OkStatus();
}

grpc::Status QuantdService::CancelJob(grpc::ServerContext* context,
                                      const v1::CancelJobRequest* request, v1::Job* response) {
  return Authorized(*access_, context, Permission::kBuild, "CancelJob",
                    [&] { return DoCancelJob(request->job_id(), response); });
}

absl::Status QuantdService::DoCancelJob(const std::string& job_id, v1::Job* response) {
  RETURN_IF_ERROR(RequireId(job_id, "job_id"));
  ASSIGN_OR_RETURN(*response, jobs_->RequestCancel(job_id));
  // A job cancelled while QUEUED no longer holds a place in the queue.
  if (response->state() == v1::CANCELLED) queue_->Remove(job_id);
  return absl::OkStatus();
}

absl::Status QuantdService::CheckNoActiveJobUses(
    const std::string& what, const std::function<bool(const v1::Job&)>& uses) const {
  for (const v1::Job& job : jobs_->List()) {
    if (IsActive(job) && uses(job)) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " is used by ", v1::JobState_Name(job.state()), " job '", job.id(),
                       "'; cancel it with CancelJob or wait for it to end"));
    }
  }
  return absl::OkStatus();
}

grpc::Status QuantdService::DeleteModel(grpc::ServerContext* context,
                                        const v1::DeleteModelRequest* request,
                                        v1::DeleteModelResponse*) {
  return Authorized(*access_, context, Permission::kAdmin, "DeleteModel",
                    [&] { return DoDeleteModel(request->model_id()); });
}

absl::Status QuantdService::DoDeleteModel(const std::string& model_id) {
  RETURN_IF_ERROR(RequireId(model_id, "model_id"));
  absl::MutexLock admission(&admission_mu_);
  ASSIGN_OR_RETURN(const v1::Model model, repository_->GetModel(model_id));
  RETURN_IF_ERROR(
      CheckNoActiveJobUses(absl::StrCat("model '", model_id, "'"),
                           [&](const v1::Job& job) { return job.model_id() == model_id; }));
  RETURN_IF_ERROR(repository_->DeleteModel(model_id));
  // An Infer that loaded a session just before the delete may cache it again;
  // harmless: Infer checks the repository first, and ids and version
  // numbers are never reused, so that entry is unreachable until evicted.
  sessions_->Erase(model_id);
  for (const v1::ModelVersion& version : model.versions()) {
    metrics_->RemoveModelVersion(model_id, version.version());
  }
  return absl::OkStatus();
}

grpc::Status QuantdService::DeleteVersion(grpc::ServerContext* context,
                                          const v1::DeleteVersionRequest* request,
                                          v1::DeleteVersionResponse*) {
  return Authorized(*access_, context, Permission::kAdmin, "DeleteVersion",
                    [&] { return DoDeleteVersion(request->model_id(), request->version()); });
}

absl::Status QuantdService::DoDeleteVersion(const std::string& model_id, int32_t version) {
  RETURN_IF_ERROR(RequireId(model_id, "model_id"));
  if (version < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("version must be >= 2 (an INT8 version), got ", version));
  }
  // Jobs read only version 1, which cannot be deleted here, so running jobs
  // do not block this.
  RETURN_IF_ERROR(repository_->DeleteVersion(model_id, version));
  sessions_->Erase(model_id, version);
  metrics_->RemoveModelVersion(model_id, version);
  return absl::OkStatus();
}

grpc::Status QuantdService::DownloadVersion(
    grpc::ServerContext* context, const v1::DownloadVersionRequest* request,
    grpc::ServerWriter<v1::DownloadVersionResponse>* writer) {
  return Authorized(*access_, context, Permission::kBuild, "DownloadVersion",
                    [&] { return DoDownloadVersion(*request, writer); });
}

namespace {

// Why a version lacks the artifact `request` asks for.
std::string MissingArtifactReason(const Repository& repository,
                                  const v1::DownloadVersionRequest& request) {
  absl::StatusOr<v1::Model> model = repository.GetModel(request.model_id());
  const v1::ModelVersion* version = nullptr;
  if (model.ok()) {
    for (const v1::ModelVersion& v : model->versions()) {
      if (v.version() == request.version()) version = &v;
    }
  }
  if (version == nullptr || version->precision() != v1::INT8) {
    return "only INT8 versions have calibration and QDQ exports";
  }
  if (request.artifact() == v1::QDQ_MODEL && version->simulated()) {
    return "it is simulated (fewer than 8 bits, asymmetric or simulate): no int8 kernels run it, "
           "so it has no QDQ model; CALIBRATION_TABLE and CALIBRATION_JSON describe it";
  }
  if (request.artifact() == v1::QDQ_MODEL) {
    return "it was published before quantd wrote QDQ exports (quantize the model again to get "
           "one), or its model has an operator the QDQ export cannot write (the job's log line "
           "names it)";
  }
  return "it was published before quantd wrote JSON and QDQ exports; quantize the model again "
         "to get them";
}

}  // namespace

absl::Status QuantdService::DoDownloadVersion(
    const v1::DownloadVersionRequest& request,
    grpc::ServerWriter<v1::DownloadVersionResponse>* writer) {
  RETURN_IF_ERROR(RequireId(request.model_id(), "model_id"));
  if (!v1::ArtifactKind_IsValid(request.artifact())) {
    return absl::InvalidArgumentError(
        absl::StrCat("artifact ", static_cast<int>(request.artifact()), " is not an ArtifactKind"));
  }
  if (request.version() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("version must be >= 1, got ", request.version()));
  }
  ASSIGN_OR_RETURN(std::vector<Repository::Artifact> artifacts,
                   repository_->ListArtifacts(request.model_id(), request.version()));
  if (request.artifact() != v1::ARTIFACT_KIND_UNSPECIFIED) {
    std::erase_if(artifacts,
                  [&](const Repository::Artifact& a) { return a.kind != request.artifact(); });
    if (artifacts.empty()) {
      return absl::NotFoundError(absl::StrCat("model '", request.model_id(), "' version ",
                                              request.version(), " has no ",
                                              v1::ArtifactKind_Name(request.artifact()), " (",
                                              MissingArtifactReason(*repository_, request), ")"));
    }
  }
  ASSIGN_OR_RETURN(const AdmissionBudget::Taken download, downloads_.Take());
  // Each file is mapped, not read onto the heap: its digest leads, then its
  // chunks stream from the page cache. Stored files are replaced, never
  // rewritten, and a mapping outlives the file's deletion, so a version
  // deleted mid-download cannot cut an artifact short.
  for (const Repository::Artifact& artifact : artifacts) {
    ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(artifact.path));
    const std::string_view bytes = file.bytes();
    v1::DownloadVersionResponse chunk;
    chunk.set_artifact(artifact.kind);
    chunk.set_file_name(artifact.file_name);
    chunk.set_size_bytes(static_cast<int64_t>(bytes.size()));
    chunk.set_sha256(Sha256Hex(bytes));
    size_t offset = 0;
    do {
      chunk.set_data(bytes.data() + offset, std::min(kDownloadChunkBytes, bytes.size() - offset));
      offset += kDownloadChunkBytes;
      if (!writer->Write(chunk)) {
        return absl::CancelledError("DownloadVersion: client went away");
      }
      chunk.Clear();
      chunk.set_artifact(artifact.kind);
    } while (offset < bytes.size());
  }
  return absl::OkStatus();
}

grpc::Status QuantdService::ListDatasets(grpc::ServerContext* context,
                                         const v1::ListDatasetsRequest* request,
                                         v1::ListDatasetsResponse* response) {
  return Authorized(*access_, context, Permission::kReadAll, "ListDatasets", [&] {
    ASSIGN_OR_RETURN(std::vector<v1::Dataset> page,
                     Page(repository_->ListDatasets(), request->page_size(), request->page_token(),
                          *response->mutable_next_page_token()));
    for (v1::Dataset& dataset : page) *response->add_datasets() = std::move(dataset);
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::GetDataset(grpc::ServerContext* context,
                                       const v1::GetDatasetRequest* request,
                                       v1::Dataset* response) {
  return Authorized(*access_, context, Permission::kReadAll, "GetDataset", [&]() -> absl::Status {
    RETURN_IF_ERROR(RequireId(request->dataset_id(), "dataset_id"));
    ASSIGN_OR_RETURN(*response, repository_->GetDataset(request->dataset_id()));
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::DeleteDataset(grpc::ServerContext* context,
                                          const v1::DeleteDatasetRequest* request,
                                          v1::DeleteDatasetResponse*) {
  return Authorized(*access_, context, Permission::kAdmin, "DeleteDataset",
                    [&] { return DoDeleteDataset(request->dataset_id()); });
}

absl::Status QuantdService::DoDeleteDataset(const std::string& dataset_id) {
  RETURN_IF_ERROR(RequireId(dataset_id, "dataset_id"));
  absl::MutexLock admission(&admission_mu_);
  RETURN_IF_ERROR(repository_->GetDataset(dataset_id).status());
  RETURN_IF_ERROR(
      CheckNoActiveJobUses(absl::StrCat("dataset '", dataset_id, "'"), [&](const v1::Job& job) {
        return job.request().calibration_dataset_id() == dataset_id ||
               job.request().evaluation_dataset_id() == dataset_id;
      }));
  return repository_->DeleteDataset(dataset_id);
}

grpc::Status QuantdService::Infer(grpc::ServerContext* context, const v1::InferRequest* request,
                                  v1::InferResponse* response) {
  // A client that gave up need not keep its place in the compute queue.
  const absl::Time deadline = absl::FromChrono(context->deadline());
  return RecordedInfer(
      "Infer", *metrics_, *repository_, *request, *response, [&](Metrics::InferCall& call) {
        RETURN_IF_ERROR(access_->Authorize(*context, Permission::kInfer));
        return ChooseAgainIfDeleted(request->version() == 0,
                                    [&] { return DoInfer(*request, response, deadline, call); });
      });
}

absl::Status QuantdService::DoInfer(const v1::InferRequest& request, v1::InferResponse* response,
                                    absl::Time deadline, Metrics::InferCall& call) {
  const absl::Time started = absl::Now();
  ASSIGN_OR_RETURN(const v1::Model model, repository_->GetModel(request.model_id()));
  call.model = model.id();
  ASSIGN_OR_RETURN(const v1::ModelVersion version,
                   ResolveModelVersion(model, request.version(), request.precision()));
  const bool int8 = version.precision() == v1::INT8;
  call.precision = int8 ? "int8" : "fp32";
  call.version = absl::StrCat(version.version());
  RETURN_IF_ERROR(ValidateInferRequest(request, model));
  ASSIGN_OR_RETURN(const AdmissionBudget::Taken held,
                   infer_bytes_->Take(InferInputBytesHeld(request, model)));

  std::vector<engine::Tensor> inputs;
  if (request.images_size() > 0) {
    ASSIGN_OR_RETURN(inputs.emplace_back(), InputFromImages(request, model));
  } else if (request.has_input()) {
    inputs.push_back(ToEngineTensor(request.input()));
    if (inputs[0].name.empty() && model.inputs_size() > 0) {
      inputs[0].name = model.inputs(0).name();
    }
  } else {
    for (int i = 0; i < request.inputs_size(); ++i) {
      engine::Tensor& input = inputs.emplace_back(ToEngineTensor(request.inputs(i)));
      if (input.name.empty()) input.name = model.inputs(i).name();
    }
  }

  call.batch_size = inputs[0].shape.empty() ? 0 : inputs[0].shape[0];
  call.input_time = absl::Now() - started;
  InferScheduler::Timing timing;
  absl::StatusOr<std::vector<engine::Tensor>> run =
      runner_->Run(model.id(), version, std::move(inputs), deadline, &timing);
  SetRunTiming(timing, call);
  ASSIGN_OR_RETURN(const std::vector<engine::Tensor> outputs, std::move(run));

  if (const int64_t bytes = InferResponseBytesBound(outputs, model, request.top_k());
      bytes > config_.max_infer_response_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the response would be up to ", bytes, " bytes, over --max_infer_response_bytes (",
        config_.max_infer_response_bytes, "); send fewer samples per request or a smaller top_k"));
  }
  const absl::Time output_started = absl::Now();
  response->set_model_id(model.id());
  response->set_version(version.version());
  response->set_precision(version.precision());
  for (const engine::Tensor& output : outputs) ToProtoTensor(output, *response->add_outputs());
  if (!outputs.empty()) AddClassifications(outputs.front(), model, request.top_k(), *response);
  call.output_time = absl::Now() - output_started;
  return absl::OkStatus();
}

}  // namespace quantd::server
