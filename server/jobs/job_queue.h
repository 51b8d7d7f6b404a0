#ifndef QUANTD_SERVER_JOBS_JOB_QUEUE_H_
#define QUANTD_SERVER_JOBS_JOB_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace quantd::server {

// A bounded FIFO of job ids waiting for a worker. Bounded so that a flood of
// QuantizeModel calls is refused up front instead of queueing hours of work.
class JobQueue {
 public:
  // `on_depth_change` (may be empty) is told the new depth after every change;
  // the server feeds it into the queue-depth gauge.
  explicit JobQueue(int64_t capacity, std::function<void(int64_t)> on_depth_change = {});

  // RESOURCE_EXHAUSTED naming the limit when full, UNAVAILABLE once closed.
  absl::Status Push(const std::string& job_id);
  // Ignores the capacity: used when re-queueing jobs found on restart, which
  // were admitted before and must not be dropped.
  void PushUnbounded(const std::string& job_id);
  // Drops a waiting id (a job cancelled while QUEUED), so it no longer counts
  // towards the capacity; false if it was not waiting.
  bool Remove(const std::string& job_id);
  // Blocks until a job id is available; nullopt once the queue is closed.
  std::optional<std::string> Pop();
  // Wakes every Pop() and makes later ones return nullopt. Ids still queued
  // stay QUEUED in the repository and run after the next start.
  void Close();

  int64_t depth() const;
  int64_t capacity() const { return capacity_; }

 private:
  void NotifyDepth() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t capacity_;
  const std::function<void(int64_t)> on_depth_change_;
  mutable absl::Mutex mu_;
  std::deque<std::string> ids_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_JOBS_JOB_QUEUE_H_
