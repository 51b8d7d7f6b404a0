// Freed memory that malloc keeps for reuse (KeepLargeAllocationsForReuse)
// goes back to the kernel with PeriodicMallocTrim.

#include "common/large_allocations.h"

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/glibc_malloc.h"

namespace quantd {
namespace {

// Anonymous resident memory of this process, in bytes.
int64_t RssAnonBytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "RssAnon:") {
      int64_t kib = 0;
      status >> kib;
      return kib << 10;
    }
  }
  return -1;
}

using ::quantd::testing_support::kGlibcMalloc;

TEST(PeriodicMallocTrimTest, HandsFreedPagesBackToTheKernel) {
  if (!kGlibcMalloc) GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc";
  KeepLargeAllocationsForReuse();
  constexpr int64_t kBlock = int64_t{256} << 20;
  {
    std::vector<char> block(kBlock, 1);  // touched: resident
  }
  // Freed, but kept by malloc (below the 1 GiB trim threshold): still resident.
  const int64_t kept = RssAnonBytes();
  ASSERT_GT(kept, kBlock / 2);
  {
    PeriodicMallocTrim trim(absl::Milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_LT(RssAnonBytes(), kept - kBlock / 2);
}

// The number of arenas malloc_info reports (one <heap nr="..."> each).
int MallocArenas() {
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  malloc_info(0, stream);
  fclose(stream);
  const std::string info(text, size);
  free(text);
  int arenas = 0;
  for (size_t at = info.find("<heap nr="); at != std::string::npos;
       at = info.find("<heap nr=", at + 1)) {
    ++arenas;
  }
  return arenas;
}

// Eight threads allocating at once would each get an arena of their own
// (glibc's default allows 16 on 2 cores); with the cap they share two.
TEST(LimitMallocArenasTest, ThreadsShareAtMostTheCappedArenas) {
  if (!kGlibcMalloc) GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc";
  LimitMallocArenas(2);
  std::atomic<int> allocated{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&allocated] {
      std::vector<char> block(1 << 20, 1);
      ++allocated;
      // Hold the block until every thread has one: all allocate concurrently.
      while (allocated.load() < 8) std::this_thread::yield();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(MallocArenas(), 2);
}

}  // namespace
}  // namespace quantd
