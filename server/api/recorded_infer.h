#ifndef QUANTD_SERVER_API_RECORDED_INFER_H_
#define QUANTD_SERVER_API_RECORDED_INFER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "server/api/grpc_status.h"
#include "server/metrics/metrics.h"
#include "server/serving/infer_scheduler.h"
#include "server/storage/repository.h"

namespace quantd::server {

// What both APIs' inference RPCs share around their body: run it Guarded,
// then record the call (outcome, latency, sizes, and whatever the body
// filled in of `call` before it succeeded or failed) in `metrics`, unless
// its version was deleted from `repository` meanwhile.
template <typename Request, typename Response, typename Body>
grpc::Status RecordedInfer(const std::string& rpc, Metrics& metrics, const Repository& repository,
                           const Request& request, const Response& response, Body&& body) {
  const absl::Time start = absl::Now();
  Metrics::InferCall call;
  grpc::Status status = Guarded(rpc, [&] { return body(call); });
  call.code = static_cast<absl::StatusCode>(status.error_code());
  call.latency = absl::Now() - start;
  if (status.ok()) {
    call.request_bytes = static_cast<int64_t>(request.ByteSizeLong());
    call.response_bytes = static_cast<int64_t>(response.ByteSizeLong());
  }
  metrics.RecordInfer(call, [&] {
    int32_t version = 0;
    // Calls refused before a version was chosen ("none") have nothing to lose.
    return !absl::SimpleAtoi(call.version, &version) || repository.HasVersion(call.model, version);
  });
  return status;
}

// The scheduler's account of a call's run, copied into the call's record.
inline void SetRunTiming(const InferScheduler::Timing& timing, Metrics::InferCall& call) {
  call.queue_time = timing.queue;
  call.compute_time = timing.compute;
  call.merged_batch_rows = timing.batch_rows;
  call.counts_execution = timing.led_run;
}

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_RECORDED_INFER_H_
