#include "engine/runtime/batch_split_tuner.h"

#include <limits>
#include <utility>

namespace quantd::engine {

std::vector<BatchSplit> BatchSplitTuner::Candidates(int64_t batch, int threads) {
  std::vector<BatchSplit> candidates = {{batch, 1}};
  if (batch < kMinSplitBatch) return candidates;
  for (int64_t chunk : {16, 8, 4}) {
    if (chunk < batch && batch % chunk == 0) candidates.push_back({chunk, 1});
  }
  // Side by side only when every worker gets at least 4 images: below that
  // the workers' Plans cost more memory than they save time.
  if (threads >= 2 && batch % threads == 0 && batch / threads >= 4) {
    const int64_t share = batch / threads;
    candidates.push_back({share, threads});
    if (share > 4 && share % 4 == 0) candidates.push_back({4, threads});
  }
  return candidates;
}

BatchSplit BatchSplitTuner::SplitFor(int64_t batch, int threads) {
  if (batch < kMinSplitBatch) return {batch, 1};
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = tunings_.try_emplace({batch, threads});
  Tuning& t = it->second;
  if (inserted) {
    t.candidates = Candidates(batch, threads);
    t.tries.assign(t.candidates.size(), 0);
    t.best_seconds.assign(t.candidates.size(), std::numeric_limits<double>::infinity());
  }
  if (t.chosen >= 0) return t.candidates[static_cast<size_t>(t.chosen)];
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    if (t.tries[i] < kTriesPerCandidate) return t.candidates[i];
  }
  return {batch, 1};  // unreachable: all measured means chosen is set
}

int BatchSplitTuner::RunsLeft(int64_t batch, int threads) {
  if (batch < kMinSplitBatch) return 0;
  absl::MutexLock lock(&mu_);
  const auto it = tunings_.find({batch, threads});
  if (it == tunings_.end()) {
    return kTriesPerCandidate * static_cast<int>(Candidates(batch, threads).size());
  }
  const Tuning& t = it->second;
  if (t.chosen >= 0) return 0;
  int left = 0;
  for (int tries : t.tries) left += kTriesPerCandidate - tries;
  return left;
}

bool BatchSplitTuner::Report(int64_t batch, int threads, const BatchSplit& split,
                             double seconds) {
  absl::MutexLock lock(&mu_);
  const auto it = tunings_.find({batch, threads});
  if (it == tunings_.end() || it->second.chosen >= 0) return false;
  Tuning& t = it->second;
  bool measured = false;
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    if (!(t.candidates[i] == split) || t.tries[i] >= kTriesPerCandidate) continue;
    // The first run of a candidate compiles its Plans: not representative.
    if (++t.tries[i] > 1 && seconds < t.best_seconds[i]) t.best_seconds[i] = seconds;
    measured = t.tries[i] == kTriesPerCandidate;
  }
  size_t fastest = 0;
  for (size_t i = 0; i < t.candidates.size(); ++i) {
    if (t.tries[i] < kTriesPerCandidate) return measured;  // still measuring
    if (t.best_seconds[i] < t.best_seconds[fastest]) fastest = i;
  }
  t.chosen = static_cast<int>(fastest);
  return measured && !(split == t.candidates[fastest]);
}

}  // namespace quantd::engine
