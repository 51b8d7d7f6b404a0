// Differential tests of each runtime operator family (fp32) against the naive
// reference in runtime_reference.h, on seeded random data.
// Tolerance: |actual - expected| <= 1e-4 * (1 + |expected|).

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using ::testing::HasSubstr;
using testing::RandomTensor;

absl::StatusOr<std::vector<Tensor>> RunPlan(const Graph& graph, const Tensor& input) {
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(graph, input.shape, {});
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
  if (!context.ok()) return context.status();
  return (*context)->Run(input);
}

void ExpectMatchesReference(const Graph& graph, const std::vector<int64_t>& input_shape,
                            unsigned seed = 1, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  const Tensor input = RandomTensor(input_shape, rng, lo, hi);
  const Tensor expected = testing::reference::Run(graph, input);
  absl::StatusOr<std::vector<Tensor>> actual = RunPlan(graph, input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  ASSERT_EQ(actual->size(), 1u);
  const Tensor& y = (*actual)[0];
  ASSERT_EQ(y.shape, expected.shape) << "got [" << absl::StrJoin(y.shape, ",") << "]";
  double max_err = 0.0;
  for (size_t i = 0; i < y.data.size(); ++i) {
    const double err = std::fabs(y.data[i] - expected.data[i]);
    max_err = std::max(max_err, err);
    ASSERT_LE(err, 1e-4 * (1.0 + std::fabs(expected.data[i]))) << "element " << i;
  }
}

using Attrs = std::map<std::string, AttributeValue>;
using Ints = std::vector<int64_t>;

Graph ConvGraph(const Ints& x, const Ints& w, const Attrs& attrs, bool bias = true,
                std::vector<PostOp> post_ops = {}, unsigned seed = 7) {
  std::mt19937 rng(seed);
  GraphBuilder b(x);
  b.Const("w", w, rng);
  std::vector<std::string> inputs = {"x", "w"};
  if (bias) {
    b.Const("b", {w[0]}, rng);
    inputs.push_back("b");
  }
  return b.Op("Conv", "conv", inputs, "y", attrs, std::move(post_ops)).Output("y").Build();
}

TEST(RuntimeConvTest, Basic3x3WithBias) {
  ExpectMatchesReference(ConvGraph({2, 3, 8, 8}, {8, 3, 3, 3}, {{"pads", Ints{1, 1, 1, 1}}}),
                         {2, 3, 8, 8});
}

TEST(RuntimeConvTest, StrideAndAsymmetricPads) {
  ExpectMatchesReference(
      ConvGraph({1, 4, 9, 9}, {6, 4, 3, 3}, {{"strides", Ints{2, 2}}, {"pads", Ints{0, 1, 1, 0}}}),
      {1, 4, 9, 9});
}

TEST(RuntimeConvTest, Dilation) {
  ExpectMatchesReference(ConvGraph({1, 4, 10, 10}, {4, 4, 3, 3},
                                   {{"dilations", Ints{2, 2}}, {"pads", Ints{2, 2, 2, 2}}}),
                         {1, 4, 10, 10});
}

TEST(RuntimeConvTest, Groups) {
  ExpectMatchesReference(ConvGraph({1, 8, 7, 7}, {6, 4, 3, 3}, {{"group", int64_t{2}}}),
                         {1, 8, 7, 7});
}

TEST(RuntimeConvTest, DepthwiseStride2) {
  ExpectMatchesReference(
      ConvGraph({2, 8, 8, 8}, {8, 1, 3, 3},
                {{"group", int64_t{8}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}),
      {2, 8, 8, 8});
}

TEST(RuntimeConvTest, AutoPadSameUpperAndLower) {
  for (const std::string mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    SCOPED_TRACE(mode);
    ExpectMatchesReference(
        ConvGraph({1, 3, 8, 8}, {4, 3, 2, 2},
                  {{"auto_pad", mode}, {"strides", Ints{3, 3}}, {"kernel_shape", Ints{2, 2}}}),
        {1, 3, 8, 8});
  }
}

TEST(RuntimeConvTest, PointwiseWithoutBias) {
  ExpectMatchesReference(ConvGraph({3, 16, 5, 5}, {32, 16, 1, 1}, {}, /*bias=*/false),
                         {3, 16, 5, 5});
}

TEST(RuntimeConvTest, FusedReluAndClip) {
  ExpectMatchesReference(ConvGraph({1, 3, 6, 6}, {8, 3, 3, 3}, {}, true, {PostOp{}}), {1, 3, 6, 6});
  PostOp clip;
  clip.kind = PostOp::Kind::kClip;
  clip.alpha = 0.0f;
  clip.beta = 1.0f;
  ExpectMatchesReference(ConvGraph({1, 3, 6, 6}, {8, 3, 3, 3}, {}, true, {clip}), {1, 3, 6, 6}, 1,
                         -3.0f, 3.0f);
}

TEST(RuntimeConvTest, FusedResidualSumThenRelu) {
  std::mt19937 rng(3);
  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  sum.sum_input = "x";
  const Graph g =
      GraphBuilder({2, 8, 6, 6})
          .Const("w1", {8, 8, 3, 3}, rng, -0.3f, 0.3f)
          .Const("b1", {8}, rng)
          .Const("w2", {8, 8, 3, 3}, rng, -0.3f, 0.3f)
          .Op("Conv", "c1", {"x", "w1", "b1"}, "y1", {{"pads", Ints{1, 1, 1, 1}}}, {PostOp{}})
          .Op("Conv", "c2", {"y1", "w2"}, "y2", {{"pads", Ints{1, 1, 1, 1}}}, {sum, PostOp{}})
          .Output("y2")
          .Build();
  ExpectMatchesReference(g, {2, 8, 6, 6});
}

// ONNX's Add broadcasts: a residual of [N,C,1,1] fused into a Conv is
// expanded over the output's height and width.
TEST(RuntimeConvTest, FusedResidualSumBroadcastsASmallerResidual) {
  std::mt19937 rng(4);
  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  sum.sum_input = "p";
  const Graph g =
      GraphBuilder({2, 8, 6, 6})
          .Const("w", {8, 8, 3, 3}, rng, -0.3f, 0.3f)
          .Op("GlobalAveragePool", "gap", {"x"}, "p")
          .Op("Conv", "c", {"x", "w"}, "y", {{"pads", Ints{1, 1, 1, 1}}}, {sum, PostOp{}})
          .Output("y")
          .Build();
  ExpectMatchesReference(g, {2, 8, 6, 6});
}

// InstanceNormalization after a convolution (its channels-last output read
// back plain), against the definition computed here.
TEST(RuntimeInstanceNormTest, NormalizesEachChannelOfEachSample) {
  std::mt19937 rng(96);
  const GraphBuilder conv = GraphBuilder({2, 3, 4, 5})
                                .Const("w", {4, 3, 1, 1}, rng)
                                .Const("scale", {4}, rng)
                                .Const("bias", {4}, rng)
                                .Op("Conv", "conv", {"x", "w"}, "a");
  const Graph plain = GraphBuilder(conv).Output("a").Build();
  const Graph g =
      GraphBuilder(conv)
          .Op("InstanceNormalization", "norm", {"a", "scale", "bias"}, "y", {{"epsilon", 1e-3f}})
          .Output("y")
          .Build();
  const Tensor x = RandomTensor({2, 3, 4, 5}, rng, 0.0f, 2.0f);
  absl::StatusOr<std::vector<Tensor>> a = testing::RunFp32Plan(plain, x);
  absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
  ASSERT_TRUE(a.ok() && y.ok()) << a.status() << y.status();
  const std::vector<float>& scale = g.constants.at("scale").floats;
  const std::vector<float>& bias = g.constants.at("bias").floats;
  for (int64_t plane = 0; plane < 8; ++plane) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 20; ++i) mean += (*a)[0].data[plane * 20 + i] / 20.0;
    for (int64_t i = 0; i < 20; ++i) var += std::pow((*a)[0].data[plane * 20 + i] - mean, 2) / 20.0;
    for (int64_t i = 0; i < 20; ++i) {
      const double expected =
          ((*a)[0].data[plane * 20 + i] - mean) / std::sqrt(var + 1e-3) * scale[plane % 4] +
          bias[plane % 4];
      EXPECT_NEAR((*y)[0].data[plane * 20 + i], expected, 1e-4);
    }
  }
}

