#include "engine/runtime/idle_memory_budget.h"

namespace quantd::engine {

bool IdleMemoryBudget::TryKeep(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  if (bytes > capacity_ - kept_) return false;
  kept_ += bytes;
  return true;
}

void IdleMemoryBudget::Release(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  kept_ -= bytes;
}

int64_t IdleMemoryBudget::kept_bytes() const {
  absl::MutexLock lock(&mu_);
  return kept_;
}

}  // namespace quantd::engine
