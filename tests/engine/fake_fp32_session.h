#ifndef QUANTD_TESTS_ENGINE_FAKE_FP32_SESSION_H_
#define QUANTD_TESTS_ENGINE_FAKE_FP32_SESSION_H_

// A scripted fp32 session for calibrator tests: no oneDNN, known activations.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/runtime/inference_session.h"
#include "tests/engine/one_input_session.h"

namespace quantd::engine::testing {

// Stands in for an fp32 session of the model y = relu(2x - 1): reports the
// input as "input", then "scaled" (2x - 1) and "relu". Records each batch's
// first feature per sample, which identifies the sample in the datasets below.
class FakeFp32Session : public OneInputSession {
 public:
  absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input) override {
    return RunObserved(input, [](const std::string&, const Tensor&) {});
  }

  absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                  const ActivationObserver& observer) override {
    if (fail_at_call_ == static_cast<int>(batch_sizes_.size())) {
      return absl::InvalidArgumentError("input shape [2, 3] does not match [-1, 4]");
    }
    const int64_t batch = input.shape.at(0);
    batch_sizes_.push_back(batch);
    const int64_t sample_size = input.NumElements() / batch;
    for (int64_t i = 0; i < batch; ++i) sample_ids_.push_back(input.data[i * sample_size]);
    observer("input", input);
    Tensor scaled = input;
    scaled.name = "scaled";
    for (float& v : scaled.data) v = 2 * v - 1;
    observer("scaled", scaled);
    Tensor relu = scaled;
    relu.name = "relu";
    for (float& v : relu.data) v = std::max(v, 0.0f);
    observer("relu", relu);
    return std::vector<Tensor>{relu};
  }

  const ModelSummary& summary() const override { return summary_; }
  Precision precision() const override { return Precision::kFp32; }

  const std::vector<int64_t>& batch_sizes() const { return batch_sizes_; }
  const std::vector<float>& sample_ids() const { return sample_ids_; }
  void FailAtCall(int call) { fail_at_call_ = call; }

 private:
  ModelSummary summary_;
  std::vector<int64_t> batch_sizes_;
  std::vector<float> sample_ids_;
  int fail_at_call_ = -1;
};

}  // namespace quantd::engine::testing

#endif  // QUANTD_TESTS_ENGINE_FAKE_FP32_SESSION_H_