TEST(RuntimeGemmTest, TransBAlphaBetaBias) {
  std::mt19937 rng(5);
  const Graph g = GraphBuilder({4, 12})
                      .Const("B", {7, 12}, rng)
                      .Const("C", {7}, rng)
                      .Op("Gemm", "fc", {"x", "B", "C"}, "y",
                          {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}})
                      .Output("y")
                      .Build();
  ExpectMatchesReference(g, {4, 12});
}

// transA reads A [K, M] as its transpose: after a Relu (a runtime value) and
// straight from the graph input, with and without transB.
TEST(RuntimeGemmTest, TransA) {
  for (const int64_t trans_b : {0, 1}) {
    SCOPED_TRACE(trans_b);
    std::mt19937 rng(9);
    const Graph g =
        GraphBuilder({12, 5})
            .Const("B", trans_b ? std::vector<int64_t>{7, 12} : std::vector<int64_t>{12, 7}, rng)
            .Const("C", {7}, rng)
            .Op("Relu", "r", {"x"}, "a")
            .Op("Gemm", "fc", {"a", "B", "C"}, "y",
                {{"transA", int64_t{1}}, {"transB", trans_b}, {"alpha", 0.5f}})
            .Output("y")
            .Build();
    ExpectMatchesReference(g, {12, 5});
    const Graph direct = GraphBuilder({12, 5})
                             .Const("B", {12, 3}, rng)
                             .Op("Gemm", "fc", {"x", "B"}, "y", {{"transA", int64_t{1}}})
                             .Output("y")
                             .Build();
    ExpectMatchesReference(direct, {12, 5});
  }
}

