#ifndef QUANTD_SERVER_SERVING_INFER_SCHEDULER_H_
#define QUANTD_SERVER_SERVING_INFER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/runtime/inference_session.h"

namespace quantd::server {

struct InferBatching {
  // Most rows one merged run takes; 1 turns merging off.
  int64_t max_batch = 32;
  // How long the oldest waiting call may wait for others to merge with.
  absl::Duration max_delay = absl::Microseconds(500);
};

// Runs every Infer call's model on a few executor threads of its own, merging
// concurrent calls into one batch, as Triton's dynamic batcher does.
//
// Why threads of its own: oneDNN's kernels already use every core through
// OpenMP, and each calling thread gets its own OpenMP team whose threads spin
// after every kernel. Run from many gRPC threads, those teams fight over the
// cores; 32 clients got half the throughput of one. An executor (by default
// one: cores / OpenMP threads per call) keeps one team busy.
//
// Why merging: a batch of 16 runs ResNet-50 int8 at 1.6x the images/s of
// batch 1 here. The executor takes the oldest call, waits up to `max_delay`
// from its arrival for more rows of the same session and sample shapes (the
// non-batch dims of each input; it stops early once calls stop arriving),
// then runs up to `max_batch` rows of them, oldest first, as one run (each
// input stacked along dimension 0) and hands each call its own rows of every
// output. A merged run aims at a power of two rows, so that a session
// compiles Plans for few batch sizes (calls of several rows can make other
// sums). Only models whose inputs and outputs all have a dynamic dimension 0
// merge, and only calls whose inputs all hold the same number of rows; a
// merged run that fails runs each call again alone. Calls of other shapes or
// models wait their turn in arrival order.
class InferScheduler {
 public:
  struct Timing {
    absl::Duration queue;     // arrival until its batch started
    absl::Duration compute;   // its batch's run
    int64_t batch_rows = 0;   // rows of the run it was part of
    bool led_run = false;     // the first call of its run (one per run)
  };
  // One waiting Run() (defined in the .cc).
  struct Call;

  // `on_change` (may be empty) is told the running and waiting counts after
  // every change; the server feeds it into gauges.
  InferScheduler(int executors, int64_t max_waiting, InferBatching batching,
                 std::function<void(int64_t running, int64_t waiting)> on_change = {});
  // Stops the executors after the runs in progress; calls still waiting get
  // UNAVAILABLE. No Run() may be in progress (the server destroys it after
  // gRPC has finished every call, so the queue has drained by then).
  ~InferScheduler();
  InferScheduler(const InferScheduler&) = delete;
  InferScheduler& operator=(const InferScheduler&) = delete;

  // Runs `inputs` (one per model input, as InferenceSession::Run takes them;
  // dimension 0 of each the batch) on `session`, possibly merged with other
  // calls. INVALID_ARGUMENT for no input or one without a batch row;
  // RESOURCE_EXHAUSTED naming the limit when `max_waiting` calls already
  // wait (beyond one per idle executor); DEADLINE_EXCEEDED when `deadline`
  // passes before its batch starts (it is then not run). At most half the
  // time to `deadline` is spent waiting for calls to merge with. A call of
  // one tensor runs as InferenceSession::Run(const Tensor&) does.
  absl::StatusOr<std::vector<engine::Tensor>> Run(std::shared_ptr<engine::InferenceSession> session,
                                                  std::vector<engine::Tensor> inputs,
                                                  absl::Time deadline = absl::InfiniteFuture(),
                                                  Timing* timing = nullptr);
  // The same for one input tensor.
  absl::StatusOr<std::vector<engine::Tensor>> Run(std::shared_ptr<engine::InferenceSession> session,
                                                  engine::Tensor input,
                                                  absl::Time deadline = absl::InfiniteFuture(),
                                                  Timing* timing = nullptr);

  // cores / OpenMP threads per call (OMP_NUM_THREADS, else every core), at
  // least 1: the concurrency at which runs stop oversubscribing the cores.
  static int DefaultExecutors();

  int executors() const { return static_cast<int>(executors_.size()); }
  int64_t running() const;
  int64_t waiting() const;
  // Merged runs so far, and the calls they served (tests, statistics).
  int64_t runs() const;

 private:
  void ExecutorLoop();
  // Waits while `first` (the oldest call) may still get company: until
  // max_batch rows of its kind wait, no call has arrived for a fifth of
  // max_delay, or max_delay (at most half its time to its deadline) passed.
  void AwaitCompany(const Call& first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The calls that run with `first` (the oldest), taken out of the queue.
  std::vector<std::shared_ptr<Call>> TakeBatch(const Call& first)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t RowsLike(const Call& first) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_waiting_;
  const InferBatching batching_;
  const std::function<void(int64_t, int64_t)> on_change_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<Call>> queue_ ABSL_GUARDED_BY(mu_);
  int64_t running_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_arrival_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> executors_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SERVING_INFER_SCHEDULER_H_
