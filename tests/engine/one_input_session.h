#ifndef QUANTD_TESTS_ENGINE_ONE_INPUT_SESSION_H_
#define QUANTD_TESTS_ENGINE_ONE_INPUT_SESSION_H_

// Base for fake sessions of one-input models: they implement the one-tensor
// Run and RunObserved; the vector forms take exactly one tensor and forward.

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/inference_session.h"
#include "engine/tensor.h"

namespace quantd::engine::testing {

class OneInputSession : public InferenceSession {
 public:
  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override = 0;
  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                  const ActivationObserver& observer) override = 0;

  absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) final {
    if (inputs.size() != 1) return absl::InvalidArgumentError("the fake takes one input");
    return Run(inputs[0]);
  }
  absl::StatusOr<std::vector<Tensor>> RunObserved(const std::vector<Tensor>& inputs,
                                                  const ActivationObserver& observer) final {
    if (inputs.size() != 1) return absl::InvalidArgumentError("the fake takes one input");
    return RunObserved(inputs[0], observer);
  }
};

}  // namespace quantd::engine::testing

#endif  // QUANTD_TESTS_ENGINE_ONE_INPUT_SESSION_H_
