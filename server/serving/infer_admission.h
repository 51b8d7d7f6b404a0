#ifndef QUANTD_SERVER_SERVING_INFER_ADMISSION_H_
#define QUANTD_SERVER_SERVING_INFER_ADMISSION_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace quantd::server {

// Decides when an Infer call may run its model. oneDNN's kernels already use
// every core through OpenMP, so two models running at once only fight over
// the cores (libgomp threads spin while they wait): latency gets worse for
// both. Calls beyond `max_running` wait here, first come first served, and
// at most `max_waiting` of them wait; the rest are refused at once, so a
// flood of requests cannot pile up unbounded work.
class InferAdmission {
 public:
  // Ends the call's turn when destroyed, letting the next waiting call run.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class InferAdmission;
    explicit Slot(InferAdmission* owner) : owner_(owner) {}
    InferAdmission* owner_;
  };

  // `on_change` (may be empty) is told the running and waiting counts after
  // every change; the server feeds it into gauges.
  InferAdmission(int max_running, int64_t max_waiting,
                 std::function<void(int64_t running, int64_t waiting)> on_change = {});

  // Blocks until the call may run. RESOURCE_EXHAUSTED naming the limit when
  // `max_waiting` calls already wait; DEADLINE_EXCEEDED when `deadline`
  // passes first (the client gave up; its turn goes to the next call).
  absl::StatusOr<Slot> Acquire(absl::Time deadline = absl::InfiniteFuture());

  // cores / OpenMP threads per call (OMP_NUM_THREADS, else every core), at
  // least 1: the concurrency at which calls stop oversubscribing the cores.
  static int DefaultMaxRunning();

  int64_t running() const;
  int64_t waiting() const;

 private:
  void Release();
  void Notify() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_running_;
  const int64_t max_waiting_;
  const std::function<void(int64_t, int64_t)> on_change_;
  mutable absl::Mutex mu_;
  int64_t running_ ABSL_GUARDED_BY(mu_) = 0;
  // Tickets of the waiting calls in arrival order: a call runs when its
  // ticket is first and a slot is free (absl::Mutex wakes waiters in no
  // particular order, so it alone would not be first come first served).
  std::deque<uint64_t> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SERVING_INFER_ADMISSION_H_
