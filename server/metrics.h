#ifndef QUANTD_SERVER_METRICS_H_
#define QUANTD_SERVER_METRICS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

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

  // One finished Infer call. `model` is the model id (or "unknown" when the
  // request named no existing model); `precision` is "fp32", "int8" or
  // "unspecified"; latency is recorded for successful calls only.
  void RecordInfer(const std::string& model, const std::string& precision, absl::StatusCode code,
                   absl::Duration latency);
  void RecordJobFinished(JobOutcome outcome, absl::Duration run_time);
  void SetJobQueueDepth(int64_t depth);
  // Accuracy of a published int8 version and of its fp32 original on the same
  // evaluation set; both gauges carry the int8 version's number.
  void SetModelTop1(const std::string& model_id, int32_t version, double fp32_top1,
                    double int8_top1);

  // Measured int8/fp32 throughput ratio of a published int8 version.
  void SetModelSpeedup(const std::string& model_id, int32_t version, double throughput_speedup);
  // Drops every per-version gauge of a deleted version.
  void RemoveModelVersion(const std::string& model_id, int32_t version);

  // The Prometheus text exposition of every metric, as /metrics serves it.
  std::string RenderText() const;

 private:
  struct Impl;
  explicit Metrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_METRICS_H_
