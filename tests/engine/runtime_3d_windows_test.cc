// 3-D convolutions and pools (video and volumetric models) against a naive
// computation written here from the ONNX definitions, and in int8.

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;

// Conv over [N, C, D, H, W] with stride 1, padding `pad` on every side,
// followed by ReLU; then a 2x2x2 max pool with stride 2.
Tensor NaiveConvReluPool3d(const Tensor& x, const Constant& w, int64_t pad) {
  const int64_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4];
  const int64_t O = w.dims[0], K = w.dims[2];
  const int64_t OD = D + 2 * pad - K + 1, OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
  auto at = [&](int64_t n, int64_t c, int64_t d, int64_t h, int64_t ww) {
    return x.data[(((n * C + c) * D + d) * H + h) * W + ww];
  };
  std::vector<float> conv(N * O * OD * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t d = 0; d < OD; ++d)
        for (int64_t h = 0; h < OH; ++h)
          for (int64_t ww = 0; ww < OW; ++ww) {
            double acc = 0;
            for (int64_t c = 0; c < C; ++c)
              for (int64_t kd = 0; kd < K; ++kd)
                for (int64_t kh = 0; kh < K; ++kh)
                  for (int64_t kw = 0; kw < K; ++kw) {
                    const int64_t sd = d - pad + kd, sh = h - pad + kh, sw = ww - pad + kw;
                    if (sd < 0 || sd >= D || sh < 0 || sh >= H || sw < 0 || sw >= W) continue;
                    acc += double(at(n, c, sd, sh, sw)) *
                           w.floats[(((o * C + c) * K + kd) * K + kh) * K + kw];
                  }
            conv[(((n * O + o) * OD + d) * OH + h) * OW + ww] = std::max(0.0f, float(acc));
          }
  const int64_t PD = OD / 2, PH = OH / 2, PW = OW / 2;
  Tensor y{"", {N, O, PD, PH, PW}, std::vector<float>(N * O * PD * PH * PW)};
  for (int64_t no = 0; no < N * O; ++no)
    for (int64_t d = 0; d < PD; ++d)
      for (int64_t h = 0; h < PH; ++h)
        for (int64_t ww = 0; ww < PW; ++ww) {
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t i = 0; i < 8; ++i) {
            best = std::max(
                best,
                conv[((no * OD + 2 * d + i / 4) * OH + 2 * h + i / 2 % 2) * OW + 2 * ww + i % 2]);
          }
          y.data[((no * PD + d) * PH + h) * PW + ww] = best;
        }
  return y;
}

Graph ConvReluPool3d(std::mt19937& rng) {
  PostOp relu;
  return GraphBuilder({2, 3, 6, 7, 8})
      .Const("w", {4, 3, 3, 3, 3}, rng, -0.5f, 0.5f)
      .Op("Conv", "conv", {"x", "w"}, "a", {{"pads", Ints{1, 1, 1, 1, 1, 1}}}, {relu})
      .Op("MaxPool", "pool", {"a"}, "y",
          {{"kernel_shape", Ints{2, 2, 2}}, {"strides", Ints{2, 2, 2}}})
      .Output("y")
      .Build();
}

TEST(Runtime3dWindowsTest, ConvAndPoolMatchANaiveComputation) {
  std::mt19937 rng(70);
  const Graph g = ConvReluPool3d(rng);
  const Tensor x = RandomTensor({2, 3, 6, 7, 8}, rng);
  const Tensor expected = NaiveConvReluPool3d(x, g.constants.at("w"), 1);
  absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(g, x);
  ASSERT_TRUE(actual.ok()) << actual.status();
  ASSERT_EQ((*actual)[0].shape, expected.shape);
  EXPECT_LE(testing::MaxAbsDiff((*actual)[0], expected), 1e-4f);
}

TEST(Runtime3dWindowsTest, Int8ConvolutionStaysInt8) {
  std::mt19937 rng(71);
  const Graph g = ConvReluPool3d(rng);
  const Tensor x = RandomTensor({2, 3, 6, 7, 8}, rng);
  const CalibrationTable table = testing::RangesOf(testing::RunAndObserve(g, x, {}));
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  const testing::Values int8 = testing::RunAndObserve(g, x, options);
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, x.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const NodeExecution& node : (*plan)->coverage.nodes) {
    EXPECT_TRUE(node.int8) << node.node;
  }
  // The error of rounding the input and weights through the convolution,
  // plus rounding its result (ReLU and max keep that grid).
  const Tensor expected = NaiveConvReluPool3d(x, g.constants.at("w"), 1);
  const float input_step = 1.0f / QuantParamsForRange(table.ranges.at("x")).scale;
  const float output_step = 1.0f / QuantParamsForRange(table.ranges.at("a")).scale;
  const float bound = testing::ConvErrorBound(g.constants.at("w"), input_step, 1.0f) +
                      0.5f * output_step + 1e-6f;
  EXPECT_LE(testing::MaxAbsDiff(int8.at("y"), expected), bound);
}

}  // namespace
}  // namespace quantd::engine
