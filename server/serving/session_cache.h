#ifndef QUANTD_SERVER_SERVING_SESSION_CACHE_H_
#define QUANTD_SERVER_SERVING_SESSION_CACHE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/runtime/inference_session.h"

namespace quantd::server {

// Loaded InferenceSessions by (model id, version), least recently used first
// out, so Infer does not re-import and re-compile a model per request.
// Sessions are shared: an evicted session lives on until its last in-flight
// request finishes.
class SessionCache {
 public:
  using Loader = std::function<absl::StatusOr<std::shared_ptr<engine::InferenceSession>>()>;

  explicit SessionCache(size_t capacity) : capacity_(capacity) {}

  // The cached session, or the result of `loader` (cached if it succeeded).
  // Loads are serialized so concurrent first requests for one model load it once.
  absl::StatusOr<std::shared_ptr<engine::InferenceSession>> GetOrLoad(const std::string& model_id,
                                                                      int32_t version,
                                                                      const Loader& loader);

  // Caches a session built elsewhere (a finished job's int8 session).
  void Insert(const std::string& model_id, int32_t version,
              std::shared_ptr<engine::InferenceSession> session);

  // Drops the cached sessions of a deleted model (every version) or version.
  // Requests already running on one finish with it.
  void Erase(const std::string& model_id);
  void Erase(const std::string& model_id, int32_t version);

  size_t size() const;

 private:
  using Key = std::pair<std::string, int32_t>;
  using Entry = std::pair<Key, std::shared_ptr<engine::InferenceSession>>;

  std::shared_ptr<engine::InferenceSession> Lookup(const Key& key);
  void InsertLocked(const Key& key, std::shared_ptr<engine::InferenceSession> session)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  absl::Mutex load_mu_;  // held while loading; never while holding mu_
  mutable absl::Mutex mu_;
  std::list<Entry> entries_ ABSL_GUARDED_BY(mu_);  // most recently used first
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SERVING_SESSION_CACHE_H_
