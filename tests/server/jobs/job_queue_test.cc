#include "server/jobs/job_queue.h"

#include <atomic>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::server {
namespace {

TEST(JobQueueTest, FifoWithinCapacityAndRefusesBeyond) {
  int64_t last_depth = -1;
  JobQueue queue(2, [&](int64_t depth) { last_depth = depth; });
  ASSERT_TRUE(queue.Push("job_a").ok());
  ASSERT_TRUE(queue.Push("job_b").ok());
  EXPECT_EQ(last_depth, 2);
  absl::Status full = queue.Push("job_c");
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.message()), ::testing::HasSubstr("--job_queue_capacity=2"));
  EXPECT_EQ(queue.Pop(), "job_a");
  EXPECT_EQ(last_depth, 1);
  EXPECT_EQ(queue.Pop(), "job_b");
  EXPECT_EQ(queue.depth(), 0);
}

TEST(JobQueueTest, RecoveredJobsIgnoreTheCapacity) {
  JobQueue queue(1);
  queue.PushUnbounded("job_a");
  queue.PushUnbounded("job_b");
  EXPECT_EQ(queue.depth(), 2);
}

TEST(JobQueueTest, CloseWakesABlockedPop) {
  JobQueue queue(1);
  std::atomic<bool> returned{false};
  std::thread consumer([&] {
    EXPECT_EQ(queue.Pop(), std::nullopt);
    returned = true;
  });
  queue.Close();
  consumer.join();
  EXPECT_TRUE(returned);
  EXPECT_EQ(queue.Push("job_late").code(), absl::StatusCode::kUnavailable);
}

TEST(JobQueueTest, RemovedIdIsNotPoppedAndFreesItsPlace) {
  int64_t last_depth = -1;
  JobQueue queue(2, [&](int64_t depth) { last_depth = depth; });
  ASSERT_TRUE(queue.Push("job_a").ok());
  ASSERT_TRUE(queue.Push("job_b").ok());
  EXPECT_TRUE(queue.Remove("job_a"));
  EXPECT_FALSE(queue.Remove("job_a"));
  EXPECT_EQ(last_depth, 1);
  EXPECT_TRUE(queue.Push("job_c").ok());
  EXPECT_EQ(queue.Pop(), "job_b");
  EXPECT_EQ(queue.Pop(), "job_c");
}

}  // namespace
}  // namespace quantd::server
