#include "server/storage/resource_id.h"

#include <cstdint>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"

namespace quantd::server {
namespace {

// mt19937_64 is trivially destructible, so a function-local static is safe.
uint64_t RandomBits() {
  static absl::Mutex mu(absl::kConstInit);
  static std::mt19937_64 generator ABSL_GUARDED_BY(mu) = [] {
    std::random_device seed;
    return std::mt19937_64((uint64_t{seed()} << 32) ^ seed());
  }();
  absl::MutexLock lock(&mu);
  return generator();
}

}  // namespace

std::string NewResourceId(const std::string& prefix) {
  return absl::StrFormat("%s_%016x", prefix, RandomBits());
}

}  // namespace quantd::server
