#include "server/serving/infer_scheduler.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

// y = 2x, row by row. Its summary declares the batch axis dynamic, or, with
// `fixed_batch`, fixed at 1 (then merged inputs would be refused). Records
// every batch it ran; the first run waits for `gate` when one is set, so that
// calls pile up behind it.
class DoublingSession : public engine::InferenceSession {
 public:
  explicit DoublingSession(bool fixed_batch = false) : fixed_batch_(fixed_batch) {
    const int64_t batch = fixed_batch ? 1 : -1;
    summary_.inputs = {{"x", {batch, -1}}};
    summary_.outputs = {{"y", {batch, -1}}};
  }

  absl::StatusOr<std::vector<engine::Tensor>> Run(
      const std::vector<engine::Tensor>& inputs) override {
    if (inputs.size() != 1) return absl::InvalidArgumentError("one input");
    const engine::Tensor& input = inputs[0];
    {
      absl::MutexLock lock(&mu_);
      batches_.push_back(input.shape[0]);
      inputs_.insert(inputs_.end(), input.data.begin(), input.data.end());
    }
    if (gate_ != nullptr) {
      gate_->WaitForNotification();
      gate_ = nullptr;
    }
    if (fail_ || (fixed_batch_ && input.shape[0] != 1)) {
      return absl::InvalidArgumentError("input shape does not fit");
    }
    engine::Tensor y = input;
    y.name = "y";
    for (float& v : y.data) v *= 2;
    return std::vector<engine::Tensor>{y};
  }
  absl::StatusOr<std::vector<engine::Tensor>> RunObserved(
      const std::vector<engine::Tensor>& inputs, const engine::ActivationObserver&) override {
    return Run(inputs);
  }
  const engine::ModelSummary& summary() const override { return summary_; }
  engine::Precision precision() const override { return engine::Precision::kFp32; }

  void HoldFirstRun(absl::Notification* gate) { gate_ = gate; }
  void Fail() { fail_ = true; }
  std::vector<int64_t> batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  std::vector<float> inputs() const {
    absl::MutexLock lock(&mu_);
    return inputs_;
  }

 private:
  const bool fixed_batch_;
  engine::ModelSummary summary_;
  absl::Notification* gate_ = nullptr;
  bool fail_ = false;
  mutable absl::Mutex mu_;
  std::vector<int64_t> batches_;
  std::vector<float> inputs_;
};

// y = a + 10 * b[:, 0], row by row, for inputs "a" [N, K] and "b" [N, M]
// (matched by name, or by position when unnamed): each output row shows which
// rows of a and of b met. Records the rows of every run; the first run waits
// for `gate` when one is set.
class TwoInputSession : public engine::InferenceSession {
 public:
  TwoInputSession() {
    summary_.inputs = {{"a", {-1, -1}}, {"b", {-1, -1}}};
    summary_.outputs = {{"y", {-1, -1}}};
  }

  absl::StatusOr<std::vector<engine::Tensor>> Run(
      const std::vector<engine::Tensor>& inputs) override {
    if (inputs.size() != 2) return absl::InvalidArgumentError("two inputs");
    const bool swapped = inputs[0].name == "b" || inputs[1].name == "a";
    const engine::Tensor& a = inputs[swapped ? 1 : 0];
    const engine::Tensor& b = inputs[swapped ? 0 : 1];
    {
      absl::MutexLock lock(&mu_);
      batches_.push_back(a.shape[0]);
    }
    if (gate_ != nullptr) {
      gate_->WaitForNotification();
      gate_ = nullptr;
    }
    if (a.shape[0] != b.shape[0]) return absl::InvalidArgumentError("a and b differ in rows");
    const size_t a_row = a.data.size() / static_cast<size_t>(a.shape[0]);
    const size_t b_row = b.data.size() / static_cast<size_t>(b.shape[0]);
    engine::Tensor y{"y", a.shape, a.data};
    for (size_t i = 0; i < y.data.size(); ++i) y.data[i] += 10 * b.data[i / a_row * b_row];
    return std::vector<engine::Tensor>{y};
  }
  absl::StatusOr<std::vector<engine::Tensor>> RunObserved(
      const std::vector<engine::Tensor>& inputs, const engine::ActivationObserver&) override {
    return Run(inputs);
  }
  const engine::ModelSummary& summary() const override { return summary_; }
  engine::Precision precision() const override { return engine::Precision::kFp32; }

