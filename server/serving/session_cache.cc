#include "server/serving/session_cache.h"

namespace quantd::server {

std::shared_ptr<engine::InferenceSession> SessionCache::Lookup(const Key& key) {
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == key) {
      entries_.splice(entries_.begin(), entries_, it);
      return entries_.front().second;
    }
  }
  return nullptr;
}

void SessionCache::InsertLocked(const Key& key, std::shared_ptr<engine::InferenceSession> session) {
  entries_.remove_if([&](const Entry& e) { return e.first == key; });
  entries_.emplace_front(key, std::move(session));
  while (entries_.size() > capacity_) entries_.pop_back();
}

absl::StatusOr<std::shared_ptr<engine::InferenceSession>> SessionCache::GetOrLoad(
    const std::string& model_id, int32_t version, const Loader& loader) {
  const Key key(model_id, version);
  if (auto hit = Lookup(key)) return hit;
  absl::MutexLock load_lock(&load_mu_);
  // Another request may have loaded it while this one waited for load_mu_.
  if (auto hit = Lookup(key)) return hit;
  absl::StatusOr<std::shared_ptr<engine::InferenceSession>> loaded = loader();
  if (!loaded.ok()) return loaded.status();
  std::shared_ptr<engine::InferenceSession> session = std::move(*loaded);
  absl::MutexLock lock(&mu_);
  InsertLocked(key, session);
  return session;
}

void SessionCache::Insert(const std::string& model_id, int32_t version,
                          std::shared_ptr<engine::InferenceSession> session) {
  absl::MutexLock lock(&mu_);
  InsertLocked(Key(model_id, version), std::move(session));
}

void SessionCache::Erase(const std::string& model_id) {
  absl::MutexLock lock(&mu_);
  entries_.remove_if([&](const Entry& e) { return e.first.first == model_id; });
}

void SessionCache::Erase(const std::string& model_id, int32_t version) {
  absl::MutexLock lock(&mu_);
  entries_.remove_if([&](const Entry& e) { return e.first == Key(model_id, version); });
}

size_t SessionCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace quantd::server
