#include "server/serving/model_runner.h"

#include "gtest/gtest.h"

namespace quantd::server {
namespace {

// Answers NOT_FOUND (the version chosen was deleted) `vanishing` times, then OK.
struct RacingInfer {
  int vanishing = 0;
  int calls = 0;
  absl::Status operator()() {
    return ++calls <= vanishing ? absl::NotFoundError("model 'm' has no version 4")
                                : absl::OkStatus();
  }
};

TEST(ChooseAgainIfDeletedTest, ADefaultVersionDeletedBeforeItLoadsIsChosenAgain) {
  RacingInfer infer{.vanishing = 1};
  EXPECT_TRUE(ChooseAgainIfDeleted(true, [&] { return infer(); }).ok());
  EXPECT_EQ(infer.calls, 2);
}

TEST(ChooseAgainIfDeletedTest, ANamedVersionThatIsGoneIsNotFound) {
  RacingInfer infer{.vanishing = 1};
  EXPECT_TRUE(absl::IsNotFound(ChooseAgainIfDeleted(false, [&] { return infer(); })));
  EXPECT_EQ(infer.calls, 1);
}

TEST(ChooseAgainIfDeletedTest, ChoosesAFewTimesAtMostAndOnlyAfterNotFound) {
  RacingInfer infer{.vanishing = 100};
  EXPECT_TRUE(absl::IsNotFound(ChooseAgainIfDeleted(true, [&] { return infer(); })));
  EXPECT_EQ(infer.calls, 3);

  int calls = 0;
  const absl::Status invalid = ChooseAgainIfDeleted(true, [&] {
    ++calls;
    return absl::InvalidArgumentError("bad shape");
  });
  EXPECT_TRUE(absl::IsInvalidArgument(invalid));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace quantd::server
