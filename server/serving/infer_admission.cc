#include "server/serving/infer_admission.h"

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace quantd::server {

InferAdmission::Slot::Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}

InferAdmission::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release();
}

InferAdmission::InferAdmission(int max_running, int64_t max_waiting,
                               std::function<void(int64_t, int64_t)> on_change)
    : max_running_(std::max(1, max_running)),
      max_waiting_(std::max<int64_t>(0, max_waiting)),
      on_change_(std::move(on_change)) {}

absl::StatusOr<InferAdmission::Slot> InferAdmission::Acquire(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty() && running_ < max_running_) {
    ++running_;
    Notify();
    return Slot(this);
  }
  if (static_cast<int64_t>(queue_.size()) >= max_waiting_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "Infer queue is full: ", queue_.size(), " calls already wait for the ", max_running_,
        " compute slot(s) (--infer_queue_capacity=", max_waiting_, "); retry later"));
  }
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  Notify();
  auto my_turn = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.front() == ticket && running_ < max_running_;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&my_turn), deadline)) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
    Notify();
    return absl::DeadlineExceededError(
        absl::StrCat("deadline passed while waiting for one of the ", max_running_,
                     " Infer compute slot(s)"));
  }
  queue_.pop_front();
  ++running_;
  Notify();
  return Slot(this);
}

void InferAdmission::Release() {
  absl::MutexLock lock(&mu_);
  --running_;
  Notify();
}

void InferAdmission::Notify() {
  if (on_change_) on_change_(running_, static_cast<int64_t>(queue_.size()));
}

int InferAdmission::DefaultMaxRunning() {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  int threads_per_call = cores;
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env != nullptr) {
    int parsed = 0;
    if (absl::SimpleAtoi(env, &parsed) && parsed > 0) threads_per_call = parsed;
  }
  return std::max(1, cores / threads_per_call);
}

int64_t InferAdmission::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int64_t InferAdmission::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

}  // namespace quantd::server
