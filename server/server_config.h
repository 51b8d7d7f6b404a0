#ifndef QUANTD_SERVER_SERVER_CONFIG_H_
#define QUANTD_SERVER_SERVER_CONFIG_H_

#include <cstdint>
#include <string>

namespace quantd::server {

// Every knob of the server, parsed once from flags in main() and passed down.
struct ServerConfig {
  std::string listen_address = "127.0.0.1:50051";         // port 0: pick a free port
  std::string metrics_listen_address = "127.0.0.1:9464";  // "" or "none": no /metrics
  std::string data_dir = "./.quantd-data";
  int workers = 1;
  int64_t max_model_bytes = int64_t{1} << 30;
  int64_t max_dataset_bytes = int64_t{1} << 30;
  int64_t max_receive_message_bytes = int64_t{64} << 20;
  // Largest Infer response (outputs and classifications); larger ones are
  // refused with RESOURCE_EXHAUSTED before they are built. At most 1 GiB.
  int64_t max_infer_response_bytes = int64_t{64} << 20;
  // Per process: bytes that Infer and ModelInfer calls in progress hold for
  // their inputs (the request and its copy as tensors, decoded images);
  // uploads and downloads running at once. Calls beyond are refused with
  // RESOURCE_EXHAUSTED rather than queued, so memory does not grow with the
  // number of clients.
  int64_t max_infer_inflight_bytes = int64_t{1} << 30;
  int64_t max_concurrent_uploads = 4;
  int64_t max_concurrent_downloads = 8;
  // Activation buffers that loaded sessions keep between runs, all together
  // (engine::IdleMemoryBudget); beyond, a run's buffers are freed after it.
  int64_t max_idle_activation_bytes = int64_t{2} << 30;
  // Every this many seconds, the pages of memory freed since are handed back
  // to the kernel (PeriodicMallocTrim); 0: never.
  int64_t malloc_trim_seconds = 30;
  // Per store: the decoded size of every dataset kept together.
  int64_t max_stored_dataset_bytes = int64_t{16} << 30;
  int64_t job_queue_capacity = 64;
  // Finished jobs kept (GetJob, ListJobs); the ones that finished first go.
  int64_t max_finished_jobs = 10000;
  int session_cache_capacity = 16;
  // Executor threads that run Infer calls' models; 0: cores / OpenMP threads
  // per call (see InferScheduler). Calls beyond wait, at most
  // infer_queue_capacity.
  int infer_concurrency = 0;
  int64_t infer_queue_capacity = 256;
  // Dynamic batching: concurrent calls of one model version and sample shape
  // merge into runs of at most infer_max_batch rows (1: off), the oldest
  // waiting at most infer_max_queue_delay_us for others.
  int64_t infer_max_batch = 32;
  int64_t infer_max_queue_delay_us = 500;
  // Authentication: a file of token digests and roles (see AccessControl),
  // or, only when asked for explicitly, none at all. One of the two is
  // required.
  std::string token_file;
  bool insecure_no_auth = false;
  // TLS for the gRPC port: PEM certificate chain and private key files (both
  // or neither); with tls_client_ca as well, clients must present a
  // certificate signed by that CA (mTLS).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // gRPC server reflection: off, as it describes every RPC to any caller.
  bool reflection = false;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SERVER_CONFIG_H_
