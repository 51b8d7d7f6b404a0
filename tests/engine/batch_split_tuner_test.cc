// BatchSplitTuner: which sub-batch sizes it tries, in which order, and that it
// settles on the fastest. Times are fed in, so nothing here depends on speed.

#include "engine/runtime/batch_split_tuner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;

TEST(BatchSplitTunerTest, CandidatesAreTheWholeBatchAndDividingSubBatches) {
  EXPECT_THAT(BatchSplitTuner::Candidates(32), ElementsAre(32, 16, 8, 4));
  EXPECT_THAT(BatchSplitTuner::Candidates(24), ElementsAre(24, 8, 4));
  EXPECT_THAT(BatchSplitTuner::Candidates(9), ElementsAre(9));
  EXPECT_THAT(BatchSplitTuner::Candidates(4), ElementsAre(4));
}

TEST(BatchSplitTunerTest, SmallBatchesAreNeverSplit) {
  BatchSplitTuner tuner;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tuner.ChunkFor(4), 4);
}

// Each candidate runs twice in a row; the first run (Plan compilation) does
// not count; the fastest counted run wins and is used from then on.
TEST(BatchSplitTunerTest, MeasuresEachCandidateInTurnThenKeepsTheFastest) {
  BatchSplitTuner tuner;
  const std::vector<std::pair<int64_t, double>> runs = {
      {16, 9.0}, {16, 1.00},  // whole batch
      {8, 9.0},  {8, 0.80},   // fastest: 2 x 8
      {4, 0.1},  {4, 0.90},   // its fast first run is not counted
  };
  std::vector<bool> droppable;
  for (const auto& [expected_chunk, seconds] : runs) {
    const int64_t chunk = tuner.ChunkFor(16);
    ASSERT_EQ(chunk, expected_chunk);
    droppable.push_back(tuner.Report(16, chunk, seconds));
  }
  // A measured candidate's Plan may go; the winner's is kept once known.
  EXPECT_THAT(droppable, ElementsAre(false, true, false, true, false, true));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tuner.ChunkFor(16), 8);
  EXPECT_FALSE(tuner.Report(16, 8, 5.0));  // settled: later times change nothing
  EXPECT_EQ(tuner.ChunkFor(16), 8);
}

TEST(BatchSplitTunerTest, BatchSizesAreTunedIndependently) {
  BatchSplitTuner tuner;
  EXPECT_EQ(tuner.ChunkFor(32), 32);
  EXPECT_EQ(tuner.ChunkFor(16), 16);
  tuner.Report(32, 32, 1.0);
  EXPECT_EQ(tuner.ChunkFor(32), 32);  // second (counted) run of the whole batch
}

}  // namespace
}  // namespace quantd::engine
