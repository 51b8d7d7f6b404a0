#include "engine/runtime/constant_cache.h"

#include <utility>

namespace quantd::engine {

bool ConstantCache::Matches(const Key& a, const Key& b) {
  return a.owner == b.owner && a.source_hash == b.source_hash && a.desc == b.desc &&
         a.mask == b.mask && a.scales == b.scales;
}

std::optional<dnnl::memory> ConstantCache::Find(const Key& key) const {
  absl::MutexLock lock(&mu_);
  const auto it = by_owner_.find(key.owner);
  if (it == by_owner_.end()) return std::nullopt;
  for (const Entry& entry : it->second) {
    if (Matches(entry.key, key)) return entry.memory;
  }
  return std::nullopt;
}

dnnl::memory ConstantCache::Insert(Key key, dnnl::memory memory) {
  absl::MutexLock lock(&mu_);
  std::vector<Entry>& entries = by_owner_[key.owner];
  for (const Entry& entry : entries) {
    if (Matches(entry.key, key)) return entry.memory;
  }
  entries.push_back(Entry{std::move(key), memory});
  return memory;
}

size_t ConstantCache::size() const {
  absl::MutexLock lock(&mu_);
  size_t count = 0;
  for (const auto& [owner, entries] : by_owner_) count += entries.size();
  return count;
}

}  // namespace quantd::engine
