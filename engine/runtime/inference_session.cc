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
#include "engine/runtime/batch_rows.h"
#include "engine/runtime/batch_split_tuner.h"
#include "engine/runtime/constant_cache.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/input_binding.h"
#include "engine/runtime/model_inspection.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/runtime/session_factory.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

// Execution contexts of one Plan, reused across requests so activation memory
// is allocated once per concurrent caller rather than once per request. At
// most kMaxIdle are kept, and with a shared IdleMemoryBudget only while the
// contexts kept by every session fit in it.
class ContextPool {
 public:
  ContextPool(std::shared_ptr<const Plan> plan, std::shared_ptr<IdleMemoryBudget> budget)
      : plan_(std::move(plan)), budget_(std::move(budget)), context_bytes_(ContextBytes(*plan_)) {}
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;
  ~ContextPool() {
    if (budget_ != nullptr) budget_->Release(context_bytes_ * static_cast<int64_t>(free_.size()));
  }

  absl::StatusOr<std::unique_ptr<ExecutionContext>> Acquire() {
    {
      absl::MutexLock lock(&mu_);
      if (!free_.empty()) {
        std::unique_ptr<ExecutionContext> context = std::move(free_.back());
        free_.pop_back();
        if (budget_ != nullptr) budget_->Release(context_bytes_);
        return context;
      }
    }
    return ExecutionContext::Create(plan_);
  }

  const Plan& plan() const { return *plan_; }

  void Release(std::unique_ptr<ExecutionContext> context) {
    absl::MutexLock lock(&mu_);
    if (free_.size() < kMaxIdle && (budget_ == nullptr || budget_->TryKeep(context_bytes_))) {
      free_.push_back(std::move(context));
    }
  }

 private:
  static constexpr size_t kMaxIdle = 4;

  // What one context allocates: the plan's storage blocks and scratchpad.
  static int64_t ContextBytes(const Plan& plan) {
    int64_t bytes = static_cast<int64_t>(plan.scratchpad_size);
    for (const size_t size : plan.storage_sizes) bytes += static_cast<int64_t>(size);
    return bytes;
  }

  const std::shared_ptr<const Plan> plan_;
  const std::shared_ptr<IdleMemoryBudget> budget_;  // null: kMaxIdle alone bounds it
  const int64_t context_bytes_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<ExecutionContext>> free_ ABSL_GUARDED_BY(mu_);
};

// Shapes of the graph inputs, in graph order: what a Plan is compiled for.
using InputShapes = std::vector<std::vector<int64_t>>;

BoundInputs Bound(const std::vector<Tensor>& tensors) {
  BoundInputs bound;
  bound.reserve(tensors.size());
  for (const Tensor& tensor : tensors) bound.push_back(&tensor);
  return bound;
}

InputShapes ShapesOf(const BoundInputs& inputs) {
  InputShapes shapes;
  shapes.reserve(inputs.size());
  for (const Tensor* input : inputs) shapes.push_back(input->shape);
  return shapes;
}

// Rows [begin, begin + count) of every input.
std::vector<Tensor> SliceInputs(const BoundInputs& inputs, int64_t begin, int64_t count) {
  std::vector<Tensor> slices;
  slices.reserve(inputs.size());
  for (const Tensor* input : inputs) slices.push_back(SliceRows(*input, begin, count));
  return slices;
}

