#include "engine/runtime/inference_session.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/check_inference_mode.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/batch_split_tuner.h"
#include "engine/runtime/constant_cache.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/model_inspection.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/runtime/session_factory.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

// Execution contexts of one Plan, reused across requests so activation memory
// is allocated once per concurrent caller rather than once per request.
class ContextPool {
 public:
  explicit ContextPool(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)) {}

  absl::StatusOr<std::unique_ptr<ExecutionContext>> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!free_.empty()) {
        std::unique_ptr<ExecutionContext> context = std::move(free_.back());
        free_.pop_back();
        return context;
      }
    }
    return ExecutionContext::Create(plan_);
  }

  const Plan& plan() const { return *plan_; }

  void Release(std::unique_ptr<ExecutionContext> context) {
    absl::MutexLock lock(&mu_);
    if (free_.size() < kMaxIdle) free_.push_back(std::move(context));
  }

 private:
  static constexpr size_t kMaxIdle = 4;
  const std::shared_ptr<const Plan> plan_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<ExecutionContext>> free_ ABSL_GUARDED_BY(mu_);
};

class CompiledSession final : public InferenceSession {
 public:
  CompiledSession(Graph graph, ModelSummary summary, const SessionOptions& options)
      : graph_(std::move(graph)), summary_(std::move(summary)), options_(options) {
    if (options.calibration != nullptr) calibration_ = *options.calibration;
    options_.calibration = nullptr;  // the caller's table need not outlive us
    if (options_.max_cached_plans < 1) options_.max_cached_plans = 1;
    outputs_follow_batch_ = OutputsFollowBatch();
  }

