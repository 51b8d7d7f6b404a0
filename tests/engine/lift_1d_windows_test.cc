// 1-D convolutions and pools run as their 2-D forms over a height of 1
// (Lift1dWindowsTo2d): the rewrite itself, and the Plan's results against a
// naive 1-D convolution and max pool written here from the ONNX definitions.

#include "engine/passes/lift_1d_windows.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/passes/standard_passes.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;

// y[n, o, l] = b[o] + sum over the group's channels c and taps k of
// x[n, c, l * stride - pad_begin + k * dilation] * w[o, c, k].
Tensor NaiveConv1d(const Tensor& x, const Constant& w, const Constant& b, int64_t group,
                   int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end) {
  const int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2];
  const int64_t O = w.dims[0], Cg = w.dims[1], K = w.dims[2], Og = O / group;
  const int64_t out = (L + pad_begin + pad_end - (K - 1) * dilation - 1) / stride + 1;
  Tensor y{"", {N, O, out}, std::vector<float>(N * O * out)};
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t o = 0; o < O; ++o) {
      for (int64_t l = 0; l < out; ++l) {
        double acc = b.floats[o];
        for (int64_t c = 0; c < Cg; ++c) {
          for (int64_t k = 0; k < K; ++k) {
            const int64_t at = l * stride - pad_begin + k * dilation;
            if (at < 0 || at >= L) continue;
            acc += double(x.data[(n * C + (o / Og) * Cg + c) * L + at]) *
                   w.floats[(o * Cg + c) * K + k];
          }
        }
        y.data[(n * O + o) * out + l] = float(acc);
      }
    }
  }
  return y;
}

Tensor NaiveMaxPool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad) {
  const int64_t N = x.shape[0], C = x.shape[1], L = x.shape[2];
  const int64_t out = (L + 2 * pad - kernel) / stride + 1;
  Tensor y{"", {N, C, out}, std::vector<float>(N * C * out)};
  for (int64_t nc = 0; nc < N * C; ++nc) {
    for (int64_t l = 0; l < out; ++l) {
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t at = l * stride - pad + k;
        if (at >= 0 && at < L) best = std::max(best, x.data[nc * L + at]);
      }
      y.data[nc * out + l] = best;
    }
  }
  return y;
}

Graph Conv1dThenPool(std::mt19937& rng, int64_t batch) {
  return GraphBuilder({batch, 6, 17})
      .Const("w", {9, 2, 3}, rng)
      .Const("b", {9}, rng)
      .Op("Conv", "conv", {"x", "w", "b"}, "a",
          {{"group", int64_t{3}},
           {"strides", Ints{2}},
           {"dilations", Ints{2}},
           {"pads", Ints{3, 1}}})
      .Op("MaxPool", "pool", {"a"}, "y",
          {{"kernel_shape", Ints{3}}, {"strides", Ints{2}}, {"pads", Ints{1, 1}}})
      .Output("y")
      .Build();
}

TEST(Lift1dWindowsTest, RewritesBetweenReshapesKeepingTheOutputName) {
  std::mt19937 rng(60);
  Graph g = Conv1dThenPool(rng, 2);
  ASSERT_TRUE(Lift1dWindowsTo2d(g).ok());
  std::vector<std::string> ops;
  for (const Node& node : g.nodes) ops.push_back(node.op_type);
  EXPECT_EQ(ops, (std::vector<std::string>{"Reshape", "Conv", "Reshape", "Reshape", "MaxPool",
                                           "Reshape"}));
  const Node& conv = g.nodes[1];
  EXPECT_EQ(std::get<Ints>(conv.attributes.at("pads")), (Ints{0, 3, 0, 1}));
  EXPECT_EQ(std::get<Ints>(conv.attributes.at("strides")), (Ints{1, 2}));
  EXPECT_EQ(std::get<Ints>(conv.attributes.at("dilations")), (Ints{1, 2}));
  EXPECT_EQ(g.constants.at(conv.inputs[1]).dims, (Ints{9, 2, 1, 3}));
  EXPECT_EQ(std::get<Ints>(g.nodes[4].attributes.at("kernel_shape")), (Ints{1, 3}));
  EXPECT_EQ(g.nodes.back().outputs[0], "y");
  // 2-D windows are left alone.
  Graph two_d = GraphBuilder({1, 3, 8, 8})
                    .Const("w", {4, 3, 3, 3}, rng)
                    .Op("Conv", "conv", {"x", "w"}, "y")
                    .Output("y")
                    .Build();
  ASSERT_TRUE(Lift1dWindowsTo2d(two_d).ok());
  EXPECT_EQ(two_d.nodes.size(), 1u);
}

TEST(Lift1dWindowsTest, PlanMatchesNaive1dConvolutionAndPool) {
  for (const int64_t batch : {1, 3}) {
    SCOPED_TRACE(batch);
    std::mt19937 rng(61);
    Graph g = Conv1dThenPool(rng, batch);
    const Constant w = g.constants.at("w"), b = g.constants.at("b");
    ASSERT_TRUE(RunStandardPasses(g, {}).ok());
    const Tensor x = RandomTensor({batch, 6, 17}, rng);
    const Tensor expected =
        NaiveMaxPool1d(NaiveConv1d(x, w, b, 3, 2, 2, 3, 1), /*kernel=*/3, /*stride=*/2, /*pad=*/1);
    absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(actual.ok()) << actual.status();
    ASSERT_EQ((*actual)[0].shape, expected.shape);
    EXPECT_LE(testing::MaxAbsDiff((*actual)[0], expected), 1e-4f);
  }
}

// A 1-D conv chain with a fused ReLU quantizes like its 2-D form: both
// convolutions run int8.
TEST(Lift1dWindowsTest, Int8CoversTheLiftedConvolutions) {
  std::mt19937 rng(62);
  PostOp relu;
  Graph g = GraphBuilder({2, 4, 20})
                .Const("w1", {8, 4, 3}, rng, -0.5f, 0.5f)
                .Const("w2", {4, 8, 1}, rng, -0.5f, 0.5f)
                .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1}}}, {relu})
                .Op("Conv", "c2", {"a", "w2"}, "y")
                .Output("y")
                .Build();
  ASSERT_TRUE(RunStandardPasses(g, {}).ok());
  const Tensor x = RandomTensor({2, 4, 20}, rng);
  absl::StatusOr<std::shared_ptr<const Plan>> plan = testing::CalibratedInt8Plan(g, x);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const NodeExecution& node : (*plan)->coverage.nodes) {
    if (node.op_type == "Conv") {
      EXPECT_TRUE(node.int8) << node.node;
    }
  }
  EXPECT_EQ((*plan)->coverage.boundaries.dequantize + (*plan)->coverage.boundaries.requantize, 0);
}

}  // namespace
}  // namespace quantd::engine