TEST(RuntimeGemmTest, NoTransposeWithFusedRelu) {
  std::mt19937 rng(6);
  const Graph g = GraphBuilder({3, 10})
                      .Const("B", {10, 5}, rng)
                      .Const("C", {1, 5}, rng)
                      .Op("Gemm", "fc", {"x", "B", "C"}, "y", {}, {PostOp{}})
                      .Output("y")
                      .Build();
  ExpectMatchesReference(g, {3, 10});
}

TEST(RuntimeGemmTest, FlattenThenGemmReadsBlockedActivation) {
  std::mt19937 rng(8);
  const Graph g = GraphBuilder({2, 3, 6, 6})
                      .Const("w", {16, 3, 3, 3}, rng)
                      .Const("B", {10, 16 * 4 * 4}, rng)
                      .Const("C", {10}, rng)
                      .Op("Conv", "conv", {"x", "w"}, "a", {}, {PostOp{}})
                      .Op("Flatten", "flat", {"a"}, "f", {{"axis", int64_t{1}}})
                      .Op("Gemm", "fc", {"f", "B", "C"}, "y", {{"transB", int64_t{1}}})
                      .Output("y")
                      .Build();
  ExpectMatchesReference(g, {2, 3, 6, 6});
}

TEST(RuntimeGemmTest, MatMulWithConstantB) {
  std::mt19937 rng(9);
  const Graph g = GraphBuilder({5, 8})
                      .Const("B", {8, 3}, rng)
                      .Op("MatMul", "mm", {"x", "B"}, "y")
                      .Output("y")
                      .Build();
  ExpectMatchesReference(g, {5, 8});
}

Graph PoolGraph(const std::string& op, const Attrs& attrs) {
  return GraphBuilder({2, 3, 9, 9}).Op(op, "pool", {"x"}, "y", attrs).Output("y").Build();
}

TEST(RuntimePoolTest, MaxPoolPadsAndCeilMode) {
  ExpectMatchesReference(PoolGraph("MaxPool", {{"kernel_shape", Ints{3, 3}},
                                               {"strides", Ints{2, 2}},
                                               {"pads", Ints{1, 1, 1, 1}}}),
                         {2, 3, 9, 9});
  ExpectMatchesReference(
      PoolGraph("MaxPool",
                {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}),
      {2, 3, 9, 9});
}

TEST(RuntimePoolTest, AveragePoolPaddingModes) {
  for (int64_t include : {0, 1}) {
    SCOPED_TRACE(include);
    ExpectMatchesReference(PoolGraph("AveragePool", {{"kernel_shape", Ints{3, 3}},
                                                     {"strides", Ints{2, 2}},
                                                     {"pads", Ints{1, 1, 1, 1}},
                                                     {"count_include_pad", include}}),
                           {2, 3, 9, 9});
  }
  ExpectMatchesReference(
      PoolGraph("AveragePool",
                {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"ceil_mode", int64_t{1}}}),
      {2, 3, 9, 9});
}

TEST(RuntimePoolTest, GlobalAveragePool) {
  ExpectMatchesReference(PoolGraph("GlobalAveragePool", {}), {2, 3, 9, 9});
}

TEST(RuntimeEltwiseTest, ReluAndClip) {
  ExpectMatchesReference(GraphBuilder({2, 3, 4, 4}).Op("Relu", "r", {"x"}, "y").Output("y").Build(),
                         {2, 3, 4, 4});
  ExpectMatchesReference(GraphBuilder({2, 3, 4, 4})
                             .Floats("lo", {}, {-0.25f})
                             .Floats("hi", {}, {0.5f})
                             .Op("Clip", "c", {"x", "lo", "hi"}, "y")
                             .Output("y")
                             .Build(),
                         {2, 3, 4, 4});
}

