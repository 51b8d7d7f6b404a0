#include "server/serving/infer_scheduler.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/runtime/batch_rows.h"

namespace quantd::server {

struct InferScheduler::Call {
  std::shared_ptr<engine::InferenceSession> session;
  std::vector<engine::Tensor> inputs;
  int64_t rows = 0;        // dimension 0 of its first input
  bool mergeable = false;  // the model's batch axis is dynamic in and out, and
                           // every input holds `rows` rows
  absl::Time arrived;
  absl::Time deadline;
  bool taken = false;  // out of the queue (guarded by the scheduler's mu_)
  absl::Notification done;
  absl::StatusOr<std::vector<engine::Tensor>> result;
  Timing timing;
};

namespace {

using CallList = std::vector<std::shared_ptr<InferScheduler::Call>>;

// Whether a session's runs can be merged and split: dimension 0 of every
// input and of every output is dynamic (the batch). A model with a fixed
// batch of 1 refuses a merged input; a fixed-size output would be split
// wrongly.
bool Mergeable(const engine::InferenceSession& session) {
  const engine::ModelSummary& summary = session.summary();
  if (summary.inputs.empty() || summary.outputs.empty()) return false;
  for (const std::vector<engine::ValueInfo>* values : {&summary.inputs, &summary.outputs}) {
    for (const engine::ValueInfo& value : *values) {
      if (value.shape.empty() || value.shape[0] > 0) return false;
    }
  }
  return true;
}

// Whether every input holds `rows` rows: the call's rows stay aligned across
// its inputs when stacked with other calls'.
bool RowsAgree(const std::vector<engine::Tensor>& inputs, int64_t rows) {
  return std::all_of(inputs.begin(), inputs.end(),
                     [&](const engine::Tensor& input) { return input.shape[0] == rows; });
}

// Same name, rank and non-batch dims.
bool SameSampleShape(const engine::Tensor& a, const engine::Tensor& b) {
  return a.name == b.name && a.shape.size() == b.shape.size() &&
         std::equal(a.shape.begin() + 1, a.shape.end(), b.shape.begin() + 1);
}

// Calls merge when they run the same session on samples of the same shapes,
// input by input.
bool SameKind(const InferScheduler::Call& a, const InferScheduler::Call& b) {
  if (!a.mergeable || !b.mergeable || a.session != b.session ||
      a.inputs.size() != b.inputs.size()) {
    return false;
  }
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    if (!SameSampleShape(a.inputs[i], b.inputs[i])) return false;
  }
  return true;
}

int64_t LargestPowerOfTwoAtMost(int64_t n) {
  int64_t p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

// Each input of the calls stacked along dimension 0, in call order.
std::vector<engine::Tensor> MergeInputs(const CallList& calls, int64_t rows) {
  std::vector<engine::Tensor> merged(calls.front()->inputs.size());
  for (size_t i = 0; i < merged.size(); ++i) {
    for (const auto& call : calls) engine::AppendRows(merged[i], call->inputs[i], rows);
  }
  return merged;
}

// Hands each call its rows of every output; false (nothing handed) when an
// output's dimension 0 is not the merged batch.
bool SplitOutputs(const std::vector<engine::Tensor>& outputs, const CallList& calls,
                  int64_t rows) {
  for (const engine::Tensor& output : outputs) {
    if (output.shape.empty() || output.shape[0] != rows) return false;
  }
  int64_t first_row = 0;
  for (const auto& call : calls) {
    std::vector<engine::Tensor> mine;
    mine.reserve(outputs.size());
    for (const engine::Tensor& output : outputs) {
      mine.push_back(engine::SliceRows(output, first_row, call->rows));
    }
    first_row += call->rows;
    call->result = std::move(mine);
  }
  return true;
}

// One tensor runs as the session's one-tensor Run (a one-input model takes
// it whatever its name), several as its Run of all inputs.
absl::StatusOr<std::vector<engine::Tensor>> RunGuarded(engine::InferenceSession& session,
                                                       const std::vector<engine::Tensor>& inputs) {
  try {
    return inputs.size() == 1 ? session.Run(inputs[0]) : session.Run(inputs);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("inference failed: ", e.what()));
  } catch (...) {
    return absl::InternalError("inference failed with an unknown exception");
  }
}

// Runs each call alone; `rows` stays its own.
void RunEachAlone(const CallList& calls) {
  for (const auto& call : calls) {
    const absl::Time started = absl::Now();
    call->result = RunGuarded(*call->session, call->inputs);
    call->timing = InferScheduler::Timing{started - call->arrived, absl::Now() - started,
                                          call->rows, /*led_run=*/true};
  }
}

// Runs `calls` (one kind) as one input and sets each call's result.
void RunMerged(const CallList& calls) {
  const absl::Time started = absl::Now();
  int64_t rows = 0;
  for (const auto& call : calls) rows += call->rows;
  absl::StatusOr<std::vector<engine::Tensor>> outputs =
      RunGuarded(*calls.front()->session, MergeInputs(calls, rows));
  if (!outputs.ok() || !SplitOutputs(*outputs, calls, rows)) {
    // Whatever failed may be one call's alone: each gets its own answer.
    RunEachAlone(calls);
    return;
  }
  const absl::Duration compute = absl::Now() - started;
  for (const auto& call : calls) {
    call->timing = InferScheduler::Timing{started - call->arrived, compute, rows,
                                          /*led_run=*/call == calls.front()};
  }
}

// Sets every call's result; nothing escapes (an executor thread runs this).
void RunBatch(const CallList& calls) {
  try {
    if (calls.size() == 1) {
      RunEachAlone(calls);
    } else {
      RunMerged(calls);
    }
  } catch (const std::exception& e) {
    for (const auto& call : calls) {
      call->result = absl::InternalError(absl::StrCat("inference failed: ", e.what()));
    }
  } catch (...) {
    for (const auto& call : calls) {
      call->result = absl::InternalError("inference failed with an unknown exception");
    }
  }
}

}  // namespace

