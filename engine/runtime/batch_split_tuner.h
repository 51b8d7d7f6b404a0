#ifndef QUANTD_ENGINE_RUNTIME_BATCH_SPLIT_TUNER_H_
#define QUANTD_ENGINE_RUNTIME_BATCH_SPLIT_TUNER_H_

// Which sub-batch size runs a large batch fastest. Measured, not guessed:
// memory-bound networks (MobileNetV2's depthwise/1x1 stacks) run a batch of
// 32 about 25% faster as eight batches of 4, whose activations stay in cache,
// while compute-bound ones (ResNets with Winograd 3x3) are fastest whole.
// The first runs of each batch size try each candidate twice in a row (the
// first try compiles its Plan and is not counted), one candidate after the
// other so the caller can drop a measured candidate's Plan before the next
// one is compiled (Plans hold their own weights and activation memory); from
// then on the fastest candidate is used.

#include <cstdint>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace quantd::engine {

class BatchSplitTuner {
 public:
  // Batches of at most this many images are never split.
  static constexpr int64_t kMinSplitBatch = 8;

  // The sub-batch size to run `batch` images with now: a candidate still
  // being measured, or the fastest one once all are measured.
  int64_t ChunkFor(int64_t batch);

  // Reports that running `batch` images in sub-batches of `chunk` took
  // `seconds`. Returns true when `chunk` is measured and not (or not yet
  // known to be) the winner: its Plan can be dropped.
  bool Report(int64_t batch, int64_t chunk, double seconds);

  // Candidates for `batch`: the whole batch, then 16, 8 and 4 where they
  // divide it (so every sub-batch reuses one Plan).
  static std::vector<int64_t> Candidates(int64_t batch);

 private:
  struct Tuning {
    std::vector<int64_t> candidates;
    std::vector<int> tries;              // per candidate, runs reported so far
    std::vector<double> best_seconds;    // per candidate, fastest counted run
    int64_t chosen = 0;                  // 0 while measuring
  };
  static constexpr int kTriesPerCandidate = 2;

  absl::Mutex mu_;
  std::map<int64_t, Tuning> tunings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_BATCH_SPLIT_TUNER_H_
