#include "server/quantd_server.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/large_allocations.h"
#include "engine/runtime/idle_memory_budget.h"
#include "engine/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/api/access_control.h"
#include "server/api/admission_budget.h"
#include "server/api/kserve_service.h"
#include "server/api/quantd_service.h"
#include "server/jobs/job_queue.h"
#include "server/jobs/job_tracker.h"
#include "server/jobs/quantization_job.h"
#include "server/jobs/worker_pool.h"
#include "server/metrics/metrics.h"
#include "server/serving/infer_scheduler.h"
#include "server/serving/model_runner.h"
#include "server/serving/session_cache.h"
#include "server/storage/repository.h"

namespace quantd::server {
namespace {

// In-flight calls get this long to finish on shutdown before being cancelled.
constexpr auto kShutdownGrace = std::chrono::seconds(5);
// --max_infer_response_bytes at most: far below protobuf's 2 GiB message
// limit, where serializing aborts the process.
constexpr int64_t kMaxResponseCap = int64_t{1} << 30;

absl::Status ValidateConfig(const ServerConfig& config) {
  if (config.workers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--workers must be >= 1, got ", config.workers));
  }
  if (config.infer_concurrency < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--infer_concurrency must be >= 0 (0: automatic), got ", config.infer_concurrency));
  }
  if (config.infer_queue_capacity < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--infer_queue_capacity must be >= 0, got ", config.infer_queue_capacity));
  }
  if (config.infer_max_batch < 1 || config.infer_max_batch > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--infer_max_batch must be in [1, 4096] (1: no merging), got ", config.infer_max_batch));
  }
  if (config.infer_max_queue_delay_us < 0 || config.infer_max_queue_delay_us > 1000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--infer_max_queue_delay_us must be in [0, 1000000], got ",
                     config.infer_max_queue_delay_us));
  }
  if (config.job_queue_capacity < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--job_queue_capacity must be >= 1, got ", config.job_queue_capacity));
  }
  if (config.max_model_bytes < 1 || config.max_dataset_bytes < 1) {
    return absl::InvalidArgumentError("--max_model_bytes and --max_dataset_bytes must be >= 1");
  }
  if (config.max_infer_response_bytes < 1 || config.max_infer_response_bytes > kMaxResponseCap) {
    return absl::InvalidArgumentError(absl::StrCat("--max_infer_response_bytes must be in [1, ",
                                                   kMaxResponseCap, "], got ",
                                                   config.max_infer_response_bytes));
  }
  if (config.max_receive_message_bytes < 1 ||
      config.max_receive_message_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("--max_receive_message_bytes must be in [1, ",
                                                   std::numeric_limits<int>::max(), "], got ",
                                                   config.max_receive_message_bytes));
  }
  if (config.malloc_trim_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--malloc_trim_seconds must be >= 0, got ", config.malloc_trim_seconds));
  }
  if (config.max_infer_inflight_bytes < 1 || config.max_concurrent_uploads < 1 ||
      config.max_concurrent_downloads < 1 || config.max_stored_dataset_bytes < 1 ||
      config.max_idle_activation_bytes < 0) {
    return absl::InvalidArgumentError(
        "--max_infer_inflight_bytes, --max_concurrent_uploads, --max_concurrent_downloads and "
        "--max_stored_dataset_bytes must be >= 1, --max_idle_activation_bytes >= 0");
  }
  if (config.session_cache_capacity < 1) {
    return absl::InvalidArgumentError("session cache capacity must be >= 1");
  }
  return absl::OkStatus();
}

std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  return absl::StrCat(colon == std::string::npos ? address : address.substr(0, colon), ":", port);
}

// The contents of a PEM file named by `flag`; NOT_FOUND naming the flag.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    return absl::NotFoundError(absl::StrCat("cannot read --", flag, "='", path, "'"));
  }
  return contents.str();
}

// Plaintext, TLS (--tls_cert and --tls_key) or mTLS (also --tls_client_ca).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerConfig& config) {
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (config.tls_cert.empty()) {
    if (!config.tls_client_ca.empty()) {
      return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
    }
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(config.tls_cert, "tls_cert"));
  ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(config.tls_key, "tls_key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!config.tls_client_ca.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs, ReadPemFile(config.tls_client_ca, "tls_client_ca"));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// --token_file, or no authentication when --insecure_no_auth says so
// explicitly; a server that anyone reaching the port could empty is never
// the default.
absl::StatusOr<std::unique_ptr<AccessControl>> LoadAccessControl(const ServerConfig& config) {
  if (!config.token_file.empty() && config.insecure_no_auth) {
    return absl::InvalidArgumentError("--token_file and --insecure_no_auth exclude each other");
  }
  if (config.insecure_no_auth) return std::make_unique<AccessControl>(AccessControl::AllowAll());
  if (config.token_file.empty()) {
    return absl::InvalidArgumentError(
        "authentication is required: pass --token_file=FILE (quantctl new-token makes tokens; "
        "README \"Authentication\"), or --insecure_no_auth to let anyone who reaches the port "
        "call every RPC");
  }
  ASSIGN_OR_RETURN(AccessControl access, AccessControl::FromTokenFile(config.token_file));
  return std::make_unique<AccessControl>(std::move(access));
}

}  // namespace

QuantdServer::QuantdServer() = default;

QuantdServer::~QuantdServer() { Shutdown(); }

const std::string& QuantdServer::metrics_address() const { return metrics_->bound_address(); }

std::string QuantdServer::StartupLine() const {
  return absl::StrCat("quantd listening on ", listen_address_, ", metrics on ",
                      metrics_address().empty() ? "disabled" : metrics_address(), ", data in ",
                      data_dir_);
}

