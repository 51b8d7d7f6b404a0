#ifndef QUANTD_SERVER_METRICS_METRICS_H_
#define QUANTD_SERVER_METRICS_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/metrics/infer_statistics.h"

namespace quantd::server {

enum class JobOutcome { kSucceeded, kFailed, kCancelled };

// The server's Prometheus metrics (names and labels: docs/METRICS.md) and the
// HTTP endpoint that serves them at /metrics. prometheus-cpp stays behind this
// interface so that only metrics.cc depends on it.
class Metrics {
 public:
  // Serves /metrics on `listen_address` ("host:port", port 0 picks one);
  // "" or "none" keeps the metrics in memory only (RenderText() still works).
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(const std::string& listen_address);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // "host:port" actually bound, or "" when not serving.
  const std::string& bound_address() const;

  // One finished inference call of either API (see InferCall): counted in
  // quantd's own metrics (labels model, version, precision), and in the
  // per-version statistics behind Triton's ModelStatistics and the
  // nv_inference_* metrics. Latencies, batch size and bytes are recorded
  // for successful calls only; the request count for every call.
  // `version_exists` is asked, serialized with RemoveModelVersion, whether
  // the call's version is still stored: a call that ran while its version
  // was deleted is not recorded, since recording it would bring back the
  // series RemoveModelVersion just removed, for good.
  using InferCall = server::InferCall;
  void RecordInfer(const InferCall& call, const std::function<bool()>& version_exists = nullptr);
  // Runs in progress right now, and Infer calls waiting for their run.
  void SetInferConcurrency(int64_t running, int64_t waiting);
  // Quantization workers configured, and those running a job right now.
  void SetJobWorkers(int64_t total, int64_t busy);
  void RecordJobFinished(JobOutcome outcome, absl::Duration run_time);
  void SetJobQueueDepth(int64_t depth);
  // The per-version gauges of a published int8 version. Like RecordInfer,
  // each asks `version_exists` serialized with RemoveModelVersion: a version
  // deleted as soon as it was published (its job is SUCCEEDED by then) gets
  // no gauges back, and a gauge is never set while its series is removed.
  //
  // Accuracy of the int8 version and of its fp32 original on the same
  // evaluation set; both gauges carry the int8 version's number.
  void SetModelTop1(const std::string& model_id, int32_t version, double fp32_top1,
                    double int8_top1, const std::function<bool()>& version_exists = nullptr);
  // Measured int8/fp32 throughput ratio.
  void SetModelSpeedup(const std::string& model_id, int32_t version, double throughput_speedup,
                       const std::function<bool()>& version_exists = nullptr);
  // Fraction in [0, 1] of the version's multiply-accumulates that run in
  // int8 kernels (Int8Coverage.mac_share).
  void SetModelInt8MacShare(const std::string& model_id, int32_t version, double mac_share,
                            const std::function<bool()>& version_exists = nullptr);
  // Drops every per-version series and statistic of a deleted version.
  void RemoveModelVersion(const std::string& model_id, int32_t version);

  // Triton's per-version statistics (ModelStatistics RPC); `model_id` (and
  // `version`) empty means all.
  std::vector<VersionStatistics> InferStatisticsOf(const std::string& model_id,
                                                   const std::string& version) const;

  // The Prometheus text exposition of every metric, as /metrics serves it.
  std::string RenderText() const;

 private:
  struct Impl;
  explicit Metrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_METRICS_METRICS_H_