  void HoldFirstRun(absl::Notification* gate) { gate_ = gate; }
  std::vector<int64_t> batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  engine::ModelSummary summary_;
  absl::Notification* gate_ = nullptr;
  mutable absl::Mutex mu_;
  std::vector<int64_t> batches_;
};

engine::Tensor Rows(std::vector<float> first_features, int64_t features = 2) {
  engine::Tensor t;
  t.name = "x";
  t.shape = {static_cast<int64_t>(first_features.size()), features};
  for (float f : first_features) {
    for (int64_t i = 0; i < features; ++i) t.data.push_back(f + static_cast<float>(i) / 10);
  }
  return t;
}

engine::Tensor Named(std::string name, engine::Tensor tensor) {
  tensor.name = std::move(name);
  return tensor;
}

void WaitForWaiting(const InferScheduler& scheduler, int64_t count) {
  while (scheduler.waiting() != count) std::this_thread::yield();
}

// Starts one Run per input (or per set of inputs) on its own thread; Join()
// collects the results.
class Clients {
 public:
  Clients(InferScheduler& scheduler, std::shared_ptr<engine::InferenceSession> session,
          std::vector<engine::Tensor> inputs, absl::Time deadline = absl::InfiniteFuture())
      : results_(inputs.size()) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      threads_.emplace_back([&, i, session, input = inputs[i], deadline] {
        results_[i] = scheduler.Run(session, input, deadline);
      });
    }
  }
  Clients(InferScheduler& scheduler, std::shared_ptr<engine::InferenceSession> session,
          std::vector<std::vector<engine::Tensor>> calls)
      : results_(calls.size()) {
    for (size_t i = 0; i < calls.size(); ++i) {
      threads_.emplace_back(
          [&, i, session, inputs = calls[i]] { results_[i] = scheduler.Run(session, inputs); });
    }
  }
  std::vector<absl::StatusOr<std::vector<engine::Tensor>>>& Join() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    return results_;
  }
  ~Clients() { Join(); }

 private:
  std::vector<absl::StatusOr<std::vector<engine::Tensor>>> results_;
  std::vector<std::thread> threads_;
};

// One call occupies the executor; calls arriving meanwhile wait, then run.
struct Blocked {
  Blocked(InferScheduler& scheduler, std::shared_ptr<DoublingSession> session) {
    session->HoldFirstRun(&gate);
    blocker.emplace(scheduler, session, std::vector<engine::Tensor>{Rows({-1})});
    while (scheduler.running() != 1) std::this_thread::yield();
  }
  Blocked(InferScheduler& scheduler, std::shared_ptr<TwoInputSession> session) {
    session->HoldFirstRun(&gate);
    blocker.emplace(
        scheduler, session,
        std::vector<std::vector<engine::Tensor>>{{Named("a", Rows({-1})), Named("b", Rows({-1}))}});
    while (scheduler.running() != 1) std::this_thread::yield();
  }
  absl::Notification gate;
  std::optional<Clients> blocker;
};

TEST(InferSchedulerTest, MergesWaitingCallsAndHandsEachItsOwnRows) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  std::vector<engine::Tensor> inputs;
  for (int i = 0; i < 8; ++i) inputs.push_back(Rows({static_cast<float>(i)}));
  Clients clients(scheduler, session, inputs);
  WaitForWaiting(scheduler, 8);
  blocked.gate.Notify();
  auto& results = clients.Join();
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    ASSERT_EQ(results[i]->size(), 1u);
    EXPECT_THAT((*results[i])[0].shape, ElementsAre(1, 2));
    EXPECT_THAT((*results[i])[0].data, ElementsAre(2.0f * i, 2.0f * i + 0.2f));
  }
  EXPECT_THAT(session->batches(), ElementsAre(1, 8));
  EXPECT_EQ(scheduler.runs(), 2);
}

