// Freed memory that malloc keeps for reuse (KeepLargeAllocationsForReuse)
// goes back to the kernel with PeriodicMallocTrim.

#include "common/large_allocations.h"

#include <chrono>
#include <cstdint>
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

}  // namespace
}  // namespace quantd
