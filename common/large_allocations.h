#ifndef QUANTD_COMMON_LARGE_ALLOCATIONS_H_
#define QUANTD_COMMON_LARGE_ALLOCATIONS_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace quantd {

// Lets glibc's malloc keep freed blocks of up to 512 MiB for reuse instead of
// returning each one to the kernel. By default it does that only for blocks
// below 32 MiB (its dynamic mmap threshold stops there): every larger block,
// such as the output of a batch of segmentation maps (32 x 21 x 224 x 224
// floats, 135 MB), is a fresh mmap whose pages the kernel faults in and zeroes
// on first touch. Measured on LRASPP-MobileNetV3 at batch 32 (quantd_bench,
// 2 threads): int8 215 -> 91 ms per batch, fp32 296 -> 198 ms.
// Scope: the main heap, which the process's first thread allocates from;
// other threads' arenas are at most 64 MiB each, so larger blocks there are
// still mmapped. Freed memory above the heap's top is kept up to 1 GiB.
// Call once at start, before other threads exist.
void KeepLargeAllocationsForReuse();

// Caps malloc's arenas at `arenas` (0: glibc's default, 8 per core). glibc
// gives each new thread an arena of its own until that default is reached,
// and a block freed in an arena is reused only by threads allocating from
// it; a server whose gRPC, scheduler and job threads each allocate large
// activations then holds up to 16 arenas' worth of free blocks on 2 cores.
// The soak measured RSS 966 -> 1,169 MiB over 8 minutes with the live heap
// flat at 140-180 MiB and 852 MiB free in malloc, most of it in 64 MiB
// arena heaps. Small allocations are unaffected (each thread's tcache serves
// them without taking an arena's lock). Call before other threads exist.
void LimitMallocArenas(int arenas);

// The other half of that bargain for a long-running server: a thread that
// every `interval` hands the free pages malloc keeps (in every arena, not
// only above the heap's top) back to the kernel with malloc_trim(0). Without
// it RSS creeps up under mixed traffic while live memory stays flat: the
// soak measured 1,043 -> 1,246 MiB over seven minutes with 110-190 MiB in
// use. The blocks stay in malloc's free lists; only their pages go, so a
// block reused after a trim faults its pages in once more, not on every call.
// Stops (and joins) when destroyed.
class PeriodicMallocTrim {
 public:
  explicit PeriodicMallocTrim(absl::Duration interval);
  ~PeriodicMallocTrim();
  PeriodicMallocTrim(const PeriodicMallocTrim&) = delete;
  PeriodicMallocTrim& operator=(const PeriodicMallocTrim&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace quantd

#endif  // QUANTD_COMMON_LARGE_ALLOCATIONS_H_