InferScheduler::InferScheduler(int executors, int64_t max_waiting, InferBatching batching,
                               std::function<void(int64_t, int64_t)> on_change)
    : max_waiting_(std::max<int64_t>(0, max_waiting)),
      batching_(batching),
      on_change_(std::move(on_change)) {
  for (int i = 0; i < std::max(1, executors); ++i) {
    executors_.emplace_back([this] { ExecutorLoop(); });
  }
}

InferScheduler::~InferScheduler() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (const std::shared_ptr<Call>& call : queue_) {
      call->taken = true;
      call->result = absl::UnavailableError("the server is shutting down");
      call->done.Notify();
    }
    queue_.clear();
  }
  for (std::thread& executor : executors_) executor.join();
}

absl::StatusOr<std::vector<engine::Tensor>> InferScheduler::Run(
    std::shared_ptr<engine::InferenceSession> session, engine::Tensor input, absl::Time deadline,
    Timing* timing) {
  std::vector<engine::Tensor> inputs;
  inputs.push_back(std::move(input));
  return Run(std::move(session), std::move(inputs), deadline, timing);
}

absl::StatusOr<std::vector<engine::Tensor>> InferScheduler::Run(
    std::shared_ptr<engine::InferenceSession> session, std::vector<engine::Tensor> inputs,
    absl::Time deadline, Timing* timing) {
  if (inputs.empty()) return absl::InvalidArgumentError("Infer needs an input tensor");
  for (const engine::Tensor& input : inputs) {
    if (input.shape.empty() || input.shape[0] < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("Infer input", input.name.empty() ? "" : absl::StrCat(" '", input.name, "'"),
                       " needs a batch dimension of at least 1"));
    }
  }
  auto call = std::make_shared<Call>();
  call->session = std::move(session);
  call->rows = inputs[0].shape[0];
  call->mergeable =
      batching_.max_batch > 1 && Mergeable(*call->session) && RowsAgree(inputs, call->rows);
  call->inputs = std::move(inputs);
  call->arrived = absl::Now();
  call->deadline = deadline;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    // An idle executor takes a call at once: only the rest count as waiting.
    const int64_t idle = static_cast<int64_t>(executors_.size()) - running_;
    if (static_cast<int64_t>(queue_.size()) >= max_waiting_ + std::max<int64_t>(0, idle)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Infer queue is full: ", queue_.size(), " calls already wait for the ",
          executors_.size(), " executor(s) (--infer_queue_capacity=", max_waiting_,
          "); retry later"));
    }
    queue_.push_back(call);
    last_arrival_ = call->arrived;
    Notify();
  }
  if (!call->done.WaitForNotificationWithDeadline(deadline)) {
    absl::MutexLock lock(&mu_);
    if (!call->taken) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), call));
      Notify();
      return absl::DeadlineExceededError(absl::StrCat(
          "deadline passed while waiting for one of the ", executors_.size(),
          " Infer executor(s)"));
    }
  }
  call->done.WaitForNotification();  // taken: its run is under way
  if (timing != nullptr) *timing = call->timing;
  return std::move(call->result);
}

