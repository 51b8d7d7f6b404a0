#include "server/jobs/worker_pool.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::server {
namespace {

TEST(WorkerPoolTest, RunsEveryQueuedJob) {
  JobQueue queue(16);
  absl::Mutex mu;
  std::vector<std::string> ran;
  WorkerPool pool(2, &queue, [&](const std::string& id, const std::atomic<bool>&) {
    absl::MutexLock lock(&mu);
    ran.push_back(id);
  });
  for (const char* id : {"job_a", "job_b", "job_c"}) ASSERT_TRUE(queue.Push(id).ok());
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<std::string>* r) { return r->size() == 3; }, &ran));
  }
  pool.Stop();
  EXPECT_THAT(ran, ::testing::UnorderedElementsAre("job_a", "job_b", "job_c"));
}

TEST(WorkerPoolTest, StopSignalsTheRunningJobAndJoins) {
  JobQueue queue(4);
  std::atomic<bool> started{false};
  std::atomic<bool> saw_stop{false};
  WorkerPool pool(1, &queue, [&](const std::string&, const std::atomic<bool>& stopping) {
    started = true;
    while (!stopping.load()) std::this_thread::yield();
    saw_stop = true;
  });
  ASSERT_TRUE(queue.Push("job_long").ok());
  while (!started.load()) std::this_thread::yield();
  pool.Stop();
  EXPECT_TRUE(saw_stop.load());
}

TEST(WorkerPoolTest, ReportsHowManyWorkersRunAJob) {
  JobQueue queue(4);
  std::atomic<bool> release{false};
  std::atomic<int> busy_seen{-1};
  std::atomic<int> max_busy{0};
  WorkerPool pool(
      2, &queue,
      [&](const std::string&, const std::atomic<bool>&) {
        while (!release.load()) std::this_thread::yield();
      },
      [&](int busy) {
        busy_seen = busy;
        int seen = max_busy.load();
        while (busy > seen && !max_busy.compare_exchange_weak(seen, busy)) {
        }
      });
  ASSERT_TRUE(queue.Push("job_a").ok());
  ASSERT_TRUE(queue.Push("job_b").ok());
  while (max_busy.load() < 2) std::this_thread::yield();
  release = true;
  while (busy_seen.load() != 0) std::this_thread::yield();
  pool.Stop();
  EXPECT_EQ(max_busy.load(), 2);
  EXPECT_EQ(busy_seen.load(), 0);
}

}  // namespace
}  // namespace quantd::server
