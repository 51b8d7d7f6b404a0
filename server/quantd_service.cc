#include "server/quantd_service.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/status_macros.h"
#include "server/dataset_upload.h"
#include "server/grpc_status.h"
#include "server/infer_request_validator.h"
#include "server/model_upload.h"
#include "server/proto_conversion.h"
#include "server/quantize_request_validator.h"
#include "server/resource_id.h"
#include "server/session_loader.h"

namespace quantd::server {
namespace {

// How often a WatchJob stream without news checks whether its client left.
constexpr absl::Duration kWatchPollInterval = absl::Milliseconds(250);

// Runs an RPC body and converts its result for gRPC. Engine, protobuf and
// allocation failures surface as exceptions; a client must get an error, not
// a crashed server.
template <typename Body>
grpc::Status Guarded(const std::string& rpc, Body&& body) {
  absl::Status status;
  try {
    status = body();
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat(rpc, " failed unexpectedly: ", e.what()));
  } catch (...) {
    status = absl::InternalError(absl::StrCat(rpc, " failed unexpectedly"));
  }
  return ToGrpcStatus(status);
}

template <typename Message>
StreamReader<Message> ReadFrom(grpc::ServerReader<Message>* reader) {
  return [reader](Message& message) { return reader->Read(&message); };
}

}  // namespace

grpc::Status QuantdService::UploadModel(grpc::ServerContext*,
                                        grpc::ServerReader<v1::UploadModelRequest>* reader,
                                        v1::Model* response) {
  return Guarded("UploadModel", [&] { return DoUploadModel(reader, response); });
}

absl::Status QuantdService::DoUploadModel(grpc::ServerReader<v1::UploadModelRequest>* reader,
                                          v1::Model* response) {
  ASSIGN_OR_RETURN(ValidatedModel model,
                   ReceiveAndValidateModel(ReadFrom(reader), config_.max_model_bytes));
  ASSIGN_OR_RETURN(*response,
                   repository_->AddModel(model.received.header.name(), model.received.onnx_bytes,
                                         model.received.header.sha256(), model.summary));
  return absl::OkStatus();
}

grpc::Status QuantdService::ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                                       v1::ListModelsResponse* response) {
  return Guarded("ListModels", [&] {
    for (v1::Model& model : repository_->ListModels()) *response->add_models() = std::move(model);
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::GetModel(grpc::ServerContext*, const v1::GetModelRequest* request,
                                     v1::Model* response) {
  return Guarded("GetModel", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, repository_->GetModel(request->model_id()));
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::UploadDataset(grpc::ServerContext*,
                                          grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                          v1::Dataset* response) {
  return Guarded("UploadDataset", [&] { return DoUploadDataset(reader, response); });
}

absl::Status QuantdService::DoUploadDataset(grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                                            v1::Dataset* response) {
  ASSIGN_OR_RETURN(const ReceivedDataset received,
                   ReceiveDatasetUpload(ReadFrom(reader), config_.max_dataset_bytes));
  ASSIGN_OR_RETURN(const engine::Dataset data, DecodeDataset(received, repository_->scratch_dir()));
  ASSIGN_OR_RETURN(*response, repository_->AddDataset(received.header.name(), data));
  return absl::OkStatus();
}

grpc::Status QuantdService::QuantizeModel(grpc::ServerContext*,
                                          const v1::QuantizeModelRequest* request,
                                          v1::Job* response) {
  return Guarded("QuantizeModel", [&] { return DoQuantizeModel(*request, response); });
}

absl::Status QuantdService::DoQuantizeModel(const v1::QuantizeModelRequest& request,
                                            v1::Job* response) {
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

grpc::Status QuantdService::GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                                   v1::Job* response) {
  return Guarded("GetJob", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(*response, jobs_->Get(request->job_id()));
    return absl::OkStatus();
  });
}

grpc::Status QuantdService::WatchJob(grpc::ServerContext* context,
                                     const v1::WatchJobRequest* request,
                                     grpc::ServerWriter<v1::Job>* writer) {
  return Guarded("WatchJob", [&] { return DoWatchJob(context, request->job_id(), writer); });
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

grpc::Status QuantdService::Infer(grpc::ServerContext*, const v1::InferRequest* request,
                                  v1::InferResponse* response) {
  const absl::Time start = absl::Now();
  InferLabels labels;
  grpc::Status status = Guarded("Infer", [&] { return DoInfer(*request, response, labels); });
  metrics_->RecordInfer(labels.model, labels.precision,
                        static_cast<absl::StatusCode>(status.error_code()), absl::Now() - start);
  return status;
}

absl::Status QuantdService::DoInfer(const v1::InferRequest& request, v1::InferResponse* response,
                                    InferLabels& labels) {
  ASSIGN_OR_RETURN(const v1::Model model, repository_->GetModel(request.model_id()));
  labels.model = model.id();
  ASSIGN_OR_RETURN(const v1::ModelVersion version,
                   ResolveModelVersion(model, request.version(), request.precision()));
  const bool int8 = version.precision() == v1::INT8;
  labels.precision = int8 ? "int8" : "fp32";
  RETURN_IF_ERROR(ValidateInferInput(request.input(), model));

  ASSIGN_OR_RETURN(std::shared_ptr<engine::InferenceSession> session,
                   sessions_->GetOrLoad(model.id(), version.version(), [&] {
                     return LoadModelVersion(*repository_, model.id(), version.version(), int8);
                   }));
  engine::Tensor input = ToEngineTensor(request.input());
  if (input.name.empty() && model.inputs_size() > 0) input.name = model.inputs(0).name();
  ASSIGN_OR_RETURN(const std::vector<engine::Tensor> outputs, session->Run(input));

  response->set_model_id(model.id());
  response->set_version(version.version());
  response->set_precision(version.precision());
  for (const engine::Tensor& output : outputs) ToProtoTensor(output, *response->add_outputs());
  return absl::OkStatus();
}

}  // namespace quantd::server