void InferScheduler::ExecutorLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(
        +[](InferScheduler* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
          return s->stopping_ || !s->queue_.empty();
        },
        this));
    if (stopping_) return;
    CallList batch;
    {
      const std::shared_ptr<Call> first = queue_.front();
      if (first->mergeable) {
        AwaitCompany(*first);
        if (stopping_) return;
        // It left (its deadline passed) or another executor took it: start over.
        if (queue_.empty() || queue_.front() != first) continue;
      }
      batch = TakeBatch(*first);
    }
    if (batch.empty()) continue;
    ++running_;
    ++runs_;
    Notify();
    mu_.Unlock();
    RunBatch(batch);
    mu_.Lock();
    // Counted down before the callers wake: one that has its answer sees
    // this run finished (its next call is not refused for a busy executor).
    --running_;
    Notify();
    mu_.Unlock();
    for (const auto& call : batch) call->done.Notify();
    batch.clear();  // inputs (and maybe an evicted session) freed unlocked
    mu_.Lock();
  }
}

void InferScheduler::AwaitCompany(const Call& first) {
  // At most half of the call's time to its deadline goes to waiting for
  // company; the rest is for its run.
  const absl::Time latest =
      first.arrived + std::min(batching_.max_delay, (first.deadline - first.arrived) / 2);
  // Calls that come together (closed-loop clients answered by one run) arrive
  // within a fraction of the window; once none has come for a fifth of it,
  // the burst is over and waiting longer would only idle the executor.
  const absl::Duration quiet = batching_.max_delay / 5;
  absl::Time seen = last_arrival_;
  auto alone = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !stopping_ && !queue_.empty() && queue_.front().get() == &first &&
           RowsLike(first) < batching_.max_batch;
  };
  while (alone()) {
    auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !alone() || last_arrival_ != seen;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&changed), std::min(latest, seen + quiet))) return;
    seen = last_arrival_;
  }
}

std::vector<std::shared_ptr<InferScheduler::Call>> InferScheduler::TakeBatch(const Call& first) {
  const absl::Time now = absl::Now();
  const int64_t limit = std::max<int64_t>(1, batching_.max_batch);
  // A power of two of the rows at hand, so that merged runs use few batch
  // sizes (a Plan each); a call larger than that runs whole.
  const int64_t target =
      std::max(first.rows, LargestPowerOfTwoAtMost(std::min(limit, RowsLike(first))));
  CallList batch;
  int64_t rows = 0;
  for (auto it = queue_.begin(); it != queue_.end() && rows < target;) {
    Call& call = **it;
    if ((&call != &first && !SameKind(call, first)) || (rows > 0 && rows + call.rows > target)) {
      ++it;
      continue;
    }
    call.taken = true;
    if (call.deadline < now) {
      call.result = absl::DeadlineExceededError("deadline passed before the call's batch ran");
      call.done.Notify();
    } else {
      rows += call.rows;
      batch.push_back(*it);
    }
    it = queue_.erase(it);
  }
  Notify();
  return batch;
}

int64_t InferScheduler::RowsLike(const Call& first) const {
  int64_t rows = 0;
  for (const std::shared_ptr<Call>& call : queue_) {
    if (SameKind(*call, first)) rows += call->rows;
  }
  return rows;
}

void InferScheduler::Notify() {
  if (on_change_) on_change_(running_, static_cast<int64_t>(queue_.size()));
}

int InferScheduler::DefaultExecutors() {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  int threads_per_call = cores;
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env != nullptr) {
    int parsed = 0;
    if (absl::SimpleAtoi(env, &parsed) && parsed > 0) threads_per_call = parsed;
  }
  return std::max(1, cores / threads_per_call);
}

int64_t InferScheduler::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int64_t InferScheduler::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

int64_t InferScheduler::runs() const {
  absl::MutexLock lock(&mu_);
  return runs_;
}

}  // namespace quantd::server