absl::StatusOr<std::unique_ptr<QuantdServer>> QuantdServer::Start(const ServerConfig& config) {
  RETURN_IF_ERROR(ValidateConfig(config));
  std::unique_ptr<QuantdServer> server(new QuantdServer());
  server->config_ = config;
  std::error_code ec;
  const std::filesystem::path data_dir = std::filesystem::absolute(config.data_dir, ec);
  server->data_dir_ = ec ? config.data_dir : data_dir.lexically_normal().string();

  ASSIGN_OR_RETURN(server->access_, LoadAccessControl(config));
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, ServerCredentials(config));
  ASSIGN_OR_RETURN(server->metrics_, Metrics::Create(config.metrics_listen_address));
  if (config.malloc_trim_seconds > 0) {
    server->malloc_trim_ =
        std::make_unique<PeriodicMallocTrim>(absl::Seconds(config.malloc_trim_seconds));
  }
  ASSIGN_OR_RETURN(server->repository_, Repository::Open(server->data_dir_));
  ASSIGN_OR_RETURN(server->jobs_,
                   JobTracker::Load(server->repository_.get(), config.max_finished_jobs));
  Metrics* metrics = server->metrics_.get();
  server->queue_ = std::make_unique<JobQueue>(
      config.job_queue_capacity, [metrics](int64_t depth) { metrics->SetJobQueueDepth(depth); });
  for (const std::string& id : server->jobs_->recovered_queued_job_ids()) {
    server->queue_->PushUnbounded(id);
  }
  // Per-version gauges survive restarts: speed-ups and int8 coverage are
  // stored with the versions, accuracies with the jobs that made them.
  // Deleted versions keep their jobs but get no gauges.
  std::set<std::pair<std::string, int32_t>> int8_versions;
  for (const v1::Model& model : server->repository_->ListModels()) {
    for (const v1::ModelVersion& version : model.versions()) {
      if (version.precision() != v1::INT8) continue;
      int8_versions.emplace(model.id(), version.version());
      if (version.has_speedup()) {
        metrics->SetModelSpeedup(model.id(), version.version(),
                                 version.speedup().throughput_speedup());
      }
      if (version.has_int8_coverage()) {
        metrics->SetModelInt8MacShare(model.id(), version.version(),
                                      version.int8_coverage().mac_share());
      }
    }
  }
  for (const v1::Job& job : server->jobs_->List()) {
    if (job.state() == v1::SUCCEEDED && job.has_fp32_accuracy() && job.has_int8_accuracy() &&
        int8_versions.contains({job.model_id(), job.result_version()})) {
      metrics->SetModelTop1(job.model_id(), job.result_version(), job.fp32_accuracy().top1(),
                            job.int8_accuracy().top1());
    }
  }
  server->sessions_ = std::make_unique<SessionCache>(config.session_cache_capacity);
  auto idle_memory = std::make_shared<engine::IdleMemoryBudget>(config.max_idle_activation_bytes);
  server->runner_ =
      std::make_unique<QuantizationJobRunner>(server->repository_.get(), server->jobs_.get(),
                                              server->sessions_.get(), metrics, idle_memory);
  QuantizationJobRunner* runner = server->runner_.get();
  server->workers_ = std::make_unique<WorkerPool>(
      config.workers, server->queue_.get(),
      [runner](const std::string& job_id, const std::atomic<bool>& stopping) {
        runner->Run(job_id, stopping);
      },
      [metrics, workers = config.workers](int busy) { metrics->SetJobWorkers(workers, busy); });
  metrics->SetJobWorkers(config.workers, 0);
  server->infer_scheduler_ = std::make_unique<InferScheduler>(
      config.infer_concurrency > 0 ? config.infer_concurrency : InferScheduler::DefaultExecutors(),
      config.infer_queue_capacity,
      InferBatching{config.infer_max_batch, absl::Microseconds(config.infer_max_queue_delay_us)},
      [metrics](int64_t running, int64_t waiting) {
        metrics->SetInferConcurrency(running, waiting);
      });
  server->model_runner_ =
      std::make_unique<ModelRunner>(server->repository_.get(), server->sessions_.get(),
                                    server->infer_scheduler_.get(), std::move(idle_memory));
  server->infer_bytes_ = std::make_unique<AdmissionBudget>(
      config.max_infer_inflight_bytes, "Infer request bytes", "--max_infer_inflight_bytes");
  server->service_ = std::make_unique<QuantdService>(
      config, server->access_.get(), server->repository_.get(), server->jobs_.get(),
      server->queue_.get(), server->sessions_.get(), server->model_runner_.get(),
      server->infer_bytes_.get(), metrics);
  server->kserve_service_ = std::make_unique<KServeService>(
      config, server->access_.get(), server->repository_.get(), server->model_runner_.get(),
      server->infer_bytes_.get(), metrics);

  grpc::EnableDefaultHealthCheckService(true);
  if (config.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, std::move(credentials), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_receive_message_bytes));
  // Infer checks its responses against the cap; the other RPCs' responses are
  // small or paged. The margin is for gRPC's framing.
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_infer_response_bytes + (1 << 20)));
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->kserve_service_.get());
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on --listen='", config.listen_address,
                     "' (address in use or malformed? with TLS: are --tls_cert and --tls_key a "
                     "PEM chain and its key?)"));
  }
  server->listen_address_ = WithPort(config.listen_address, port);
  return server;
}

absl::StatusOr<int> QuantdServer::ReloadTokens() { return access_->ReloadTokenFile(); }

void QuantdServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (jobs_ != nullptr) jobs_->Shutdown();
  if (grpc_server_ != nullptr) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
    grpc_server_->Wait();
  }
  if (workers_ != nullptr) workers_->Stop();
}

}  // namespace quantd::server
