#include "server/serving/session_cache.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace quantd::server {
namespace {

// A stand-in session: the cache only stores and hands out sessions.
class FakeSession : public engine::InferenceSession {
 public:
  absl::StatusOr<std::vector<engine::Tensor>> Run(const std::vector<engine::Tensor>&) override {
    return std::vector<engine::Tensor>{};
  }
  absl::StatusOr<std::vector<engine::Tensor>> RunObserved(
      const std::vector<engine::Tensor>&, const engine::ActivationObserver&) override {
    return std::vector<engine::Tensor>{};
  }
  const engine::ModelSummary& summary() const override { return summary_; }
  engine::Precision precision() const override { return engine::Precision::kFp32; }

 private:
  engine::ModelSummary summary_;
};

SessionCache::Loader CountingLoader(int* loads) {
  return [loads]() -> absl::StatusOr<std::shared_ptr<engine::InferenceSession>> {
    ++*loads;
    return std::make_shared<FakeSession>();
  };
}

TEST(SessionCacheTest, LoadsOncePerKey) {
  SessionCache cache(4);
  int loads = 0;
  auto first = cache.GetOrLoad("mdl_a", 1, CountingLoader(&loads));
  auto second = cache.GetOrLoad("mdl_a", 1, CountingLoader(&loads));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(loads, 1);
  ASSERT_TRUE(cache.GetOrLoad("mdl_a", 2, CountingLoader(&loads)).ok());
  EXPECT_EQ(loads, 2);
}

TEST(SessionCacheTest, EvictsLeastRecentlyUsedButKeepsSessionsInUseAlive) {
  SessionCache cache(2);
  int loads = 0;
  auto a = *cache.GetOrLoad("a", 1, CountingLoader(&loads));
  ASSERT_TRUE(cache.GetOrLoad("b", 1, CountingLoader(&loads)).ok());
  ASSERT_TRUE(cache.GetOrLoad("a", 1, CountingLoader(&loads)).ok());  // a is now most recent
  ASSERT_TRUE(cache.GetOrLoad("c", 1, CountingLoader(&loads)).ok());  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(loads, 3);
  ASSERT_TRUE(cache.GetOrLoad("a", 1, CountingLoader(&loads)).ok());
  EXPECT_EQ(loads, 3);
  ASSERT_TRUE(cache.GetOrLoad("b", 1, CountingLoader(&loads)).ok());
  EXPECT_EQ(loads, 4);
  EXPECT_NE(a, nullptr);
}

TEST(SessionCacheTest, FailedLoadsAreNotCached) {
  SessionCache cache(2);
  int calls = 0;
  auto failing = [&]() -> absl::StatusOr<std::shared_ptr<engine::InferenceSession>> {
    ++calls;
    return absl::DataLossError("corrupt");
  };
  EXPECT_EQ(cache.GetOrLoad("a", 1, failing).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(cache.GetOrLoad("a", 1, failing).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SessionCacheTest, ConcurrentFirstRequestsLoadOnce) {
  SessionCache cache(2);
  std::atomic<int> loads{0};
  auto slow = [&]() -> absl::StatusOr<std::shared_ptr<engine::InferenceSession>> {
    ++loads;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return std::make_shared<FakeSession>();
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { EXPECT_TRUE(cache.GetOrLoad("a", 1, slow).ok()); });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(loads.load(), 1);
}

TEST(SessionCacheTest, EraseDropsOneVersionOrEveryVersionOfAModel) {
  SessionCache cache(8);
  int loads = 0;
  for (const auto& [model, version] :
       {std::pair{"mdl_a", 1}, std::pair{"mdl_a", 2}, std::pair{"mdl_b", 1}}) {
    ASSERT_TRUE(cache.GetOrLoad(model, version, CountingLoader(&loads)).ok());
  }
  ASSERT_EQ(loads, 3);
  cache.Erase("mdl_a", 2);
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_TRUE(cache.GetOrLoad("mdl_a", 1, CountingLoader(&loads)).ok());
  EXPECT_EQ(loads, 3);  // still cached
  ASSERT_TRUE(cache.GetOrLoad("mdl_a", 2, CountingLoader(&loads)).ok());
  EXPECT_EQ(loads, 4);  // loaded again after Erase
  cache.Erase("mdl_a");
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.GetOrLoad("mdl_b", 1, CountingLoader(&loads)).ok());
  EXPECT_EQ(loads, 4);
}

}  // namespace
}  // namespace quantd::server