// Merged runs take a power of two of the waiting rows, so that a session
// compiles Plans for few batch sizes; a multi-row call keeps its rows.
TEST(InferSchedulerTest, MergedRunsTakePowersOfTwoRowsInArrivalOrder) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  std::vector<engine::Tensor> inputs;
  for (int i = 0; i < 5; ++i) inputs.push_back(Rows({static_cast<float>(i)}));
  Clients singles(scheduler, session, inputs);
  WaitForWaiting(scheduler, 5);
  Clients pair(scheduler, session, {Rows({10, 11})});  // queued last
  WaitForWaiting(scheduler, 6);
  blocked.gate.Notify();
  for (auto& result : singles.Join()) ASSERT_TRUE(result.ok()) << result.status();
  auto& paired = pair.Join();
  ASSERT_TRUE(paired[0].ok()) << paired[0].status();
  EXPECT_THAT((*paired[0])[0].data, ElementsAre(20.0f, 20.2f, 22.0f, 22.2f));
  // 7 rows wait: the first 4 calls run together; of the 3 rows left a run
  // takes 2 at most, so the fifth call runs alone (the 2-row call does not
  // fit beside it), then the 2-row call.
  EXPECT_THAT(session->batches(), ElementsAre(1, 4, 1, 2));
}

TEST(InferSchedulerTest, CallsOfOtherShapesOrSessionsNeverMerge) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>();
  auto other = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  Clients narrow(scheduler, session, {Rows({1}, 2), Rows({2}, 2)});
  WaitForWaiting(scheduler, 2);
  Clients wide(scheduler, session, {Rows({3}, 3)});
  WaitForWaiting(scheduler, 3);
  Clients elsewhere(scheduler, other, {Rows({4}, 2)});
  WaitForWaiting(scheduler, 4);
  blocked.gate.Notify();
  for (auto& result : narrow.Join()) ASSERT_TRUE(result.ok());
  for (auto& result : wide.Join()) {
    ASSERT_TRUE(result.ok());
    EXPECT_THAT((*result)[0].shape, ElementsAre(1, 3));
  }
  for (auto& result : elsewhere.Join()) ASSERT_TRUE(result.ok());
  EXPECT_THAT(session->batches(), ElementsAre(1, 2, 1));
  EXPECT_THAT(other->batches(), ElementsAre(1));
}

// Two-input calls merge input by input: every call's rows of a and of b are
// stacked at the same offset, and each call gets its own rows back.
TEST(InferSchedulerTest, MergesTwoInputCallsKeepingEachCallsRowsTogether) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<TwoInputSession>();
  Blocked blocked(scheduler, session);
  // b has 3 features, a 2; the last call has two rows.
  auto call = [](std::vector<float> rows) {
    std::vector<float> b_rows;
    for (float r : rows) b_rows.push_back(100 * r);
    return std::vector<engine::Tensor>{Named("a", Rows(rows)), Named("b", Rows(b_rows, 3))};
  };
  Clients mergeable(
      scheduler, session,
      std::vector<std::vector<engine::Tensor>>{call({0}), call({1}), call({2, 2.5f})});
  WaitForWaiting(scheduler, 3);
  // The same inputs named in the other order: not the same kind of call.
  std::vector<engine::Tensor> reordered = call({3});
  std::swap(reordered[0], reordered[1]);
  Clients apart(scheduler, session, std::vector<std::vector<engine::Tensor>>{reordered});
  WaitForWaiting(scheduler, 4);
  blocked.gate.Notify();
  auto& results = mergeable.Join();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    std::vector<float> expected;
    for (float r : i == 2 ? std::vector<float>{2, 2.5f} : std::vector<float>{float(i)}) {
      expected.push_back(r + 1000 * r);
      expected.push_back(r + 0.1f + 1000 * r);
    }
    const engine::Tensor& y = (*results[i])[0];
    EXPECT_THAT(y.shape, ElementsAre(i == 2 ? 2 : 1, 2));
    EXPECT_THAT(y.data, Pointwise(FloatNear(1e-3f), expected));
  }
  auto& alone = apart.Join();
  ASSERT_TRUE(alone[0].ok()) << alone[0].status();
  EXPECT_THAT((*alone[0])[0].data, Pointwise(FloatNear(1e-3f), {3003.0f, 3003.1f}));
  // The three calls of one kind (4 rows) ran as one: 3 runs for 5 calls.
  EXPECT_THAT(session->batches(), ElementsAre(1, 4, 1));
  EXPECT_EQ(scheduler.runs(), 3);
}

