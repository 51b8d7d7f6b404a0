#include "common/large_allocations.h"

#include <malloc.h>

namespace quantd {

void KeepLargeAllocationsForReuse() {
  // Both fail only for values glibc rejects; malloc then keeps its defaults,
  // which are slower for large blocks but correct.
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void LimitMallocArenas(int arenas) {
  if (arenas > 0) mallopt(M_ARENA_MAX, arenas);
}

PeriodicMallocTrim::PeriodicMallocTrim(absl::Duration interval)
    : thread_([this, interval] {
        while (!stop_.WaitForNotificationWithTimeout(interval)) malloc_trim(0);
      }) {}

PeriodicMallocTrim::~PeriodicMallocTrim() {
  stop_.Notify();
  thread_.join();
}

}  // namespace quantd
