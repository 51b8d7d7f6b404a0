#ifndef QUANTD_ENGINE_RUNTIME_BATCH_SPLIT_TUNER_H_
#define QUANTD_ENGINE_RUNTIME_BATCH_SPLIT_TUNER_H_

// How to run a large batch fastest. Measured, not guessed:
// - memory-bound networks (MobileNetV2's depthwise/1x1 stacks) run a batch of
//   32 about 25% faster as eight batches of 4, whose activations stay in
//   cache, while compute-bound ones (ResNets with Winograd 3x3) are fastest
//   whole;
// - small layers parallelize poorly over OpenMP threads: MobileNetV2 runs a
//   batch of 32 about 6% faster as two halves side by side, one thread each,
//   than as one run on two threads, while the ResNets lose about as much.
// The first runs of each batch size try each candidate twice in a row (the
// first try compiles its Plans and is not counted), one candidate after the
// other so the caller can drop a measured candidate's Plans before the next
// one is compiled (each Plan holds its own activation memory); from
// then on the fastest candidate is used.

#include <cstdint>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace quantd::engine {

// One way to run a batch: `workers` threads side by side, each with
// (caller's threads / workers) OpenMP threads, each running its equal share
// of the batch in consecutive sub-batches of `chunk` images.
struct BatchSplit {
  int64_t chunk = 0;
  int workers = 1;
  bool operator==(const BatchSplit& other) const {
    return chunk == other.chunk && workers == other.workers;
  }
};

class BatchSplitTuner {
 public:
  // Batches of fewer images are never split.
  static constexpr int64_t kMinSplitBatch = 8;

  // How to run `batch` images now, for a caller with `threads` OpenMP
  // threads: a candidate still being measured, or the fastest one once all
  // are measured.
  BatchSplit SplitFor(int64_t batch, int threads);

  // Reports that running `batch` images as `split` took `seconds`. Returns
  // true when `split` is measured and not (or not yet known to be) the
  // winner: its Plans can be dropped.
  bool Report(int64_t batch, int threads, const BatchSplit& split, double seconds);

  // Runs of `batch` images (by a caller with `threads` threads) still to be
  // spent measuring candidates; 0 once the fastest is chosen. Benchmarks
  // run this many untimed before they time anything.
  int RunsLeft(int64_t batch, int threads);

  // Candidates for `batch` and `threads`, in the order they are tried: the
  // whole batch, then sub-batches of 16, 8 and 4 where they divide it (so
  // every sub-batch reuses one Plan); then, with 2 or more threads, one
  // worker per thread, each running its share whole or in sub-batches of 4.
  static std::vector<BatchSplit> Candidates(int64_t batch, int threads);

 private:
  struct Tuning {
    std::vector<BatchSplit> candidates;
    std::vector<int> tries;            // per candidate, runs reported so far
    std::vector<double> best_seconds;  // per candidate, fastest counted run
    int chosen = -1;                   // index of the winner; -1 while measuring
  };
  static constexpr int kTriesPerCandidate = 2;

  absl::Mutex mu_;
  // Keyed by (batch, threads): a caller with another thread count is another
  // machine as far as the timings go.
  std::map<std::pair<int64_t, int>, Tuning> tunings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_BATCH_SPLIT_TUNER_H_