// Calls merge only when every input has the same non-batch shape: here only
// b differs (3 features against 2), and only the calls whose b agree merge.
TEST(InferSchedulerTest, TwoInputCallsWithOtherSampleShapesDoNotMerge) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<TwoInputSession>();
  Blocked blocked(scheduler, session);
  Clients wide(
      scheduler, session,
      std::vector<std::vector<engine::Tensor>>{{Named("a", Rows({1})), Named("b", Rows({10}, 3))}});
  WaitForWaiting(scheduler, 1);
  Clients narrow(
      scheduler, session,
      std::vector<std::vector<engine::Tensor>>{{Named("a", Rows({2})), Named("b", Rows({20}, 2))},
                                               {Named("a", Rows({3})), Named("b", Rows({30}, 2))}});
  WaitForWaiting(scheduler, 3);
  blocked.gate.Notify();
  for (auto* clients : {&wide, &narrow}) {
    for (auto& result : clients->Join()) {
      ASSERT_TRUE(result.ok()) << result.status();
      const float a = (*result)[0].data[0] / 101;  // y = a + 10 * 10a
      EXPECT_THAT((*result)[0].data, Pointwise(FloatNear(1e-3f), {101 * a, 101 * a + 0.1f}));
    }
  }
  EXPECT_THAT(session->batches(), ElementsAre(1, 1, 2));
}

// A call whose inputs hold different numbers of rows has no rows to stack
// consistently: it runs alone, and the session judges it.
TEST(InferSchedulerTest, CallsWhoseInputsDifferInRowsRunAlone) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<TwoInputSession>();
  Blocked blocked(scheduler, session);
  Clients uneven(scheduler, session,
                 std::vector<std::vector<engine::Tensor>>{
                     {Named("a", Rows({1})), Named("b", Rows({10, 11}))}});
  WaitForWaiting(scheduler, 1);
  Clients even(
      scheduler, session,
      std::vector<std::vector<engine::Tensor>>{{Named("a", Rows({2})), Named("b", Rows({20}))},
                                               {Named("a", Rows({3})), Named("b", Rows({30}))}});
  WaitForWaiting(scheduler, 3);
  blocked.gate.Notify();
  EXPECT_EQ(uneven.Join()[0].status().code(), absl::StatusCode::kInvalidArgument);
  auto& results = even.Join();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    const float a = static_cast<float>(i + 2);
    EXPECT_THAT((*results[i])[0].data, Pointwise(FloatNear(1e-3f), {101 * a, 101 * a + 0.1f}));
  }
  EXPECT_THAT(session->batches(), ElementsAre(1, 1, 2));
}

TEST(InferSchedulerTest, RefusesAnInputWithoutABatchRowNamingIt) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<TwoInputSession>();
  absl::StatusOr<std::vector<engine::Tensor>> refused =
      scheduler.Run(session, {Named("a", Rows({1})), engine::Tensor{"b", {0, 2}, {}}});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("'b'"));
  EXPECT_EQ(scheduler.Run(session, std::vector<engine::Tensor>{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InferSchedulerTest, MaxBatchOfOneRunsEveryCallAlone) {
  InferScheduler scheduler(1, 64, InferBatching{1, absl::Milliseconds(1)});
  auto session = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  Clients clients(scheduler, session, {Rows({1}), Rows({2}), Rows({3})});
  WaitForWaiting(scheduler, 3);
  blocked.gate.Notify();
  for (auto& result : clients.Join()) ASSERT_TRUE(result.ok());
  EXPECT_THAT(session->batches(), ElementsAre(1, 1, 1, 1));
}

// A model whose batch axis is fixed (here at 1) would refuse a merged input:
// its calls never merge, and each succeeds as it would alone.
TEST(InferSchedulerTest, ModelsWithoutADynamicBatchAxisNeverMerge) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>(/*fixed_batch=*/true);
  Blocked blocked(scheduler, session);
  Clients clients(scheduler, session, {Rows({1}), Rows({2})});
  WaitForWaiting(scheduler, 2);
  blocked.gate.Notify();
  auto& results = clients.Join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_THAT((*results[0])[0].data, ElementsAre(2.0f, 2.2f));
  EXPECT_THAT((*results[1])[0].data, ElementsAre(4.0f, 4.2f));
  EXPECT_THAT(session->batches(), ElementsAre(1, 1, 1));
}

// A merged run that fails may have failed for one call alone: each call
// runs again by itself and gets its own answer.
TEST(InferSchedulerTest, AFailedMergedRunIsRetriedCallByCall) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  Clients clients(scheduler, session, {Rows({1}), Rows({2})});
  WaitForWaiting(scheduler, 2);
  session->Fail();
  blocked.gate.Notify();
  for (auto& result : clients.Join()) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(session->batches(), ElementsAre(1, 2, 1, 1));
}

