#include "server/api/kserve_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/status_macros.h"
#include "server/api/grpc_status.h"
#include "server/api/kserve_addressing.h"
#include "server/api/kserve_model_info.h"
#include "server/api/recorded_infer.h"
#include "server/wire/kserve_tensors.h"

namespace quantd::server {
namespace {

// The protocol extensions quantd implements (ServerMetadata.extensions).
constexpr const char* kExtensions[] = {"model_configuration", "statistics"};

std::string PrecisionLabel(const v1::ModelVersion& version) {
  return version.precision() == v1::INT8 ? "int8" : "fp32";
}

}  // namespace

grpc::Status KServeService::ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) {
  response->set_live(true);
  return grpc::Status::OK;
}

// The server takes calls only once its repository is open and its jobs are
// recovered, so serving this call means it is ready.
grpc::Status KServeService::ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) {
  response->set_ready(true);
  return grpc::Status::OK;
}

grpc::Status KServeService::ServerMetadata(grpc::ServerContext*,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) {
  response->set_name("quantd");
  response->set_version(QUANTD_VERSION);
  for (const char* extension : kExtensions) response->add_extensions(extension);
  return grpc::Status::OK;
}

// Ready means the version's session loads (it then stays cached); a model or
// version that does not exist is simply not ready, as in Triton.
grpc::Status KServeService::ModelReady(grpc::ServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) {
  return Authorized(
      *access_, context, Permission::kReadModels, "ModelReady", [&]() -> absl::Status {
        absl::StatusOr<v1::Model> model = FindKServeModel(*repository_, request->name());
        if (!model.ok())
          return absl::IsNotFound(model.status()) ? absl::OkStatus() : model.status();
        absl::StatusOr<v1::ModelVersion> version = ResolveKServeVersion(*model, request->version());
        if (!version.ok()) {
          return absl::IsNotFound(version.status()) ? absl::OkStatus() : version.status();
        }
        response->set_ready(runner_->Session(model->id(), *version).ok());
        return absl::OkStatus();
      });
}

grpc::Status KServeService::ModelMetadata(grpc::ServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) {
  return Authorized(*access_, context, Permission::kReadModels, "ModelMetadata",
                    [&] { return DoModelMetadata(*request, response); });
}

absl::Status KServeService::DoModelMetadata(const inference::ModelMetadataRequest& request,
                                            inference::ModelMetadataResponse* response) {
  ASSIGN_OR_RETURN(const v1::Model model,
                   FindKServeModel(*repository_, request.name(), request.version()));
  *response = ToKServeMetadata(model, KServeName(*repository_, model));
  return absl::OkStatus();
}

grpc::Status KServeService::ModelConfig(grpc::ServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) {
  return Authorized(*access_, context, Permission::kReadModels, "ModelConfig",
                    [&] { return DoModelConfig(*request, response); });
}

absl::Status KServeService::DoModelConfig(const inference::ModelConfigRequest& request,
                                          inference::ModelConfigResponse* response) {
  ASSIGN_OR_RETURN(const v1::Model model,
                   FindKServeModel(*repository_, request.name(), request.version()));
  *response->mutable_config() =
      ToKServeConfig(model, KServeName(*repository_, model), config_.infer_max_batch,
                     config_.infer_max_queue_delay_us, runner_->scheduler().executors());
  return absl::OkStatus();
}

grpc::Status KServeService::ModelStatistics(grpc::ServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) {
  return Authorized(*access_, context, Permission::kReadModels, "ModelStatistics",
                    [&] { return DoModelStatistics(*request, response); });
}

