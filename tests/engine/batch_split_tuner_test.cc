// BatchSplitTuner: which sub-batch sizes it tries, in which order, and that it
// settles on the fastest. Times are fed in, so nothing here depends on speed.

#include "engine/runtime/batch_split_tuner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;

std::vector<std::pair<int64_t, int>> AsPairs(const std::vector<BatchSplit>& splits) {
  std::vector<std::pair<int64_t, int>> pairs;
  for (const BatchSplit& split : splits) pairs.emplace_back(split.chunk, split.workers);
  return pairs;
}

using Pair = std::pair<int64_t, int>;

TEST(BatchSplitTunerTest, CandidatesAreTheWholeBatchAndDividingSubBatches) {
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(32, 1)),
              ElementsAre(Pair{32, 1}, Pair{16, 1}, Pair{8, 1}, Pair{4, 1}));
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(24, 1)),
              ElementsAre(Pair{24, 1}, Pair{8, 1}, Pair{4, 1}));
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(9, 2)), ElementsAre(Pair{9, 1}));
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(4, 2)), ElementsAre(Pair{4, 1}));
}

// With several threads, one worker per thread is tried too, each on an equal
// share, whole or in sub-batches of 4; only when every share has 4 images.
TEST(BatchSplitTunerTest, SeveralThreadsAlsoTryOneWorkerPerThread) {
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(32, 2)),
              ElementsAre(Pair{32, 1}, Pair{16, 1}, Pair{8, 1}, Pair{4, 1}, Pair{16, 2},
                          Pair{4, 2}));
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(8, 2)),
              ElementsAre(Pair{8, 1}, Pair{4, 1}, Pair{4, 2}));
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(12, 4)),
              ElementsAre(Pair{12, 1}, Pair{4, 1}));  // shares of 3 are too small
  EXPECT_THAT(AsPairs(BatchSplitTuner::Candidates(10, 2)),
              ElementsAre(Pair{10, 1}, Pair{5, 2}));
}

TEST(BatchSplitTunerTest, SmallBatchesAreNeverSplit) {
  BatchSplitTuner tuner;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tuner.SplitFor(4, 2), (BatchSplit{4, 1}));
}

// Each candidate runs twice in a row; the first run (Plan compilation) does
// not count; the fastest counted run wins and is used from then on.
TEST(BatchSplitTunerTest, MeasuresEachCandidateInTurnThenKeepsTheFastest) {
  BatchSplitTuner tuner;
  const std::vector<std::pair<BatchSplit, double>> runs = {
      {{16, 1}, 9.0}, {{16, 1}, 1.00},  // whole batch
      {{8, 1}, 9.0},  {{8, 1}, 0.80},   // fastest: 2 x 8
      {{4, 1}, 0.1},  {{4, 1}, 0.90},   // its fast first run is not counted
  };
  std::vector<bool> droppable;
  for (const auto& [expected, seconds] : runs) {
    const BatchSplit split = tuner.SplitFor(16, 1);
    ASSERT_EQ(split, expected);
    droppable.push_back(tuner.Report(16, 1, split, seconds));
  }
  // A measured candidate's Plan may go; the winner's is kept once known.
  EXPECT_THAT(droppable, ElementsAre(false, true, false, true, false, true));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tuner.SplitFor(16, 1), (BatchSplit{8, 1}));
  EXPECT_FALSE(tuner.Report(16, 1, {8, 1}, 5.0));  // settled: later times change nothing
  EXPECT_EQ(tuner.SplitFor(16, 1), (BatchSplit{8, 1}));
}

TEST(BatchSplitTunerTest, SideBySideWorkersWinWhenFastest) {
  BatchSplitTuner tuner;
  for (int run = 0; run < 12; ++run) {
    const BatchSplit split = tuner.SplitFor(32, 2);
    tuner.Report(32, 2, split, split == BatchSplit{16, 2} ? 0.5 : 1.0);
  }
  EXPECT_EQ(tuner.SplitFor(32, 2), (BatchSplit{16, 2}));
}

TEST(BatchSplitTunerTest, CountsTheRunsLeftToMeasure) {
  BatchSplitTuner tuner;
  EXPECT_EQ(tuner.RunsLeft(4, 2), 0);       // never split
  EXPECT_EQ(tuner.RunsLeft(32, 2), 2 * 6);  // not seen yet: every candidate twice
  for (int left = 12; left > 0; --left) {
    ASSERT_EQ(tuner.RunsLeft(32, 2), left);
    const BatchSplit split = tuner.SplitFor(32, 2);
    tuner.Report(32, 2, split, 1.0);
  }
  EXPECT_EQ(tuner.RunsLeft(32, 2), 0);
  EXPECT_EQ(tuner.RunsLeft(32, 1), 2 * 4);  // another thread count is tuned anew
}

TEST(BatchSplitTunerTest, BatchSizesAndThreadCountsAreTunedIndependently) {
  BatchSplitTuner tuner;
  EXPECT_EQ(tuner.SplitFor(32, 2).chunk, 32);
  EXPECT_EQ(tuner.SplitFor(16, 2).chunk, 16);
  EXPECT_EQ(tuner.SplitFor(32, 1).chunk, 32);
  tuner.Report(32, 2, {32, 1}, 1.0);
  EXPECT_EQ(tuner.SplitFor(32, 2).chunk, 32);  // second (counted) run of the whole batch
  EXPECT_EQ(tuner.SplitFor(32, 1).chunk, 32);  // (32, 1 thread) has not run yet
}

}  // namespace
}  // namespace quantd::engine