  // Compiles the batch-1 Plan up front, so bad attributes surface when the
  // model is loaded rather than at its first request. A model whose height or
  // width is dynamic has no size worth guessing (too small a guess fails its
  // kernels); its Plans compile at first use of each input size.
  absl::Status Warm() {
    std::vector<int64_t> shape = graph_.inputs[0].shape;
    for (size_t i = 1; i < shape.size(); ++i) {
      if (shape[i] <= 0) return absl::OkStatus();
    }
    if (!shape.empty() && shape[0] <= 0) shape[0] = 1;
    return PlanFor(shape).status();
  }

  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override {
    const int64_t batch = input.shape.empty() ? 0 : input.shape[0];
    if (!options_.tune_batch_split || !outputs_follow_batch_ ||
        batch < BatchSplitTuner::kMinSplitBatch) {
      return RunWith(input, nullptr);
    }
    RETURN_IF_ERROR(ValidateInput(input));
    const int threads = omp_get_max_threads();
    const BatchSplit split = batch_split_.SplitFor(batch, threads);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<Tensor>> outputs =
        split.workers > 1      ? RunSideBySide(input, split, threads)
        : split.chunk == batch ? RunWith(input, nullptr)
                               : RunInChunks(input, split.chunk);
    if (outputs.ok()) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (batch_split_.Report(batch, threads, split, seconds)) {
        std::vector<int64_t> measured_shape = input.shape;
        measured_shape[0] = split.chunk;
        DropPlan(measured_shape, threads / split.workers);
      }
    }
    return outputs;
  }

  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                  const ActivationObserver& observer) override {
    // int8 values are reported dequantized (the plan records each buffer's
    // scale); simulated sessions hold fake-quantized f32 already.
    return RunWith(input, &observer);
  }

  int TuningRunsLeft(int64_t batch) override {
    if (!options_.tune_batch_split || !outputs_follow_batch_) return 0;
    return batch_split_.RunsLeft(batch, omp_get_max_threads());
  }

  absl::StatusOr<Int8Coverage> Coverage(const std::vector<int64_t>& input_shape) override {
    Tensor probe{"", input_shape, {}};
    probe.data.resize(static_cast<size_t>(std::max<int64_t>(0, probe.NumElements())));
    RETURN_IF_ERROR(ValidateInput(probe));
    ASSIGN_OR_RETURN(std::shared_ptr<ContextPool> pool, PlanFor(input_shape));
    return pool->plan().coverage;
  }

  const ModelSummary& summary() const override { return summary_; }
  Precision precision() const override { return options_.precision; }
  bool simulated() const override {
    return options_.precision == Precision::kInt8 && options_.quantization.simulated();
  }

 private:
  // Whether dimension 0 of the input and of every output is the (dynamic)
  // batch, so a batch can be run in parts and the outputs stacked.
  bool OutputsFollowBatch() const {
    if (graph_.inputs[0].shape.empty() || graph_.inputs[0].shape[0] > 0) return false;
    for (const ValueInfo& output : graph_.outputs) {
      if (output.shape.empty() || output.shape[0] > 0) return false;
    }
    return true;
  }

  // Runs the images of `input` in consecutive sub-batches of `chunk` (which
  // divides the batch) and stacks each output along dimension 0.
  absl::StatusOr<std::vector<Tensor>> RunInChunks(const Tensor& input, int64_t chunk) {
    const int64_t batch = input.shape[0];
    const size_t image_size = input.data.size() / static_cast<size_t>(batch);
    Tensor part{input.name, input.shape, {}};
    part.shape[0] = chunk;
    std::vector<Tensor> stacked;
    for (int64_t begin = 0; begin < batch; begin += chunk) {
      const auto first = input.data.begin() + static_cast<std::ptrdiff_t>(begin * image_size);
      part.data.assign(first, first + static_cast<std::ptrdiff_t>(chunk * image_size));
      ASSIGN_OR_RETURN(std::vector<Tensor> outputs, RunWith(part, nullptr));
      for (const Tensor& output : outputs) {
        if (output.shape.empty() || output.shape[0] != chunk) {
          // Not batch-major after all (a Reshape folded the batch away):
          // only the whole batch gives the right answer.
          return RunWith(input, nullptr);
        }
      }
      if (stacked.empty()) {
        stacked = std::move(outputs);
        for (Tensor& output : stacked) {
          output.shape[0] = batch;
          output.data.reserve(output.data.size() * static_cast<size_t>(batch / chunk));
        }
        continue;
      }
      for (size_t i = 0; i < stacked.size(); ++i) {
        stacked[i].data.insert(stacked[i].data.end(), outputs[i].data.begin(),
                               outputs[i].data.end());
      }
    }
    return stacked;
  }

  // Runs `split.workers` equal shares of the batch side by side, each on its
  // own thread with threads / workers OpenMP threads (so the cores stay
  // exactly subscribed) in sub-batches of `split.chunk`, and stacks the
  // outputs in image order. Each worker's Plans are compiled for its own
  // thread count: oneDNN fixes a primitive's threads when it is created.
  absl::StatusOr<std::vector<Tensor>> RunSideBySide(const Tensor& input, const BatchSplit& split,
                                                    int threads) {
    const int64_t batch = input.shape[0];
    const int64_t share = batch / split.workers;
    const size_t share_size = input.data.size() / static_cast<size_t>(split.workers);
    const int worker_threads = std::max(1, threads / split.workers);
    std::vector<absl::StatusOr<std::vector<Tensor>>> results(
        static_cast<size_t>(split.workers), absl::UnknownError("worker did not run"));
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(split.workers));
    for (int w = 0; w < split.workers; ++w) {
      workers.emplace_back([&, w] {
        omp_set_num_threads(worker_threads);
        Tensor part{input.name, input.shape, {}};
        part.shape[0] = share;
        const auto first = input.data.begin() + static_cast<std::ptrdiff_t>(w * share_size);
        part.data.assign(first, first + static_cast<std::ptrdiff_t>(share_size));
        results[static_cast<size_t>(w)] =
            split.chunk == share ? RunWith(part, nullptr) : RunInChunks(part, split.chunk);
      });
    }
    for (std::thread& worker : workers) worker.join();
    std::vector<Tensor> stacked;
    for (absl::StatusOr<std::vector<Tensor>>& result : results) {
      if (!result.ok()) return result.status();
      for (const Tensor& output : *result) {
        if (output.shape.empty() || output.shape[0] != share) return RunWith(input, nullptr);
      }
      if (stacked.empty()) {
        stacked = std::move(*result);
        for (Tensor& output : stacked) {
          output.shape[0] = batch;
          output.data.reserve(output.data.size() * static_cast<size_t>(split.workers));
        }
        continue;
      }
      for (size_t i = 0; i < stacked.size(); ++i) {
        stacked[i].data.insert(stacked[i].data.end(), (*result)[i].data.begin(),
                               (*result)[i].data.end());
      }
    }
    return stacked;
  }

  // Forgets the Plan for `shape` compiled for `threads` OpenMP threads
  // (in-flight runs keep theirs alive).
  void DropPlan(const std::vector<int64_t>& shape, int threads) {
    absl::MutexLock lock(&mu_);
    plans_.remove_if(
        [&](const CachedPlan& plan) { return plan.shape == shape && plan.threads == threads; });
  }

  // Plans are cached per input shape and per OpenMP thread count of the
  // threads that run them: a Plan compiled on 2 threads runs wrongly sized
  // on 1, and the other way round.
  struct CachedPlan {
    std::vector<int64_t> shape;
    int threads = 0;
    std::shared_ptr<ContextPool> contexts;
  };

  absl::Status ValidateInput(const Tensor& input) const {
    const ValueInfo& model_input = graph_.inputs[0];
    bool ok = input.shape.size() == model_input.shape.size();
    for (size_t i = 0; ok && i < input.shape.size(); ++i) {
      ok = input.shape[i] >= 1 &&
           (model_input.shape[i] <= 0 || model_input.shape[i] == input.shape[i]);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("input shape ", ShapeString(input.shape), " does not match model input '",
                       model_input.name, "' ", ShapeString(model_input.shape)));
    }
    if (static_cast<int64_t>(input.data.size()) != input.NumElements()) {
      return absl::InvalidArgumentError(absl::StrCat("input has ", input.data.size(),
                                                     " values but shape ", ShapeString(input.shape),
                                                     " needs ", input.NumElements()));
    }
    return absl::OkStatus();
  }

  // The plan for `shape`, compiled on first use; least recently used first
  // out when the cache is full.
  absl::StatusOr<std::shared_ptr<ContextPool>> PlanFor(const std::vector<int64_t>& shape) {
    const int threads = omp_get_max_threads();
    absl::MutexLock lock(&mu_);
    for (auto it = plans_.begin(); it != plans_.end(); ++it) {
      if (it->shape == shape && it->threads == threads) {
        plans_.splice(plans_.begin(), plans_, it);
        return plans_.front().contexts;
      }
    }
    PlanOptions plan_options;
    plan_options.int8 = options_.precision == Precision::kInt8 && !simulated();
    plan_options.simulated = simulated();
    plan_options.calibration = &calibration_;
    plan_options.quantization = options_.quantization;
    plan_options.fp32_winograd = options_.fp32_winograd;
    plan_options.constants = constants_;
    ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, CompilePlan(graph_, shape, plan_options));
    plans_.push_front(CachedPlan{shape, threads, std::make_shared<ContextPool>(std::move(plan))});
    while (plans_.size() > static_cast<size_t>(options_.max_cached_plans)) {
      plans_.pop_back();
    }
    return plans_.front().contexts;
  }

  absl::StatusOr<std::vector<Tensor>> RunWith(const Tensor& input,
                                              const ActivationObserver* observer) {
    RETURN_IF_ERROR(ValidateInput(input));
    ASSIGN_OR_RETURN(std::shared_ptr<ContextPool> pool, PlanFor(input.shape));
    ASSIGN_OR_RETURN(std::unique_ptr<ExecutionContext> context, pool->Acquire());
    absl::StatusOr<std::vector<Tensor>> outputs = context->Run(input, observer);
    pool->Release(std::move(context));
    return outputs;
  }

  const Graph graph_;
  const ModelSummary summary_;
  SessionOptions options_;
  CalibrationTable calibration_;
  // Weights reordered for one Plan, lent to the session's other Plans that
  // ask for the same layout; lives as long as the session, so an evicted
  // Plan's weights stay for the next Plan that needs them.
  const std::shared_ptr<ConstantCache> constants_ = std::make_shared<ConstantCache>();
  absl::Mutex mu_;
  std::list<CachedPlan> plans_ ABSL_GUARDED_BY(mu_);
  BatchSplitTuner batch_split_;
  bool outputs_follow_batch_ = false;  // OutputsFollowBatch(), fixed by the graph
};