absl::Status KServeService::DoModelStatistics(const inference::ModelStatisticsRequest& request,
                                              inference::ModelStatisticsResponse* response) {
  std::vector<v1::Model> models;
  if (request.name().empty()) {
    models = repository_->ListModels();
  } else {
    ASSIGN_OR_RETURN(v1::Model model,
                     FindKServeModel(*repository_, request.name(), request.version()));
    models.push_back(std::move(model));
  }
  for (const v1::Model& model : models) {
    const std::string name = KServeName(*repository_, model);
    const std::vector<VersionStatistics> recorded =
        metrics_->InferStatisticsOf(model.id(), request.version());
    for (const v1::ModelVersion& version : model.versions()) {
      const std::string number = absl::StrCat(version.version());
      if (!request.version().empty() && request.version() != number) continue;
      const VersionStatistics* statistics = nullptr;
      for (const VersionStatistics& s : recorded) {
        if (s.version == number) statistics = &s;
      }
      *response->add_model_stats() = ToKServeStatistics(name, version.version(), statistics);
    }
  }
  return absl::OkStatus();
}

// Every stored version is servable (its session loads on first use), so all
// are READY and `ready` filters nothing.
grpc::Status KServeService::RepositoryIndex(grpc::ServerContext* context,
                                            const inference::RepositoryIndexRequest*,
                                            inference::RepositoryIndexResponse* response) {
  return Authorized(*access_, context, Permission::kReadModels, "RepositoryIndex", [&] {
    for (const v1::Model& model : repository_->ListModels()) {
      const std::string name = KServeName(*repository_, model);
      for (const v1::ModelVersion& version : model.versions()) {
        inference::RepositoryIndexResponse::ModelIndex& entry = *response->add_models();
        entry.set_name(name);
        entry.set_version(absl::StrCat(version.version()));
        entry.set_state("READY");
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status KServeService::ModelInfer(grpc::ServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) {
  const absl::Time deadline = absl::FromChrono(context->deadline());
  return RecordedInfer("ModelInfer", *metrics_, *repository_, *request, *response,
                       [&](Metrics::InferCall& call) {
                         RETURN_IF_ERROR(access_->Authorize(*context, Permission::kInfer));
                         return ChooseAgainIfDeleted(request->model_version().empty(), [&] {
                           return DoModelInfer(*request, response, deadline, call);
                         });
                       });
}

absl::Status KServeService::DoModelInfer(const inference::ModelInferRequest& request,
                                         inference::ModelInferResponse* response,
                                         absl::Time deadline, Metrics::InferCall& call) {
  const absl::Time started = absl::Now();
  ASSIGN_OR_RETURN(const v1::Model model, FindKServeModel(*repository_, request.model_name()));
  call.model = model.id();
  ASSIGN_OR_RETURN(const v1::ModelVersion version,
                   ResolveKServeVersion(model, request.model_version()));
  call.version = absl::StrCat(version.version());
  call.precision = PrecisionLabel(version);
  // The message and its copy as tensors, as InferInputBytesHeld counts them.
  ASSIGN_OR_RETURN(const AdmissionBudget::Taken held,
                   infer_bytes_->Take(2 * static_cast<int64_t>(request.ByteSizeLong())));
  ASSIGN_OR_RETURN(std::vector<engine::Tensor> inputs, InputsFromModelInfer(request, model));
  call.batch_size = inputs.front().shape.front();
  call.input_time = absl::Now() - started;

  InferScheduler::Timing timing;
  absl::StatusOr<std::vector<engine::Tensor>> run =
      runner_->Run(model.id(), version, std::move(inputs), deadline, &timing);
  SetRunTiming(timing, call);
  ASSIGN_OR_RETURN(const std::vector<engine::Tensor> outputs, std::move(run));

  if (const int64_t bytes = ModelInferOutputBytes(outputs);
      bytes > config_.max_infer_response_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the response would be about ", bytes, " bytes, over --max_infer_response_bytes (",
        config_.max_infer_response_bytes, "); send fewer samples per request"));
  }
  const absl::Time output_started = absl::Now();
  response->set_model_name(request.model_name());
  response->set_model_version(call.version);
  response->set_id(request.id());
  RETURN_IF_ERROR(SetModelInferOutputs(outputs, request, *response));
  call.output_time = absl::Now() - output_started;
  return absl::OkStatus();
}

}  // namespace quantd::server