TEST(RuntimeBinaryTest, AddActivationsAndBroadcastConstants) {
  std::mt19937 rng(10);
  const Graph two_values = GraphBuilder({2, 4, 5, 5})
                               .Const("w", {4, 4, 1, 1}, rng)
                               .Op("Conv", "conv", {"x", "w"}, "a")
                               .Op("Add", "add", {"a", "x"}, "y")
                               .Output("y")
                               .Build();
  ExpectMatchesReference(two_values, {2, 4, 5, 5});
  const Graph per_channel = GraphBuilder({2, 4, 5, 5})
                                .Const("c", {1, 4, 1, 1}, rng)
                                .Op("Add", "add", {"x", "c"}, "y")
                                .Output("y")
                                .Build();
  ExpectMatchesReference(per_channel, {2, 4, 5, 5});
  const Graph scalar = GraphBuilder({2, 4, 5, 5})
                           .Floats("s", {}, {0.75f})
                           .Op("Add", "add", {"x", "s"}, "y")
                           .Output("y")
                           .Build();
  ExpectMatchesReference(scalar, {2, 4, 5, 5});
}

TEST(RuntimeBatchNormTest, StandaloneInference) {
  std::mt19937 rng(11);
  const Graph g = GraphBuilder({2, 4, 5, 5})
                      .Const("s", {4}, rng)
                      .Const("b", {4}, rng)
                      .Const("m", {4}, rng)
                      .Const("v", {4}, rng, 0.5f, 1.5f)
                      .Op("BatchNormalization", "bn", {"x", "s", "b", "m", "v"}, "y")
                      .Output("y")
                      .Build();
  ExpectMatchesReference(g, {2, 4, 5, 5});
}

TEST(RuntimeReshapeTest, ReshapeAndFlattenViews) {
  std::mt19937 rng(12);
  const Graph to_2d = GraphBuilder({2, 3, 4, 4})
                          .Const("w", {6, 3, 3, 3}, rng)
                          .Ints("shape", {0, -1})
                          .Op("Conv", "conv", {"x", "w"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
                          .Op("Reshape", "reshape", {"a", "shape"}, "r")
                          .Op("Relu", "relu", {"r"}, "y")
                          .Output("y")
                          .Build();
  ExpectMatchesReference(to_2d, {2, 3, 4, 4});
  const Graph to_4d = GraphBuilder({2, 48})
                          .Const("w", {5, 3, 3, 3}, rng)
                          .Ints("shape", {2, 3, 4, 4})
                          .Op("Reshape", "reshape", {"x", "shape"}, "r")
                          .Op("Conv", "conv", {"r", "w"}, "y")
                          .Output("y")
                          .Build();
  ExpectMatchesReference(to_4d, {2, 48});
  const Graph flatten_output = GraphBuilder({2, 3, 4, 4})
                                   .Const("w", {6, 3, 3, 3}, rng)
                                   .Op("Conv", "conv", {"x", "w"}, "a")
                                   .Op("Flatten", "flat", {"a"}, "y")
                                   .Output("y")
                                   .Build();
  ExpectMatchesReference(flatten_output, {2, 3, 4, 4});
}

TEST(RuntimeCompileTest, UnknownOpIsUnimplementedAndNamed) {
  const Graph g = GraphBuilder({1, 3, 4, 4}).Op("Einsum", "up1", {"x"}, "y").Output("y").Build();
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {1, 3, 4, 4}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(plan.status().message(), HasSubstr("'Einsum'"));
  EXPECT_THAT(plan.status().message(), HasSubstr("'up1'"));
}

TEST(RuntimeCompileTest, ChannelMismatchNamesNode) {
  const Graph g = ConvGraph({1, 3, 8, 8}, {8, 4, 3, 3}, {});
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {1, 3, 8, 8}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("node 'conv' (Conv)"));
}

TEST(RuntimeCompileTest, MemoryPlanSharesStorageAndSumsInPlace) {
  const Graph g = testing::TinyResNet(21);
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {2, 3, 16, 16}, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  size_t activations = 0, activation_bytes = 0, storage_bytes = 0;
  for (size_t b = 0; b < (*plan)->buffers.size(); ++b) {
    if ((*plan)->storage_of_buffer[b] >= 0) {
      ++activations;
      activation_bytes += (*plan)->buffers[b].desc.get_size();
    }
  }
  for (size_t size : (*plan)->storage_sizes) storage_bytes += size;
  EXPECT_LT((*plan)->storage_sizes.size(), activations);
  EXPECT_LT(storage_bytes, activation_bytes);
  // c3 accumulates into a1's buffer: no copy step for the residual.
  int c3_steps = 0;
  for (const PlanStep& step : (*plan)->steps) c3_steps += step.node == "c3";
  EXPECT_EQ(c3_steps, 1);
}

}  // namespace
}  // namespace quantd::engine
