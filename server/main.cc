// quantd: serves int8 quantization and inference of ONNX CNNs over gRPC.

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/large_allocations.h"
#include "server/quantd_server.h"
#include "server/server_config.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC address host:port; port 0 picks a free port (printed on start)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus /metrics address host:port; \"\" or \"none\" disables it");
ABSL_FLAG(std::string, data_dir, "./.quantd-data",
          "Directory for the metadata database and stored models and datasets");
ABSL_FLAG(int32_t, workers, 1, "Quantization jobs run concurrently");
ABSL_FLAG(int64_t, max_model_bytes, int64_t{1} << 30, "Largest accepted ONNX upload");
ABSL_FLAG(int64_t, max_dataset_bytes, int64_t{1} << 30,
          "Largest accepted dataset upload (samples and labels together)");
ABSL_FLAG(int64_t, max_receive_message_bytes, int64_t{64} << 20,
          "Largest single gRPC message accepted (bounds Infer batch size)");
ABSL_FLAG(int64_t, job_queue_capacity, 64,
          "Jobs that may wait for a worker; QuantizeModel fails with RESOURCE_EXHAUSTED beyond");

ABSL_FLAG(int32_t, infer_concurrency, 0,
          "Executor threads that run Infer calls' models; 0: cores / OpenMP threads per call "
          "(running more at once only oversubscribes the cores)");
ABSL_FLAG(int64_t, infer_queue_capacity, 256,
          "Infer calls that may wait for an executor; Infer fails with RESOURCE_EXHAUSTED "
          "beyond");
ABSL_FLAG(int64_t, infer_max_batch, 32,
          "Dynamic batching: most rows that concurrent Infer calls of one model version and "
          "sample shape merge into; 1 turns merging off");
ABSL_FLAG(int64_t, infer_max_queue_delay_us, 500,
          "Dynamic batching: how long the oldest waiting Infer call may wait for others to "
          "merge with, in microseconds (at most 1,000,000)");

ABSL_FLAG(int64_t, max_infer_response_bytes, int64_t{64} << 20,
          "Largest Infer response (output tensors and top-k classifications), at most 1 GiB; "
          "larger ones fail with RESOURCE_EXHAUSTED before they are built");

ABSL_FLAG(int64_t, max_infer_inflight_bytes, int64_t{1} << 30,
          "Bytes that Infer/ModelInfer calls in progress may hold for their inputs together "
          "(the request, its tensors, decoded images); calls beyond fail with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_concurrent_uploads, 4,
          "Model and dataset uploads received at once; more fail with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_concurrent_downloads, 8,
          "DownloadVersion streams at once; more fail with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_idle_activation_bytes, int64_t{2} << 30,
          "Activation buffers that loaded models keep between runs, all together; beyond, a "
          "run's buffers are freed after it (0: none kept)");
ABSL_FLAG(int32_t, malloc_arenas, 2,
          "At most this many malloc arenas (0: glibc's default, 8 per core): fewer arenas "
          "share their freed blocks, which keeps RSS near the live heap under many threads");
ABSL_FLAG(int64_t, malloc_trim_seconds, 30,
          "Every this many seconds, hand the pages of freed memory back to the kernel "
          "(malloc_trim); 0: never");
ABSL_FLAG(int64_t, max_stored_dataset_bytes, int64_t{16} << 30,
          "Decoded bytes of all stored datasets together; an upload beyond fails with "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_finished_jobs, 10000,
          "Finished jobs kept for GetJob/ListJobs; beyond, those that finished first are deleted");
ABSL_FLAG(std::string, token_file, "",
          "Bearer tokens: a file of 'SHA256-OF-TOKEN ROLE [NAME]' lines (roles admin, build, "
          "infer, read; quantctl new-token makes one). Required unless --insecure_no_auth");
ABSL_FLAG(bool, insecure_no_auth, false,
          "Serve every RPC to anyone who reaches --listen, without tokens (tests, benchmarks "
          "on loopback)");
ABSL_FLAG(std::string, tls_cert, "",
          "TLS: PEM certificate chain of the gRPC port (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "TLS: PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "mTLS: PEM CA certificates; clients must present a certificate signed by one");
ABSL_FLAG(bool, reflection, false,
          "Serve gRPC server reflection (lists every service and message to any caller)");

