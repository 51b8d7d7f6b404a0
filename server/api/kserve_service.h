#ifndef QUANTD_SERVER_API_KSERVE_SERVICE_H_
#define QUANTD_SERVER_API_KSERVE_SERVICE_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "inference/grpc_service.grpc.pb.h"
#include "server/api/access_control.h"
#include "server/api/admission_budget.h"
#include "server/metrics/metrics.h"
#include "server/server_config.h"
#include "server/serving/model_runner.h"
#include "server/storage/repository.h"

namespace quantd::server {

// The KServe v2 gRPC service with Triton's extensions
// (inference.GRPCInferenceService), beside quantd.v1 on the same port, so
// that existing KServe and Triton clients serve quantd's models unchanged.
// It reads what quantd.v1 uploaded and runs through the same ModelRunner
// (batching, executors) and the same metrics. Models are addressed by id or
// unique name, versions as "1", "2", ... (docs/KSERVE.md). RPCs not
// overridden here answer UNIMPLEMENTED.
class KServeService final : public inference::GRPCInferenceService::Service {
 public:
  KServeService(const ServerConfig& config, const AccessControl* access,
                const Repository* repository, ModelRunner* runner, AdmissionBudget* infer_bytes,
                Metrics* metrics)
      : config_(config),
        access_(access),
        repository_(repository),
        runner_(runner),
        infer_bytes_(infer_bytes),
        metrics_(metrics) {}

  grpc::Status ServerLive(grpc::ServerContext* context, const inference::ServerLiveRequest* request,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext* context,
                           const inference::ServerReadyRequest* request,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext* context, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext* context,
                              const inference::ServerMetadataRequest* request,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext* context,
                             const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override;
  grpc::Status ModelConfig(grpc::ServerContext* context,
                           const inference::ModelConfigRequest* request,
                           inference::ModelConfigResponse* response) override;
  grpc::Status ModelStatistics(grpc::ServerContext* context,
                               const inference::ModelStatisticsRequest* request,
                               inference::ModelStatisticsResponse* response) override;
  grpc::Status RepositoryIndex(grpc::ServerContext* context,
                               const inference::RepositoryIndexRequest* request,
                               inference::RepositoryIndexResponse* response) override;

 private:
  absl::Status DoModelInfer(const inference::ModelInferRequest& request,
                            inference::ModelInferResponse* response, absl::Time deadline,
                            Metrics::InferCall& call);
  absl::Status DoModelMetadata(const inference::ModelMetadataRequest& request,
                               inference::ModelMetadataResponse* response);
  absl::Status DoModelConfig(const inference::ModelConfigRequest& request,
                             inference::ModelConfigResponse* response);
  absl::Status DoModelStatistics(const inference::ModelStatisticsRequest& request,
                                 inference::ModelStatisticsResponse* response);

  const ServerConfig config_;
  // Who may call what; ServerLive, ServerReady and ServerMetadata are open
  // (health checks), every other RPC asks it first.
  const AccessControl* const access_;
  const Repository* const repository_;
  ModelRunner* const runner_;
  AdmissionBudget* const infer_bytes_;  // shared with quantd.v1 Infer
  Metrics* const metrics_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_KSERVE_SERVICE_H_
