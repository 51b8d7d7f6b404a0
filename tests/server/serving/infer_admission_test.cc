#include "server/serving/infer_admission.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::server {
namespace {

// Spins (yielding) until `admission` has `count` calls waiting.
void WaitForWaiting(const InferAdmission& admission, int64_t count) {
  while (admission.waiting() != count) std::this_thread::yield();
}

TEST(InferAdmissionTest, RunsUpToTheLimitAtOnceAndReportsCounts) {
  int64_t last_running = -1;
  int64_t last_waiting = -1;
  InferAdmission admission(2, 4, [&](int64_t running, int64_t waiting) {
    last_running = running;
    last_waiting = waiting;
  });
  {
    absl::StatusOr<InferAdmission::Slot> first = admission.Acquire();
    absl::StatusOr<InferAdmission::Slot> second = admission.Acquire();
    ASSERT_TRUE(first.ok() && second.ok());
    EXPECT_EQ(admission.running(), 2);
    EXPECT_EQ(last_running, 2);
    EXPECT_EQ(last_waiting, 0);
  }
  EXPECT_EQ(admission.running(), 0);
  EXPECT_EQ(last_running, 0);
}

TEST(InferAdmissionTest, ACallBeyondTheLimitWaitsUntilASlotIsReleased) {
  InferAdmission admission(1, 4);
  std::optional<absl::StatusOr<InferAdmission::Slot>> held(admission.Acquire());
  ASSERT_TRUE(held->ok());
  std::atomic<bool> admitted{false};
  std::thread waiter([&] {
    absl::StatusOr<InferAdmission::Slot> slot = admission.Acquire();
    EXPECT_TRUE(slot.ok()) << slot.status();
    admitted = true;
  });
  WaitForWaiting(admission, 1);
  EXPECT_FALSE(admitted.load());
  held.reset();  // releases the slot
  waiter.join();
  EXPECT_TRUE(admitted.load());
  EXPECT_EQ(admission.waiting(), 0);
  EXPECT_EQ(admission.running(), 0);
}

TEST(InferAdmissionTest, WaitingCallsRunInArrivalOrder) {
  InferAdmission admission(1, 8);
  std::optional<absl::StatusOr<InferAdmission::Slot>> held(admission.Acquire());
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&, i] {
      absl::StatusOr<InferAdmission::Slot> slot = admission.Acquire();
      ASSERT_TRUE(slot.ok());
      absl::MutexLock lock(&mu);
      order.push_back(i);
    });
    WaitForWaiting(admission, i + 1);  // waiter i is queued before waiter i+1 starts
  }
  held.reset();
  for (std::thread& t : waiters) t.join();
  EXPECT_THAT(order, ::testing::ElementsAre(0, 1, 2, 3));
}

TEST(InferAdmissionTest, RefusesWhenTheQueueIsFullNamingTheLimit) {
  InferAdmission admission(1, 1);
  absl::StatusOr<InferAdmission::Slot> held = admission.Acquire();
  ASSERT_TRUE(held.ok());
  std::thread waiter([&] { EXPECT_TRUE(admission.Acquire(absl::Now() + absl::Seconds(30)).ok()); });
  WaitForWaiting(admission, 1);
  absl::StatusOr<InferAdmission::Slot> refused = admission.Acquire();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("--infer_queue_capacity=1"));
  { InferAdmission::Slot release = std::move(*held); }
  waiter.join();
}

TEST(InferAdmissionTest, AWaiterWhoseDeadlinePassesLeavesTheQueue) {
  InferAdmission admission(1, 4);
  absl::StatusOr<InferAdmission::Slot> held = admission.Acquire();
  ASSERT_TRUE(held.ok());
  absl::StatusOr<InferAdmission::Slot> late = admission.Acquire(absl::Now() + absl::Milliseconds(20));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(admission.waiting(), 0);
  // The abandoned ticket does not block the calls behind it.
  { InferAdmission::Slot release = std::move(*held); }
  EXPECT_TRUE(admission.Acquire(absl::Now() + absl::Seconds(30)).ok());
}

}  // namespace
}  // namespace quantd::server
