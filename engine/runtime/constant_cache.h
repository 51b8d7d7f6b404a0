#ifndef QUANTD_ENGINE_RUNTIME_CONSTANT_CACHE_H_
#define QUANTD_ENGINE_RUNTIME_CONSTANT_CACHE_H_

// Reordered weights shared by the Plans of one session. A session compiles a
// Plan per input shape (batch 1, 32, the batch-split tuner's sub-batches, ...);
// without sharing, each Plan held its own copy of every layer's weights in the
// layout its primitive asked for (~150 MB per Plan for fp32 ResNet-50 with
// Winograd-transformed 3x3 weights). oneDNN picks the same weight layout for
// most batch sizes, so Plans asking for the same layout now share one memory.

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

class ConstantCache {
 public:
  // Identifies one reordered constant: the node that owns it, a fingerprint
  // of the plain source values (so a node whose weights a Plan prepares
  // differently, e.g. fake-quantized, never gets another Plan's bytes), the
  // layout it was reordered into and the quantization scales applied.
  struct Key {
    std::string owner;
    size_t source_hash = 0;
    dnnl::memory::desc desc;
    int mask = 0;
    std::vector<float> scales;
  };

  // The memory stored under `key`, if any.
  std::optional<dnnl::memory> Find(const Key& key) const;
  // Stores `memory` under `key` and returns what is stored: `memory`, or the
  // entry another Plan stored first.
  dnnl::memory Insert(Key key, dnnl::memory memory);

  // Distinct constants held (for tests).
  size_t size() const;

 private:
  struct Entry {
    Key key;
    dnnl::memory memory;
  };
  static bool Matches(const Key& a, const Key& b);

  mutable absl::Mutex mu_;
  std::unordered_map<std::string, std::vector<Entry>> by_owner_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_CONSTANT_CACHE_H_