// Stacks a part's outputs (`rows` rows each) under those of the parts before
// it, reserving `total_rows` on the first; false when an output's dimension 0
// is not `rows` (not batch-major after all: a Reshape folded the batch away).
bool StackOutputs(std::vector<Tensor>& stacked, const std::vector<Tensor>& part, int64_t rows,
                  int64_t total_rows) {
  for (const Tensor& output : part) {
    if (output.shape.empty() || output.shape[0] != rows) return false;
  }
  stacked.resize(part.size());
  for (size_t i = 0; i < part.size(); ++i) AppendRows(stacked[i], part[i], total_rows);
  return true;
}

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
  // model is loaded rather than at its first request. A model with a dynamic
  // dim beyond dimension 0 has no size worth guessing (too small a guess
  // fails its kernels); its Plans compile at first use of each input size.
  absl::Status Warm() {
    InputShapes shapes;
    for (const ValueInfo& input : graph_.inputs) {
      std::vector<int64_t> shape = input.shape;
      for (size_t i = 1; i < shape.size(); ++i) {
        if (shape[i] <= 0) return absl::OkStatus();
      }
      if (!shape.empty() && shape[0] <= 0) shape[0] = 1;
      shapes.push_back(std::move(shape));
    }
    return PlanFor(shapes).status();
  }

  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) override {
    ASSIGN_OR_RETURN(const BoundInputs bound, BindInputs(graph_.inputs, inputs));
    return RunBound(bound);
  }

  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override {
    if (graph_.inputs.size() != 1) return InferenceSession::Run(input);
    RETURN_IF_ERROR(ValidateInput(graph_.inputs[0], input));
    return RunBound({&input});
  }

  // int8 values are reported dequantized (the plan records each buffer's
  // scale); simulated sessions hold fake-quantized f32 already.
  absl::StatusOr<std::vector<Tensor>> RunObserved(const std::vector<Tensor>& inputs,
                                                  const ActivationObserver& observer) override {
    ASSIGN_OR_RETURN(const BoundInputs bound, BindInputs(graph_.inputs, inputs));
    return RunWith(bound, &observer);
  }

  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                  const ActivationObserver& observer) override {
    if (graph_.inputs.size() != 1) return InferenceSession::RunObserved(input, observer);
    RETURN_IF_ERROR(ValidateInput(graph_.inputs[0], input));
    return RunWith({&input}, &observer);
  }

  int TuningRunsLeft(int64_t batch) override {
    if (!options_.tune_batch_split || !outputs_follow_batch_) return 0;
    return batch_split_.RunsLeft(batch, omp_get_max_threads());
  }

  absl::StatusOr<Int8Coverage> Coverage(const std::vector<int64_t>& input_shape) override {
    if (graph_.inputs.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("coverage is measured for one input shape; the model takes ",
                       DescribeInputs(graph_.inputs)));
    }
    Tensor probe{"", input_shape, {}};
    probe.data.resize(static_cast<size_t>(std::max<int64_t>(0, probe.NumElements())));
    RETURN_IF_ERROR(ValidateInput(graph_.inputs[0], probe));
    ASSIGN_OR_RETURN(std::shared_ptr<ContextPool> pool, PlanFor({input_shape}));
    return pool->plan().coverage;
  }

  const ModelSummary& summary() const override { return summary_; }
  Precision precision() const override { return options_.precision; }
  bool simulated() const override {
    return options_.precision == Precision::kInt8 && options_.quantization.simulated();
  }

 private:
  // Whether dimension 0 of every input and every output is the (dynamic)
  // batch, so a batch can be run in parts and the outputs stacked.
  bool OutputsFollowBatch() const {
    for (const ValueInfo& input : graph_.inputs) {
      if (input.shape.empty() || input.shape[0] > 0) return false;
    }
    for (const ValueInfo& output : graph_.outputs) {
      if (output.shape.empty() || output.shape[0] > 0) return false;
    }
    return true;
  }

  // Runs validated `inputs`, split as BatchSplitTuner finds fastest when the
  // model and the call allow it: every input holds the same batch.
  absl::StatusOr<std::vector<Tensor>> RunBound(const BoundInputs& inputs) {
    const int64_t batch = inputs[0]->shape.empty() ? 0 : inputs[0]->shape[0];
    for (const Tensor* input : inputs) {
      if (input->shape.empty() || input->shape[0] != batch) return RunWith(inputs, nullptr);
    }
    if (!options_.tune_batch_split || !outputs_follow_batch_ ||
        batch < BatchSplitTuner::kMinSplitBatch) {
      return RunWith(inputs, nullptr);
    }
    const int threads = omp_get_max_threads();
    const BatchSplit split = batch_split_.SplitFor(batch, threads);
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<Tensor>> outputs =
        split.workers > 1      ? RunSideBySide(inputs, split, threads)
        : split.chunk == batch ? RunWith(inputs, nullptr)
                               : RunInChunks(inputs, split.chunk);
    if (outputs.ok()) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (batch_split_.Report(batch, threads, split, seconds)) {
        InputShapes measured = ShapesOf(inputs);
        for (std::vector<int64_t>& shape : measured) shape[0] = split.chunk;
        DropPlan(measured, threads / split.workers);
      }
    }
    return outputs;
  }

  // Runs the rows of `inputs` in consecutive sub-batches of `chunk` (which
  // divides the batch) and stacks each output along dimension 0.
  absl::StatusOr<std::vector<Tensor>> RunInChunks(const BoundInputs& inputs, int64_t chunk) {
    const int64_t batch = inputs[0]->shape[0];
    std::vector<Tensor> stacked;
    for (int64_t begin = 0; begin < batch; begin += chunk) {
      const std::vector<Tensor> part = SliceInputs(inputs, begin, chunk);
      ASSIGN_OR_RETURN(const std::vector<Tensor> outputs, RunWith(Bound(part), nullptr));
      // Only the whole batch gives the right answer when a part's outputs
      // are not batch-major.
      if (!StackOutputs(stacked, outputs, chunk, batch)) return RunWith(inputs, nullptr);
    }
    return stacked;
  }

  // Runs `split.workers` equal shares of the batch side by side, each on its
  // own thread with threads / workers OpenMP threads (so the cores stay
  // exactly subscribed) in sub-batches of `split.chunk`, and stacks the
  // outputs in row order. Each worker's Plans are compiled for its own
  // thread count: oneDNN fixes a primitive's threads when it is created.
  absl::StatusOr<std::vector<Tensor>> RunSideBySide(const BoundInputs& inputs,
                                                    const BatchSplit& split, int threads) {
    const int64_t batch = inputs[0]->shape[0];
    const int64_t share = batch / split.workers;
    const int worker_threads = std::max(1, threads / split.workers);
    std::vector<absl::StatusOr<std::vector<Tensor>>> results(
        static_cast<size_t>(split.workers), absl::UnknownError("worker did not run"));
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(split.workers));
    for (int w = 0; w < split.workers; ++w) {
      workers.emplace_back([&, w] {
        omp_set_num_threads(worker_threads);
        const std::vector<Tensor> part = SliceInputs(inputs, w * share, share);
        results[static_cast<size_t>(w)] = split.chunk == share
                                              ? RunWith(Bound(part), nullptr)
                                              : RunInChunks(Bound(part), split.chunk);
      });
    }
    for (std::thread& worker : workers) worker.join();
    std::vector<Tensor> stacked;
    for (const absl::StatusOr<std::vector<Tensor>>& result : results) {
      if (!result.ok()) return result.status();
      if (!StackOutputs(stacked, *result, share, batch)) return RunWith(inputs, nullptr);
    }
    return stacked;
  }

  // Forgets the Plan for `shapes` compiled for `threads` OpenMP threads
  // (in-flight runs keep theirs alive).
  void DropPlan(const InputShapes& shapes, int threads) {
    absl::MutexLock lock(&mu_);
    plans_.remove_if(
        [&](const CachedPlan& plan) { return plan.shapes == shapes && plan.threads == threads; });
  }

  // Plans are cached per set of input shapes and per OpenMP thread count of
  // the threads that run them: a Plan compiled on 2 threads runs wrongly
  // sized on 1, and the other way round.
  struct CachedPlan {
    InputShapes shapes;
    int threads = 0;
    std::shared_ptr<ContextPool> contexts;
  };

  // The plan for `shapes`, compiled on first use; least recently used first
  // out when the cache is full.
  absl::StatusOr<std::shared_ptr<ContextPool>> PlanFor(const InputShapes& shapes) {
    const int threads = omp_get_max_threads();
    absl::MutexLock lock(&mu_);
    for (auto it = plans_.begin(); it != plans_.end(); ++it) {
      if (it->shapes == shapes && it->threads == threads) {
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
    ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, CompilePlan(graph_, shapes, plan_options));
    plans_.push_front(CachedPlan{
        shapes, threads, std::make_shared<ContextPool>(std::move(plan), options_.idle_memory)});
    while (plans_.size() > static_cast<size_t>(options_.max_cached_plans)) {
      plans_.pop_back();
    }
    return plans_.front().contexts;
  }

  // Runs validated `inputs` whole.
  absl::StatusOr<std::vector<Tensor>> RunWith(const BoundInputs& inputs,
                                              const ActivationObserver* observer) {
    ASSIGN_OR_RETURN(std::shared_ptr<ContextPool> pool, PlanFor(ShapesOf(inputs)));
    ASSIGN_OR_RETURN(std::unique_ptr<ExecutionContext> context, pool->Acquire());
    absl::StatusOr<std::vector<Tensor>> outputs = context->Run(inputs, observer);
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

// A one-input model takes the tensor as its input whatever its name: unnamed,
// it binds by position.
absl::StatusOr<std::vector<Tensor>> InferenceSession::Run(const Tensor& input) {
  std::vector<Tensor> inputs = {input};
  if (summary().inputs.size() == 1) inputs[0].name.clear();
  return Run(inputs);
}

absl::StatusOr<std::vector<Tensor>> InferenceSession::RunObserved(
    const Tensor& input, const ActivationObserver& observer) {
  std::vector<Tensor> inputs = {input};
  if (summary().inputs.size() == 1) inputs[0].name.clear();
  return RunObserved(inputs, observer);
}

absl::StatusOr<std::unique_ptr<InferenceSession>> CreateSessionFromGraph(
    Graph graph, ModelSummary summary, const SessionOptions& options) {
  if (graph.inputs.empty()) return absl::InvalidArgumentError("the model has no runtime input");
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
