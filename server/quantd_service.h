#ifndef QUANTD_SERVER_QUANTD_SERVICE_H_
#define QUANTD_SERVER_QUANTD_SERVICE_H_

#include "absl/status/status.h"
#include "quantd/v1/quantd.grpc.pb.h"
#include "server/job_queue.h"
#include "server/job_tracker.h"
#include "server/metrics.h"
#include "server/repository.h"
#include "server/server_config.h"
#include "server/session_cache.h"

namespace quantd::server {

// The quantd.v1.Quantd gRPC service (synchronous API). Each RPC is a thin
// shell: the work happens in absl::Status-returning members, converted to a
// grpc::Status in one place; no exception escapes to gRPC.
class QuantdService final : public v1::Quantd::Service {
 public:
  QuantdService(const ServerConfig& config, Repository* repository, JobTracker* jobs,
                JobQueue* queue, SessionCache* sessions, Metrics* metrics)
      : config_(config),
        repository_(repository),
        jobs_(jobs),
        queue_(queue),
        sessions_(sessions),
        metrics_(metrics) {}

  grpc::Status UploadModel(grpc::ServerContext* context,
                           grpc::ServerReader<v1::UploadModelRequest>* reader,
                           v1::Model* response) override;
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                             v1::Dataset* response) override;
  grpc::Status QuantizeModel(grpc::ServerContext* context, const v1::QuantizeModelRequest* request,
                             v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::Job>* writer) override;
  grpc::Status Infer(grpc::ServerContext* context, const v1::InferRequest* request,
                     v1::InferResponse* response) override;

 private:
  // What an Infer call is recorded under in the metrics.
  struct InferLabels {
    std::string model = "unknown";
    std::string precision = "unspecified";
  };

  absl::Status DoUploadModel(grpc::ServerReader<v1::UploadModelRequest>* reader,
                             v1::Model* response);
  absl::Status DoUploadDataset(grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                               v1::Dataset* response);
  absl::Status DoQuantizeModel(const v1::QuantizeModelRequest& request, v1::Job* response);
  absl::Status DoWatchJob(grpc::ServerContext* context, const std::string& job_id,
                          grpc::ServerWriter<v1::Job>* writer);
  absl::Status DoInfer(const v1::InferRequest& request, v1::InferResponse* response,
                       InferLabels& labels);

  const ServerConfig config_;
  Repository* const repository_;
  JobTracker* const jobs_;
  JobQueue* const queue_;
  SessionCache* const sessions_;
  Metrics* const metrics_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_QUANTD_SERVICE_H_
