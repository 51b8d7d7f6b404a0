#ifndef QUANTD_ENGINE_RUNTIME_EXECUTION_CONTEXT_H_
#define QUANTD_ENGINE_RUNTIME_EXECUTION_CONTEXT_H_

// One request's activation memory for a shared Plan. A context is used by one
// thread at a time; run several contexts to serve requests concurrently.

#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/plan.h"
#include "engine/tensor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

class ExecutionContext {
 public:
  static absl::StatusOr<std::unique_ptr<ExecutionContext>> Create(std::shared_ptr<const Plan> plan);

  // `inputs` are the plan's inputs in its (graph) order, each holding exactly
  // the values of its shape; names are not looked at. With an observer, also
  // reports the inputs and every node output in plain f32 (dequantized).
  absl::StatusOr<std::vector<Tensor>> Run(absl::Span<const Tensor* const> inputs,
                                          const ActivationObserver* observer = nullptr);
  // The same for a plan with one input.
  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input,
                                          const ActivationObserver* observer = nullptr);

  const Plan& plan() const { return *plan_; }

 private:
  explicit ExecutionContext(std::shared_ptr<const Plan> plan);

  // Copies the caller's tensors into the plan's input buffers.
  absl::Status CopyInputs(absl::Span<const Tensor* const> inputs);
  absl::Status Report(const ObservedValue& value, const ActivationObserver& observer);

  std::shared_ptr<const Plan> plan_;
  std::vector<dnnl::memory> memories_;  // by buffer id
  std::vector<dnnl::memory> storage_;   // the plan's shared storage blocks
  dnnl::memory scratchpad_;
  std::vector<std::unordered_map<int, dnnl::memory>> step_args_;
  dnnl::stream stream_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_EXECUTION_CONTEXT_H_
