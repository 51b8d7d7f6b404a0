#include "engine/runtime/batch_split_tuner.h"

#include <limits>

namespace quantd::engine {

std::vector<int64_t> BatchSplitTuner::Candidates(int64_t batch) {
  std::vector<int64_t> candidates = {batch};
  if (batch < kMinSplitBatch) return candidates;
  for (int64_t chunk : {16, 8, 4}) {
    if (chunk < batch && batch % chunk == 0) candidates.push_back(chunk);
  }
  return candidates;
}

int64_t BatchSplitTuner::ChunkFor(int64_t batch) {
  if (batch < kMinSplitBatch) return batch;
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = tunings_.try_emplace(batch);
  Tuning& t = it->second;
  if (inserted) {
    t.candidates = Candidates(batch);
    t.tries.assign(t.candidates.size(), 0);
    t.best_seconds.assign(t.candidates.size(), std::numeric_limits<double>::infinity());
  }
  if (t.chosen != 0) return t.chosen;
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    if (t.tries[i] < kTriesPerCandidate) return t.candidates[i];
  }
  return batch;  // unreachable: all measured means chosen is set
}

bool BatchSplitTuner::Report(int64_t batch, int64_t chunk, double seconds) {
  absl::MutexLock lock(&mu_);
  const auto it = tunings_.find(batch);
  if (it == tunings_.end() || it->second.chosen != 0) return false;
  Tuning& t = it->second;
  bool measured = false;
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    if (t.candidates[i] != chunk || t.tries[i] >= kTriesPerCandidate) continue;
    // The first run of a candidate compiles its Plan: not representative.
    if (++t.tries[i] > 1 && seconds < t.best_seconds[i]) t.best_seconds[i] = seconds;
    measured = t.tries[i] == kTriesPerCandidate;
  }
  size_t fastest = 0;
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    if (t.tries[i] < kTriesPerCandidate) return measured;  // still measuring
    if (t.best_seconds[i] < t.best_seconds[fastest]) fastest = i;
  }
  t.chosen = t.candidates[fastest];
  return measured && chunk != t.chosen;
}

}  // namespace quantd::engine
