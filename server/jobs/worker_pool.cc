#include "server/jobs/worker_pool.h"

#include <optional>
#include <utility>

namespace quantd::server {

WorkerPool::WorkerPool(int workers, JobQueue* queue, RunJob run_job,
                       std::function<void(int)> on_busy_change)
    : queue_(queue), run_job_(std::move(run_job)), on_busy_change_(std::move(on_busy_change)) {
  threads_.reserve(static_cast<size_t>(workers));
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { WorkLoop(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  stopping_.store(true);
  queue_->Close();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void WorkerPool::WorkLoop() {
  while (!stopping_.load()) {
    std::optional<std::string> job_id = queue_->Pop();
    if (!job_id.has_value()) return;
    const int busy = ++busy_;
    if (on_busy_change_) on_busy_change_(busy);
    run_job_(*job_id, stopping_);
    const int idle = --busy_;
    if (on_busy_change_) on_busy_change_(idle);
  }
}

}  // namespace quantd::server
