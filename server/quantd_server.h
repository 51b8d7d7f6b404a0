#ifndef QUANTD_SERVER_QUANTD_SERVER_H_
#define QUANTD_SERVER_QUANTD_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/server_config.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace quantd {
class PeriodicMallocTrim;
}  // namespace quantd

namespace quantd::server {

class AccessControl;
class AdmissionBudget;
class InferScheduler;
class JobQueue;
class JobTracker;
class KServeService;
class Metrics;
class ModelRunner;
class QuantdService;
class QuantizationJobRunner;
class Repository;
class SessionCache;
class WorkerPool;

// The whole running server: repository, job tracker and queue, workers,
// metrics endpoint and the gRPC server, started and stopped in the right order.
class QuantdServer {
 public:
  // Opens the data directory (recovering jobs of a previous run), starts the
  // workers, the metrics endpoint and the gRPC server.
  static absl::StatusOr<std::unique_ptr<QuantdServer>> Start(const ServerConfig& config);
  ~QuantdServer();
  QuantdServer(const QuantdServer&) = delete;
  QuantdServer& operator=(const QuantdServer&) = delete;

  // "host:port" with the port actually bound (useful with port 0).
  const std::string& listen_address() const { return listen_address_; }
  // "host:port" of /metrics, or "" when metrics are not served.
  const std::string& metrics_address() const;
  // The one line printed on start, which scripts parse:
  // "quantd listening on H:P, metrics on H:P|disabled, data in DIR".
  std::string StartupLine() const;

  // Stops accepting calls, ends watch streams, lets in-flight calls finish
  // (up to a few seconds), then stops the workers: a running job is put back
  // to QUEUED at its next cancellation point. Idempotent.
  void Shutdown();

  // Reads --token_file again (SIGHUP); see AccessControl::ReloadTokenFile.
  absl::StatusOr<int> ReloadTokens();

 private:
  QuantdServer();

  ServerConfig config_;
  std::string listen_address_;
  std::string data_dir_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Repository> repository_;
  std::unique_ptr<JobTracker> jobs_;
  std::unique_ptr<JobQueue> queue_;
  std::unique_ptr<SessionCache> sessions_;
  std::unique_ptr<QuantizationJobRunner> runner_;
  std::unique_ptr<WorkerPool> workers_;
  // Both APIs' inference calls run through one scheduler, so they merge and
  // share the executors.
  std::unique_ptr<InferScheduler> infer_scheduler_;
  std::unique_ptr<ModelRunner> model_runner_;
  // Bytes held by both APIs' inference calls in progress.
  std::unique_ptr<AdmissionBudget> infer_bytes_;
  std::unique_ptr<QuantdService> service_;
  std::unique_ptr<KServeService> kserve_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<PeriodicMallocTrim> malloc_trim_;
  bool shut_down_ = false;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_QUANTD_SERVER_H_
