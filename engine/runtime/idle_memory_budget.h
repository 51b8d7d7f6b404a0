#ifndef QUANTD_ENGINE_RUNTIME_IDLE_MEMORY_BUDGET_H_
#define QUANTD_ENGINE_RUNTIME_IDLE_MEMORY_BUDGET_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace quantd::engine {

// Bytes of activation buffers that sessions keep between runs, shared by
// every session given the same budget. A session keeps a finished run's
// execution context (its activation buffers) for the next run only while
// the contexts kept by all of them fit; otherwise the context is freed and
// the next run allocates again. This bounds what a server holds idle across
// many loaded models and batch sizes, not what runs in progress use.
// Thread-safe.
class IdleMemoryBudget {
 public:
  explicit IdleMemoryBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  IdleMemoryBudget(const IdleMemoryBudget&) = delete;
  IdleMemoryBudget& operator=(const IdleMemoryBudget&) = delete;

  // Counts `bytes` as kept if they fit; false (nothing counted) otherwise.
  bool TryKeep(int64_t bytes);
  // Gives back bytes counted by a TryKeep that returned true.
  void Release(int64_t bytes);

  int64_t kept_bytes() const;
  int64_t capacity() const { return capacity_; }

 private:
  const int64_t capacity_;
  mutable absl::Mutex mu_;
  int64_t kept_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_IDLE_MEMORY_BUDGET_H_
