#include "server/jobs/job_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace quantd::server {

JobQueue::JobQueue(int64_t capacity, std::function<void(int64_t)> on_depth_change)
    : capacity_(capacity), on_depth_change_(std::move(on_depth_change)) {}

void JobQueue::NotifyDepth() {
  if (on_depth_change_) on_depth_change_(static_cast<int64_t>(ids_.size()));
}

absl::Status JobQueue::Push(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("the server is shutting down; retry after restart");
  if (static_cast<int64_t>(ids_.size()) >= capacity_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("job queue is full (--job_queue_capacity=", capacity_, "); retry later"));
  }
  ids_.push_back(job_id);
  NotifyDepth();
  return absl::OkStatus();
}

void JobQueue::PushUnbounded(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  ids_.push_back(job_id);
  NotifyDepth();
}

bool JobQueue::Remove(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  for (auto it = ids_.begin(); it != ids_.end(); ++it) {
    if (*it == job_id) {
      ids_.erase(it);
      NotifyDepth();
      return true;
    }
  }
  return false;
}

std::optional<std::string> JobQueue::Pop() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](JobQueue* q)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) { return q->closed_ || !q->ids_.empty(); },
      this));
  if (closed_) return std::nullopt;
  std::string id = std::move(ids_.front());
  ids_.pop_front();
  NotifyDepth();
  return id;
}

void JobQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

int64_t JobQueue::depth() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(ids_.size());
}

}  // namespace quantd::server
