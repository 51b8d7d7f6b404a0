#ifndef QUANTD_SERVER_JOBS_WORKER_POOL_H_
#define QUANTD_SERVER_JOBS_WORKER_POOL_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "server/jobs/job_queue.h"

namespace quantd::server {

// N threads that take job ids from a JobQueue and run them one at a time.
class WorkerPool {
 public:
  // `run_job` must not throw; it should return soon after `stopping` turns true.
  using RunJob = std::function<void(const std::string& job_id, const std::atomic<bool>& stopping)>;

  // `on_busy_change` (may be empty) is told how many workers run a job after
  // every start and end of one; the server feeds it into a gauge.
  WorkerPool(int workers, JobQueue* queue, RunJob run_job,
             std::function<void(int busy)> on_busy_change = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Asks running jobs to stop, closes the queue and joins every thread.
  // Idempotent.
  void Stop();

 private:
  void WorkLoop();

  JobQueue* const queue_;
  const RunJob run_job_;
  const std::function<void(int)> on_busy_change_;
  std::atomic<int> busy_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_JOBS_WORKER_POOL_H_
