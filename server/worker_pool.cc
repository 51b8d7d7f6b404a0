#include "server/worker_pool.h"

#include <optional>
#include <utility>

namespace quantd::server {

WorkerPool::WorkerPool(int workers, JobQueue* queue, RunJob run_job)
    : queue_(queue), run_job_(std::move(run_job)) {
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
    run_job_(*job_id, stopping_);
  }
}

}  // namespace quantd::server