// The merge window ends at the oldest call's deadline: an idle server with a
// long window still answers a call before its deadline. (The window takes half
// the time left, so the run has a second to spare even on a slow TSan build.)
TEST(InferSchedulerTest, TheMergeWindowEndsAtTheCallsDeadline) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::Seconds(10)});
  auto session = std::make_shared<DoublingSession>();
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  absl::StatusOr<std::vector<engine::Tensor>> result = scheduler.Run(session, Rows({1}), deadline);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LE(absl::Now(), deadline + absl::Seconds(1));
}

TEST(InferSchedulerTest, RefusesWhenTheQueueIsFullNamingTheLimit) {
  InferScheduler scheduler(1, 2, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  Clients clients(scheduler, session, {Rows({1}), Rows({2})});
  WaitForWaiting(scheduler, 2);
  absl::StatusOr<std::vector<engine::Tensor>> refused = scheduler.Run(session, Rows({3}));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("--infer_queue_capacity=2"));
  blocked.gate.Notify();
}

// A call whose deadline passes while it waits leaves the queue unrun.
TEST(InferSchedulerTest, ACallPastItsDeadlineIsNotRun) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()});
  auto session = std::make_shared<DoublingSession>();
  Blocked blocked(scheduler, session);
  absl::StatusOr<std::vector<engine::Tensor>> late =
      scheduler.Run(session, Rows({7}), absl::Now() + absl::Milliseconds(30));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(scheduler.waiting(), 0);
  blocked.gate.Notify();
  blocked.blocker->Join();
  EXPECT_THAT(session->inputs(), ElementsAre(-1.0f, -0.9f));  // only the blocker ran
}

TEST(InferSchedulerTest, ReportsQueueComputeAndMergedRows) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::Milliseconds(20)});
  auto session = std::make_shared<DoublingSession>();
  InferScheduler::Timing timing;
  ASSERT_TRUE(scheduler.Run(session, Rows({1, 2}), absl::InfiniteFuture(), &timing).ok());
  EXPECT_EQ(timing.batch_rows, 2);
  // Alone, the call waited for company until none had come for 4 ms.
  EXPECT_GE(timing.queue, absl::Milliseconds(4) - absl::Microseconds(100));
  EXPECT_GE(timing.compute, absl::ZeroDuration());
}

// Once calls stop arriving (a fifth of the window without one), the oldest
// runs: a lone call does not idle the executor for the whole window.
TEST(InferSchedulerTest, ALoneCallWaitsOnlyUntilArrivalsPause) {
  InferScheduler scheduler(1, 64, InferBatching{32, absl::Seconds(2)});
  auto session = std::make_shared<DoublingSession>();
  const absl::Time start = absl::Now();
  ASSERT_TRUE(scheduler.Run(session, Rows({1})).ok());
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(390));   // the 400 ms pause
  EXPECT_LT(waited, absl::Milliseconds(1900));  // not the 2 s window
}

TEST(InferSchedulerTest, ReportsRunningAndWaitingCounts) {
  absl::Mutex mu;
  int64_t last_running = -1, last_waiting = -1;
  auto session = std::make_shared<DoublingSession>();
  {
    InferScheduler scheduler(1, 64, InferBatching{32, absl::ZeroDuration()},
                             [&](int64_t running, int64_t waiting) {
                               absl::MutexLock lock(&mu);
                               last_running = running;
                               last_waiting = waiting;
                             });
    Blocked blocked(scheduler, session);
    Clients clients(scheduler, session, {Rows({1})});
    WaitForWaiting(scheduler, 1);
    {
      absl::MutexLock lock(&mu);
      EXPECT_EQ(last_running, 1);
      EXPECT_EQ(last_waiting, 1);
    }
    blocked.gate.Notify();
    clients.Join();
    blocked.blocker->Join();
    while (scheduler.running() != 0) std::this_thread::yield();
  }
  absl::MutexLock lock(&mu);
  EXPECT_EQ(last_running, 0);
  EXPECT_EQ(last_waiting, 0);
}

}  // namespace
}  // namespace quantd::server