ModelSummary SummarizeGraph(const Graph& graph) {
  ModelSummary summary;
  summary.inputs = graph.inputs;
  summary.outputs = graph.outputs;
  for (const Node& node : graph.nodes) ++summary.op_counts[node.op_type];
  summary.opset_version = graph.opset_version;
  return summary;
}

}  // namespace

absl::StatusOr<std::unique_ptr<InferenceSession>> CreateSessionFromGraph(
    Graph graph, ModelSummary summary, const SessionOptions& options) {
  if (graph.inputs.size() != 1) {
    return absl::UnimplementedError(absl::StrCat(
        "the runtime supports models with exactly one input; this one has ", graph.inputs.size()));
  }
  if (options.precision == Precision::kInt8 && options.calibration == nullptr) {
    return absl::InvalidArgumentError("an int8 session needs a calibration table");
  }
  RETURN_IF_ERROR(CheckInferenceMode(graph));
  if (options.precision == Precision::kInt8) {
    RETURN_IF_ERROR(ValidateQuantizationOptions(options.quantization, graph));
  }
  auto session = std::make_unique<CompiledSession>(std::move(graph), std::move(summary), options);
  RETURN_IF_ERROR(session->Warm());
  return session;
}

absl::StatusOr<std::unique_ptr<InferenceSession>> CreateSessionFromGraph(
    Graph graph, const SessionOptions& options) {
  ModelSummary summary = SummarizeGraph(graph);
  return CreateSessionFromGraph(std::move(graph), std::move(summary), options);
}

absl::StatusOr<std::unique_ptr<InferenceSession>> InferenceSession::Create(
    std::string_view onnx_bytes, const SessionOptions& options) {
  ASSIGN_OR_RETURN(ModelSummary summary, InspectModel(onnx_bytes));
  ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(onnx_bytes));
  PassOptions passes;
  passes.fold_batch_norm = options.fold_batch_norm;
  passes.fuse_operators = options.fuse_operators;
  RETURN_IF_ERROR(RunStandardPasses(graph, passes));
  return CreateSessionFromGraph(std::move(graph), std::move(summary), options);
}

}  // namespace quantd::engine
