#ifndef QUANTD_ENGINE_RUNTIME_EXECUTION_CONTEXT_H_
#define QUANTD_ENGINE_RUNTIME_EXECUTION_CONTEXT_H_

// One request's activation memory for a shared Plan. A context is used by one
// thread at a time; run several contexts to serve requests concurrently.

#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/plan.h"
#include "engine/tensor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

class ExecutionContext {
 public:
  static absl::StatusOr<std::unique_ptr<ExecutionContext>> Create(std::shared_ptr<const Plan> plan);

  // `input` must hold exactly the plan's input shape. With an observer, also
  // reports the input and every node output in plain f32 (dequantized).
  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input,
                                          const ActivationObserver* observer = nullptr);

  const Plan& plan() const { return *plan_; }

 private:
  explicit ExecutionContext(std::shared_ptr<const Plan> plan);

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