int main(int argc, char** argv) {
  // Before any thread starts: large Infer outputs are reused, not re-faulted.
  quantd::KeepLargeAllocationsForReuse();
  absl::SetProgramUsageMessage("quantd: int8 quantization and inference service for ONNX CNNs");
  absl::ParseCommandLine(argc, argv);
  // Still before any thread starts (flag parsing starts none).
  if (absl::GetFlag(FLAGS_malloc_arenas) < 0) {
    std::cerr << "quantd: --malloc_arenas must be >= 0, got " << absl::GetFlag(FLAGS_malloc_arenas)
              << std::endl;
    return 1;
  }
  quantd::LimitMallocArenas(absl::GetFlag(FLAGS_malloc_arenas));

  quantd::server::ServerConfig config;
  config.listen_address = absl::GetFlag(FLAGS_listen);
  config.metrics_listen_address = absl::GetFlag(FLAGS_metrics_listen);
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.workers = absl::GetFlag(FLAGS_workers);
  config.max_model_bytes = absl::GetFlag(FLAGS_max_model_bytes);
  config.max_dataset_bytes = absl::GetFlag(FLAGS_max_dataset_bytes);
  config.max_receive_message_bytes = absl::GetFlag(FLAGS_max_receive_message_bytes);
  config.max_infer_response_bytes = absl::GetFlag(FLAGS_max_infer_response_bytes);
  config.job_queue_capacity = absl::GetFlag(FLAGS_job_queue_capacity);
  config.infer_concurrency = absl::GetFlag(FLAGS_infer_concurrency);
  config.infer_queue_capacity = absl::GetFlag(FLAGS_infer_queue_capacity);
  config.infer_max_batch = absl::GetFlag(FLAGS_infer_max_batch);
  config.infer_max_queue_delay_us = absl::GetFlag(FLAGS_infer_max_queue_delay_us);
  config.max_finished_jobs = absl::GetFlag(FLAGS_max_finished_jobs);
  config.max_infer_inflight_bytes = absl::GetFlag(FLAGS_max_infer_inflight_bytes);
  config.max_concurrent_uploads = absl::GetFlag(FLAGS_max_concurrent_uploads);
  config.max_concurrent_downloads = absl::GetFlag(FLAGS_max_concurrent_downloads);
  config.max_stored_dataset_bytes = absl::GetFlag(FLAGS_max_stored_dataset_bytes);
  config.max_idle_activation_bytes = absl::GetFlag(FLAGS_max_idle_activation_bytes);
  config.malloc_trim_seconds = absl::GetFlag(FLAGS_malloc_trim_seconds);
  config.token_file = absl::GetFlag(FLAGS_token_file);
  config.insecure_no_auth = absl::GetFlag(FLAGS_insecure_no_auth);
  config.reflection = absl::GetFlag(FLAGS_reflection);
  config.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  config.tls_key = absl::GetFlag(FLAGS_tls_key);
  config.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);

  // Block the signals quantd handles before any thread starts, so every
  // thread inherits the mask and only sigwait() below ever receives them:
  // SIGINT and SIGTERM shut down, SIGHUP reloads --token_file.
  sigset_t handled_signals;
  sigemptyset(&handled_signals);
  sigaddset(&handled_signals, SIGINT);
  sigaddset(&handled_signals, SIGTERM);
  sigaddset(&handled_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &handled_signals, nullptr);

  auto server = quantd::server::QuantdServer::Start(config);
  if (!server.ok()) {
    std::cerr << "quantd: " << server.status() << std::endl;
    return 1;
  }
  std::cout << (*server)->StartupLine() << std::endl;

  int signal_number = 0;
  while (sigwait(&handled_signals, &signal_number) == 0 && signal_number == SIGHUP) {
    const absl::StatusOr<int> tokens = (*server)->ReloadTokens();
    if (tokens.ok()) {
      std::cerr << "quantd: SIGHUP: reloaded " << *tokens << " tokens from --token_file"
                << std::endl;
    } else {
      std::cerr << "quantd: SIGHUP: kept the tokens in use: " << tokens.status() << std::endl;
    }
  }
  std::cerr << "quantd: received signal " << signal_number << ", shutting down" << std::endl;
  (*server)->Shutdown();
  return 0;
}
