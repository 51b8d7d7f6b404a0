#ifndef QUANTD_TESTS_ENGINE_PLAN_TEST_HELPERS_H_
#define QUANTD_TESTS_ENGINE_PLAN_TEST_HELPERS_H_

// Helpers for tests that compile a Plan directly and look at every value it
// produces: the int8 and the simulated-quantization runtime tests.

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/quant/calibration_table.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"

namespace quantd::engine::testing {

using Values = std::map<std::string, Tensor>;

// Runs `graph` once and returns every observed value (dequantized for int8).
inline Values RunAndObserve(const Graph& graph, const Tensor& input, const PlanOptions& options) {
  Values values;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(graph, input.shape, options);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return values;
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
  EXPECT_TRUE(context.ok()) << context.status();
  const ActivationObserver observer = [&](const std::string& name, const Tensor& value) {
    values[name] = value;
  };
  absl::StatusOr<std::vector<Tensor>> out = (*context)->Run(input, &observer);
  EXPECT_TRUE(out.ok()) << out.status();
  return values;
}

// The exact min/max of each observed value: a calibration on one batch.
inline CalibrationTable RangesOf(const Values& values) {
  CalibrationTable table;
  for (const auto& [name, value] : values) {
    const auto [lo, hi] = std::minmax_element(value.data.begin(), value.data.end());
    table.ranges[name] = TensorRange{*lo, *hi};
  }
  return table;
}

// An int8 Plan for `graph`, calibrated on `input` alone (RangesOf an fp32
// run), with default quantization options.
inline absl::StatusOr<std::shared_ptr<const Plan>> CalibratedInt8Plan(const Graph& graph,
                                                                      const Tensor& input) {
  const CalibrationTable table = RangesOf(RunAndObserve(graph, input, {}));
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  return CompilePlan(graph, input.shape, options);
}

// Worst-case error of a conv output from quantizing its input (step
// `input_step`) and its weights per output channel.
inline float ConvErrorBound(const Constant& w, float input_step, float input_max_abs) {
  const int64_t oc = w.dims[0], per_channel = w.NumElements() / oc;
  float bound = 0.0f;
  for (int64_t o = 0; o < oc; ++o) {
    float sum_abs = 0.0f, max_abs = 0.0f;
    for (int64_t i = 0; i < per_channel; ++i) {
      sum_abs += std::fabs(w.floats[o * per_channel + i]);
      max_abs = std::max(max_abs, std::fabs(w.floats[o * per_channel + i]));
    }
    const float weight_step = max_abs / 127.0f;
    bound =
        std::max(bound, 0.5f * (input_step * sum_abs + weight_step * per_channel * input_max_abs));
  }
  return bound;
}

inline float MaxAbsDiff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape, b.shape);
  float m = 0.0f;
  for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i) {
    m = std::max(m, std::fabs(a.data[i] - b.data[i]));
  }
  return m;
}

inline float MaxAbs(const Tensor& a) {
  float m = 0.0f;
  for (float v : a.data) m = std::max(m, std::fabs(v));
  return m;
}

}  // namespace quantd::engine::testing

#endif  // QUANTD_TESTS_ENGINE_PLAN_TEST_HELPERS_H_
