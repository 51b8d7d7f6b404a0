// The activation buffers sessions keep between runs stay within a shared
// IdleMemoryBudget: what does not fit is freed after its run, what is kept
// is given back when it is reused or its session goes, and results do not
// depend on whether buffers were kept.

#include "engine/runtime/idle_memory_budget.h"

#include <random>

#include "engine/runtime/inference_session.h"
#include "engine/runtime/session_factory.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::RandomTensor;
using testing::TinyResNet;

std::unique_ptr<InferenceSession> SessionWithBudget(std::shared_ptr<IdleMemoryBudget> budget) {
  SessionOptions options;
  options.idle_memory = std::move(budget);
  options.tune_batch_split = false;
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(TinyResNet(21), options);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? std::move(*session) : nullptr;
}

TEST(IdleMemoryBudgetTest, CountsOnlyWhatFits) {
  IdleMemoryBudget budget(100);
  EXPECT_TRUE(budget.TryKeep(60));
  EXPECT_FALSE(budget.TryKeep(41));
  EXPECT_EQ(budget.kept_bytes(), 60);
  EXPECT_TRUE(budget.TryKeep(40));
  budget.Release(60);
  EXPECT_EQ(budget.kept_bytes(), 40);
}

TEST(IdleMemoryBudgetTest, SessionsKeepBuffersOnlyWithinTheBudgetAndGiveThemBack) {
  std::mt19937 rng(3);
  const Tensor input = RandomTensor({2, 3, 16, 16}, rng);

  auto roomy = std::make_shared<IdleMemoryBudget>(int64_t{1} << 30);
  auto first = SessionWithBudget(roomy);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::vector<Tensor>> kept_run = first->Run(input);
  ASSERT_TRUE(kept_run.ok()) << kept_run.status();
  const int64_t one_context = roomy->kept_bytes();
  EXPECT_GT(one_context, 0);
  // The next run reuses the kept buffers and keeps them again: no growth.
  ASSERT_TRUE(first->Run(input).ok());
  EXPECT_EQ(roomy->kept_bytes(), one_context);
  // A second session of the same model and shape keeps its own set.
  auto second = SessionWithBudget(roomy);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Run(input).ok());
  EXPECT_EQ(roomy->kept_bytes(), 2 * one_context);
  second.reset();
  first.reset();
  EXPECT_EQ(roomy->kept_bytes(), 0);

  // A budget with room for one set: the second session's buffers are freed
  // after each of its runs, and it still computes the same outputs.
  auto tight = std::make_shared<IdleMemoryBudget>(one_context);
  auto keeper = SessionWithBudget(tight);
  auto freer = SessionWithBudget(tight);
  ASSERT_NE(keeper, nullptr);
  ASSERT_NE(freer, nullptr);
  ASSERT_TRUE(keeper->Run(input).ok());
  EXPECT_EQ(tight->kept_bytes(), one_context);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::vector<Tensor>> unkept_run = freer->Run(input);
    ASSERT_TRUE(unkept_run.ok()) << unkept_run.status();
    EXPECT_EQ(tight->kept_bytes(), one_context);
    EXPECT_EQ((*unkept_run)[0].data, (*kept_run)[0].data);
  }
}

}  // namespace
}  // namespace quantd::engine
