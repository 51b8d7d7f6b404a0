#ifndef QUANTD_SERVER_API_QUANTD_SERVICE_H_
#define QUANTD_SERVER_API_QUANTD_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "quantd/v1/quantd.grpc.pb.h"
#include "server/api/access_control.h"
#include "server/api/admission_budget.h"
#include "server/jobs/job_queue.h"
#include "server/jobs/job_tracker.h"
#include "server/metrics/metrics.h"
#include "server/server_config.h"
#include "server/serving/model_runner.h"
#include "server/serving/session_cache.h"
#include "server/storage/repository.h"

namespace quantd::server {

// The quantd.v1.Quantd gRPC service (synchronous API). Each RPC is a thin
// shell: the work happens in absl::Status-returning members, converted to a
// grpc::Status in one place; no exception escapes to gRPC.
class QuantdService final : public v1::Quantd::Service {
 public:
  QuantdService(const ServerConfig& config, const AccessControl* access, Repository* repository,
                JobTracker* jobs, JobQueue* queue, SessionCache* sessions, ModelRunner* runner,
                AdmissionBudget* infer_bytes, Metrics* metrics)
      : config_(config),
        access_(access),
        repository_(repository),
        jobs_(jobs),
        queue_(queue),
        sessions_(sessions),
        runner_(runner),
        infer_bytes_(infer_bytes),
        metrics_(metrics),
        uploads_(config.max_concurrent_uploads, "concurrent uploads", "--max_concurrent_uploads"),
        downloads_(config.max_concurrent_downloads, "concurrent downloads",
                   "--max_concurrent_downloads") {}

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
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status DeleteModel(grpc::ServerContext* context, const v1::DeleteModelRequest* request,
                           v1::DeleteModelResponse* response) override;
  grpc::Status DeleteVersion(grpc::ServerContext* context, const v1::DeleteVersionRequest* request,
                             v1::DeleteVersionResponse* response) override;
  grpc::Status DownloadVersion(grpc::ServerContext* context,
                               const v1::DownloadVersionRequest* request,
                               grpc::ServerWriter<v1::DownloadVersionResponse>* writer) override;
  grpc::Status ListDatasets(grpc::ServerContext* context, const v1::ListDatasetsRequest* request,
                            v1::ListDatasetsResponse* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context, const v1::DeleteDatasetRequest* request,
                             v1::DeleteDatasetResponse* response) override;
  grpc::Status Infer(grpc::ServerContext* context, const v1::InferRequest* request,
                     v1::InferResponse* response) override;

 private:
  absl::Status DoUploadModel(grpc::ServerReader<v1::UploadModelRequest>* reader,
                             v1::Model* response);
  absl::Status DoUploadDataset(grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                               v1::Dataset* response);
  absl::Status DoQuantizeModel(const v1::QuantizeModelRequest& request, v1::Job* response);
  absl::Status DoWatchJob(grpc::ServerContext* context, const std::string& job_id,
                          grpc::ServerWriter<v1::Job>* writer);
  // Fills `call` (labels, queue and compute time, batch size) as it goes, so
  // a failed call is still counted under what was known when it failed.
  absl::Status DoInfer(const v1::InferRequest& request, v1::InferResponse* response,
                       absl::Time deadline, Metrics::InferCall& call);
  absl::Status DoListJobs(const v1::ListJobsRequest& request, v1::ListJobsResponse* response);
  absl::Status DoCancelJob(const std::string& job_id, v1::Job* response);
  absl::Status DoDeleteModel(const std::string& model_id);
  absl::Status DoDeleteVersion(const std::string& model_id, int32_t version);
  absl::Status DoDownloadVersion(const v1::DownloadVersionRequest& request,
                                 grpc::ServerWriter<v1::DownloadVersionResponse>* writer);
  absl::Status DoDeleteDataset(const std::string& dataset_id);
  // FAILED_PRECONDITION naming the first QUEUED or RUNNING job for which
  // `uses` is true; `what` names the resource ("model 'x'").
  absl::Status CheckNoActiveJobUses(const std::string& what,
                                    const std::function<bool(const v1::Job&)>& uses) const;

  // Held while QuantizeModel admits a job and while a delete checks for
  // active jobs and deletes, so a job is never admitted for a model or
  // dataset that is being deleted.
  absl::Mutex admission_mu_;

  const ServerConfig config_;
  // Who may call what (every RPC asks it first).
  const AccessControl* const access_;
  Repository* const repository_;
  JobTracker* const jobs_;
  JobQueue* const queue_;
  SessionCache* const sessions_;
  // Runs Infer calls' models, merging concurrent calls (see InferScheduler).
  ModelRunner* const runner_;
  AdmissionBudget* const infer_bytes_;
  Metrics* const metrics_;
  // Each upload holds a scratch file and, while it is checked, about its
  // size again in memory; each download a mapping of the files it sends.
  AdmissionBudget uploads_;
  AdmissionBudget downloads_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_QUANTD_SERVICE_H_
