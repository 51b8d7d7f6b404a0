// Tests for the graph rewrite passes. Graphs are built directly in the IR so
// each test shows exactly the pattern a pass should (or should not) rewrite.

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/graph/graph.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/fold_batch_norm_into_conv.h"
#include "engine/passes/fuse_activations.h"
#include "engine/passes/fuse_residual_add.h"
#include "engine/passes/remove_identity_nodes.h"
#include "engine/passes/remove_unused_constants.h"
#include "engine/passes/standard_passes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Node MakeNode(const std::string& op, const std::string& name, std::vector<std::string> inputs,
              std::vector<std::string> outputs) {
  Node node;
  node.op_type = op;
  node.name = name;
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  return node;
}

Constant FloatConstant(std::vector<int64_t> dims, std::vector<float> values) {
  Constant c;
  c.type = Constant::Type::kFloat32;
  c.dims = std::move(dims);
  c.floats = std::move(values);
  return c;
}

std::vector<float> RandomFloats(size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

Graph MakeGraph(const std::string& input, const std::vector<std::string>& outputs) {
  Graph graph;
  graph.opset_version = 13;
  graph.inputs.push_back(ValueInfo{.name = input, .shape = {1, 2, 5, 5}});
  for (const std::string& out : outputs) {
    graph.outputs.push_back(ValueInfo{.name = out, .shape = {}});
  }
  return graph;
}

std::vector<std::string> OpTypes(const Graph& graph) {
  std::vector<std::string> ops;
  for (const Node& node : graph.nodes) ops.push_back(node.op_type);
  return ops;
}

// Every value a node reads (inputs and sum inputs) must be a graph input, a
// constant or the output of an earlier node.
void ExpectTopologicallySorted(const Graph& graph) {
  std::set<std::string> defined;
  for (const ValueInfo& in : graph.inputs) defined.insert(in.name);
  for (const auto& [name, constant] : graph.constants) defined.insert(name);
  for (const Node& node : graph.nodes) {
    for (const std::string& in : node.inputs) {
      if (in.empty()) continue;
      EXPECT_TRUE(defined.count(in)) << node.name << " reads " << in;
    }
    for (const PostOp& op : node.post_ops) {
      if (op.kind == PostOp::Kind::kSum) {
        EXPECT_TRUE(defined.count(op.sum_input)) << node.name << " sums " << op.sum_input;
      }
    }
    defined.insert(node.outputs.begin(), node.outputs.end());
  }
  for (const ValueInfo& out : graph.outputs) {
    EXPECT_TRUE(defined.count(out.name)) << "graph output " << out.name;
  }
}

// --- Reference arithmetic for the BatchNorm folding test -------------------

// Plain NCHW convolution, batch 1, stride 1, symmetric `pad`, double
// accumulation; slow and obviously right.
std::vector<float> ReferenceConv(const std::vector<float>& x, int64_t c_in, int64_t h, int64_t w,
                                 const std::vector<float>& weight, int64_t c_out, int64_t k,
                                 const std::vector<float>* bias, int64_t pad) {
  const int64_t oh = h + 2 * pad - k + 1;
  const int64_t ow = w + 2 * pad - k + 1;
  std::vector<float> y(c_out * oh * ow);
  for (int64_t m = 0; m < c_out; ++m) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        double acc = bias != nullptr ? (*bias)[m] : 0.0;
        for (int64_t c = 0; c < c_in; ++c) {
          for (int64_t ki = 0; ki < k; ++ki) {
            for (int64_t kj = 0; kj < k; ++kj) {
              const int64_t yi = i + ki - pad;
              const int64_t xj = j + kj - pad;
              if (yi < 0 || yi >= h || xj < 0 || xj >= w) continue;
              acc += static_cast<double>(x[(c * h + yi) * w + xj]) *
                     weight[((m * c_in + c) * k + ki) * k + kj];
            }
          }
        }
        y[(m * oh + i) * ow + j] = static_cast<float>(acc);
      }
    }
  }
  return y;
}

void ReferenceBatchNorm(std::vector<float>& y, int64_t channels, const std::vector<float>& gamma,
                        const std::vector<float>& beta, const std::vector<float>& mean,
                        const std::vector<float>& var, float epsilon) {
  const size_t per_channel = y.size() / channels;
  for (int64_t m = 0; m < channels; ++m) {
    for (size_t i = 0; i < per_channel; ++i) {
      float& v = y[m * per_channel + i];
      v = static_cast<float>(
          gamma[m] * (v - mean[m]) / std::sqrt(static_cast<double>(var[m]) + epsilon) + beta[m]);
    }
  }
}

class FoldBatchNormTest : public ::testing::TestWithParam<bool> {};

TEST_P(FoldBatchNormTest, MatchesConvFollowedByBatchNorm) {
  const bool with_bias = GetParam();
  constexpr int64_t kCin = 2, kCout = 3, kH = 5, kW = 5, kK = 3, kPad = 1;
  constexpr float kEpsilon = 1e-3f;
  std::mt19937 rng(42);
  const std::vector<float> x = RandomFloats(kCin * kH * kW, -1, 1, rng);
  const std::vector<float> weight = RandomFloats(kCout * kCin * kK * kK, -1, 1, rng);
  const std::vector<float> bias = RandomFloats(kCout, -0.5f, 0.5f, rng);
  const std::vector<float> gamma = RandomFloats(kCout, 0.5f, 2, rng);
  const std::vector<float> beta = RandomFloats(kCout, -1, 1, rng);
  const std::vector<float> mean = RandomFloats(kCout, -0.5f, 0.5f, rng);
  const std::vector<float> var = RandomFloats(kCout, 0.1f, 2, rng);

  Graph graph = MakeGraph("x", {"y"});
  graph.constants["w"] = FloatConstant({kCout, kCin, kK, kK}, weight);
  graph.constants["gamma"] = FloatConstant({kCout}, gamma);
  graph.constants["beta"] = FloatConstant({kCout}, beta);
  graph.constants["mean"] = FloatConstant({kCout}, mean);
  graph.constants["var"] = FloatConstant({kCout}, var);
  std::vector<std::string> conv_inputs = {"x", "w"};
  if (with_bias) {
    graph.constants["b"] = FloatConstant({kCout}, bias);
    conv_inputs.push_back("b");
  }
  graph.nodes.push_back(MakeNode("Conv", "conv", conv_inputs, {"c"}));
  Node bn = MakeNode("BatchNormalization", "bn", {"c", "gamma", "beta", "mean", "var"}, {"y"});
  bn.attributes["epsilon"] = kEpsilon;
  graph.nodes.push_back(bn);

  std::vector<float> expected =
      ReferenceConv(x, kCin, kH, kW, weight, kCout, kK, with_bias ? &bias : nullptr, kPad);
  ReferenceBatchNorm(expected, kCout, gamma, beta, mean, var, kEpsilon);

  ASSERT_TRUE(FoldBatchNormIntoConv(graph).ok());
  ASSERT_TRUE(RemoveUnusedConstants(graph).ok());
  ASSERT_EQ(graph.nodes.size(), 1u);
  const Node& conv = graph.nodes[0];
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_THAT(conv.outputs, ElementsAre("y"));
  ASSERT_EQ(conv.inputs.size(), 3u);
  EXPECT_EQ(graph.constants.size(), 2u);  // folded weight and bias only

  const std::vector<float>& folded_bias = graph.constants.at(conv.inputs[2]).floats;
  const std::vector<float> actual = ReferenceConv(
      x, kCin, kH, kW, graph.constants.at(conv.inputs[1]).floats, kCout, kK, &folded_bias, kPad);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutBias, FoldBatchNormTest, ::testing::Bool());

TEST(FoldBatchNormIntoConvTest, CopiesWeightSharedWithAnotherConv) {
  Graph graph = MakeGraph("x", {"y", "z"});
  graph.constants["w"] = FloatConstant({1, 1, 1, 1}, {2.0f});
  for (const char* name : {"gamma", "var"}) {
    graph.constants[name] = FloatConstant({1}, {1.0f});
  }
  for (const char* name : {"beta", "mean"}) {
    graph.constants[name] = FloatConstant({1}, {0.0f});
  }
  graph.constants["gamma"].floats = {3.0f};
  graph.nodes.push_back(MakeNode("Conv", "conv_a", {"x", "w"}, {"a"}));
  graph.nodes.push_back(MakeNode("Conv", "conv_b", {"x", "w"}, {"z"}));
  Node bn = MakeNode("BatchNormalization", "bn", {"a", "gamma", "beta", "mean", "var"}, {"y"});
  bn.attributes["epsilon"] = 0.0f;
  graph.nodes.push_back(bn);

  ASSERT_TRUE(FoldBatchNormIntoConv(graph).ok());
  ASSERT_EQ(graph.nodes.size(), 2u);
  EXPECT_NE(graph.nodes[0].inputs[1], "w");
  EXPECT_THAT(graph.constants.at(graph.nodes[0].inputs[1]).floats, ElementsAre(6.0f));
  EXPECT_EQ(graph.nodes[1].inputs[1], "w");
  EXPECT_THAT(graph.constants.at("w").floats, ElementsAre(2.0f));
}

TEST(FoldBatchNormIntoConvTest, LeavesBatchNormNotAfterConv) {
  Graph graph = MakeGraph("x", {"y"});
  for (const char* name : {"gamma", "beta", "mean", "var"}) {
    graph.constants[name] = FloatConstant({2}, {1.0f, 1.0f});
  }
  graph.nodes.push_back(MakeNode("Relu", "relu", {"x"}, {"r"}));
  graph.nodes.push_back(
      MakeNode("BatchNormalization", "bn", {"r", "gamma", "beta", "mean", "var"}, {"y"}));
  ASSERT_TRUE(FoldBatchNormIntoConv(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "BatchNormalization"));
}

TEST(FoldBatchNormIntoConvTest, RejectsParameterSizeMismatchNamingNodes) {
  Graph graph = MakeGraph("x", {"y"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 1, 1, 1});
  for (const char* name : {"gamma", "beta", "mean", "var"}) {
    graph.constants[name] = FloatConstant({3}, {1, 1, 1});
  }
  graph.nodes.push_back(MakeNode("Conv", "conv7", {"x", "w"}, {"c"}));
  graph.nodes.push_back(
      MakeNode("BatchNormalization", "bn7", {"c", "gamma", "beta", "mean", "var"}, {"y"}));
  const absl::Status status = FoldBatchNormIntoConv(graph);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("'bn7'"));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("'conv7'"));
}

// --- RemoveIdentityNodes ----------------------------------------------------

TEST(RemoveIdentityNodesTest, RewiresConsumersAndKeepsOutputNames) {
  Graph graph = MakeGraph("x", {"y"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
  graph.nodes.push_back(MakeNode("Identity", "id", {"c"}, {"i"}));
  graph.nodes.push_back(MakeNode("Dropout", "drop", {"i"}, {"d", ""}));
  graph.nodes.push_back(MakeNode("Relu", "relu", {"d"}, {"r"}));
  graph.nodes.push_back(MakeNode("Identity", "out_id", {"r"}, {"y"}));
  ASSERT_TRUE(RemoveIdentityNodes(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Conv", "Relu"));
  EXPECT_THAT(graph.nodes[1].inputs, ElementsAre("c"));
  // The graph output keeps its name: the Relu now produces it.
  EXPECT_THAT(graph.nodes[1].outputs, ElementsAre("y"));
  ExpectTopologicallySorted(graph);
}

TEST(RemoveIdentityNodesTest, KeepsDropoutWhoseMaskIsUsedAndInputToOutputIdentity) {
  Graph graph = MakeGraph("x", {"y", "mask", "x_copy"});
  graph.nodes.push_back(MakeNode("Dropout", "drop", {"x"}, {"y", "mask"}));
  graph.nodes.push_back(MakeNode("Identity", "copy", {"x"}, {"x_copy"}));
  ASSERT_TRUE(RemoveIdentityNodes(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Dropout", "Identity"));
}

// --- FuseResidualAdd and FuseActivations ------------------------------------

// x -> conv0 -> relu0 = h;  h -> conv1 -> bn1 -> relu1 -> conv2 -> bn2;
// add(bn2_out, h) -> relu2 = y: one ResNet basic block.
Graph MakeResidualBlock() {
  Graph graph = MakeGraph("x", {"y"});
  for (const char* w : {"w0", "w1", "w2"}) {
    graph.constants[w] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  }
  for (const char* p : {"g", "b", "m", "v"}) {
    graph.constants[p] = FloatConstant({2}, {1.0f, 1.0f});
  }
  graph.nodes.push_back(MakeNode("Conv", "conv0", {"x", "w0"}, {"c0"}));
  graph.nodes.push_back(MakeNode("Relu", "relu0", {"c0"}, {"h"}));
  graph.nodes.push_back(MakeNode("Conv", "conv1", {"h", "w1"}, {"c1"}));
  graph.nodes.push_back(MakeNode("BatchNormalization", "bn1", {"c1", "g", "b", "m", "v"}, {"n1"}));
  graph.nodes.push_back(MakeNode("Relu", "relu1", {"n1"}, {"r1"}));
  graph.nodes.push_back(MakeNode("Conv", "conv2", {"r1", "w2"}, {"c2"}));
  graph.nodes.push_back(MakeNode("BatchNormalization", "bn2", {"c2", "g", "b", "m", "v"}, {"n2"}));
  graph.nodes.push_back(MakeNode("Add", "add", {"n2", "h"}, {"s"}));
  graph.nodes.push_back(MakeNode("Relu", "relu2", {"s"}, {"y"}));
  return graph;
}

TEST(StandardPassesTest, ResidualBlockBecomesThreeConvsWithSumThenRelu) {
  Graph graph = MakeResidualBlock();
  ASSERT_TRUE(RunStandardPasses(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Conv", "Conv", "Conv"));
  ExpectTopologicallySorted(graph);

  const Node& conv0 = graph.nodes[0];
  EXPECT_THAT(conv0.outputs, ElementsAre("h"));
  ASSERT_EQ(conv0.post_ops.size(), 1u);
  EXPECT_EQ(conv0.post_ops[0].kind, PostOp::Kind::kRelu);

  const Node& conv2 = graph.nodes[2];
  EXPECT_EQ(conv2.name, "conv2");
  EXPECT_THAT(conv2.outputs, ElementsAre("y"));
  ASSERT_EQ(conv2.post_ops.size(), 2u);
  EXPECT_EQ(conv2.post_ops[0].kind, PostOp::Kind::kSum);
  EXPECT_EQ(conv2.post_ops[0].sum_input, "h");
  EXPECT_EQ(conv2.post_ops[1].kind, PostOp::Kind::kRelu);
  // BN parameters were folded away; only weights and biases remain.
  for (const char* p : {"g", "b", "m", "v"}) {
    EXPECT_EQ(graph.constants.count(p), 0u) << p;
  }
}

// The quantization knob fold_batchnorm=false keeps BatchNormalization nodes.
TEST(StandardPassesTest, OptionsCanKeepBatchNorm) {
  Graph graph = MakeResidualBlock();
  PassOptions options;
  options.fold_batch_norm = false;
  ASSERT_TRUE(RunStandardPasses(graph, options).ok());
  // The Add's addends are not convolutions any more, so it stays; every Relu
  // fuses into its producer (a BatchNormalization or the Add).
  EXPECT_THAT(OpTypes(graph), ElementsAre("Conv", "Conv", "BatchNormalization", "Conv",
                                          "BatchNormalization", "Add"));
  for (const Node& node : graph.nodes) {
    if (node.op_type == "Add" || node.name == graph.nodes[2].name) {
      ASSERT_EQ(node.post_ops.size(), 1u) << node.name;
      EXPECT_EQ(node.post_ops[0].kind, PostOp::Kind::kRelu) << node.name;
    }
  }
  ExpectTopologicallySorted(graph);
}

// Without fusion every value of the imported graph is still produced, and
// the fused graph's values are a subset of them: calibration observed on the
// unfused graph covers both.
TEST(StandardPassesTest, UnfusedGraphKeepsEveryValueOfTheFusedOne) {
  Graph fused = MakeResidualBlock();
  Graph unfused = MakeResidualBlock();
  PassOptions no_fusion;
  no_fusion.fuse_operators = false;
  ASSERT_TRUE(RunStandardPasses(fused).ok());
  ASSERT_TRUE(RunStandardPasses(unfused, no_fusion).ok());
  EXPECT_THAT(OpTypes(unfused), ElementsAre("Conv", "Relu", "Conv", "Relu", "Conv", "Add", "Relu"));
  std::set<std::string> unfused_values;
  for (const Node& node : unfused.nodes) {
    unfused_values.insert(node.outputs.begin(), node.outputs.end());
  }
  // conv2 with bn2 folded in writes bn2's output: the value the residual Add
  // reads, which the fused graph never materializes.
  EXPECT_TRUE(unfused_values.count("n2")) << "the pre-residual conv output is observable";
  for (const Node& node : fused.nodes) {
    for (const std::string& output : node.outputs) {
      EXPECT_TRUE(unfused_values.count(output)) << output;
    }
  }
}

TEST(FuseResidualAddTest, FusesTheLaterConvWhenBothAddendsAreConvs) {
  Graph graph = MakeGraph("x", {"s"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.nodes.push_back(MakeNode("Conv", "conv_a", {"x", "w"}, {"a"}));
  graph.nodes.push_back(MakeNode("Conv", "conv_b", {"x", "w"}, {"b"}));
  graph.nodes.push_back(MakeNode("Add", "add", {"b", "a"}, {"s"}));
  ASSERT_TRUE(FuseResidualAdd(graph).ok());
  ASSERT_EQ(graph.nodes.size(), 2u);
  EXPECT_EQ(graph.nodes[1].name, "conv_b");
  EXPECT_THAT(graph.nodes[1].outputs, ElementsAre("s"));
  ASSERT_EQ(graph.nodes[1].post_ops.size(), 1u);
  EXPECT_EQ(graph.nodes[1].post_ops[0].sum_input, "a");
  ExpectTopologicallySorted(graph);
}

TEST(FuseResidualAddTest, MovesConvAfterAnAddendComputedLater) {
  Graph graph = MakeGraph("x", {"s"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
  graph.nodes.push_back(MakeNode("MaxPool", "pool", {"x"}, {"p"}));
  graph.nodes.push_back(MakeNode("Add", "add", {"c", "p"}, {"s"}));
  ASSERT_TRUE(FuseResidualAdd(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("MaxPool", "Conv"));
  EXPECT_EQ(graph.nodes[1].post_ops[0].sum_input, "p");
  ExpectTopologicallySorted(graph);
}

TEST(FuseResidualAddTest, LeavesAddOfConstantOrSharedOrActivatedConv) {
  Graph graph = MakeGraph("x", {"s1", "s2", "s3", "c2"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.constants["bias"] = FloatConstant({2, 1, 1}, {1, 2});
  graph.nodes.push_back(MakeNode("Conv", "conv1", {"x", "w"}, {"c1"}));
  graph.nodes.push_back(MakeNode("Add", "add_const", {"c1", "bias"}, {"s1"}));
  graph.nodes.push_back(MakeNode("Conv", "conv2", {"x", "w"}, {"c2"}));
  graph.nodes.push_back(MakeNode("Add", "add_shared", {"c2", "x"}, {"s2"}));
  Node conv3 = MakeNode("Conv", "conv3", {"x", "w"}, {"c3"});
  conv3.post_ops.push_back(
      PostOp{.kind = PostOp::Kind::kRelu, .alpha = 0, .beta = 0, .sum_input = ""});
  graph.nodes.push_back(conv3);
  graph.nodes.push_back(MakeNode("Add", "add_activated", {"c3", "x"}, {"s3"}));
  ASSERT_TRUE(FuseResidualAdd(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Conv", "Add", "Conv", "Add", "Conv", "Add"));
}

TEST(FuseActivationsTest, FusesClipWithConstantBoundsOpset13) {
  Graph graph = MakeGraph("x", {"y", "z"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.constants["lo"] = FloatConstant({}, {0.0f});
  graph.constants["hi"] = FloatConstant({}, {6.0f});
  graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
  graph.nodes.push_back(MakeNode("Clip", "relu6", {"c", "lo", "hi"}, {"y"}));
  graph.nodes.push_back(MakeNode("Gemm", "fc", {"y", "w"}, {"g"}));
  graph.nodes.push_back(MakeNode("Clip", "floor_only", {"g", "lo"}, {"z"}));
  ASSERT_TRUE(FuseActivations(graph).ok());
  ASSERT_TRUE(RemoveUnusedConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Conv", "Gemm"));
  const Node& conv = graph.nodes[0];
  EXPECT_THAT(conv.outputs, ElementsAre("y"));
  ASSERT_EQ(conv.post_ops.size(), 1u);
  EXPECT_EQ(conv.post_ops[0].kind, PostOp::Kind::kClip);
  EXPECT_EQ(conv.post_ops[0].alpha, 0.0f);
  EXPECT_EQ(conv.post_ops[0].beta, 6.0f);
  const Node& fc = graph.nodes[1];
  EXPECT_THAT(fc.outputs, ElementsAre("z"));
  ASSERT_EQ(fc.post_ops.size(), 1u);
  EXPECT_EQ(fc.post_ops[0].alpha, 0.0f);
  EXPECT_EQ(fc.post_ops[0].beta, std::numeric_limits<float>::max());
  EXPECT_EQ(graph.constants.count("lo"), 0u);
  EXPECT_EQ(graph.constants.count("hi"), 0u);
}

TEST(FuseActivationsTest, FusesClipAttributesBeforeOpset11) {
  Graph graph = MakeGraph("x", {"y"});
  graph.opset_version = 9;
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
  Node clip = MakeNode("Clip", "clip", {"c"}, {"y"});
  clip.attributes["min"] = -1.0f;
  clip.attributes["max"] = 1.0f;
  graph.nodes.push_back(clip);
  ASSERT_TRUE(FuseActivations(graph).ok());
  ASSERT_EQ(graph.nodes.size(), 1u);
  ASSERT_EQ(graph.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(graph.nodes[0].post_ops[0].kind, PostOp::Kind::kClip);
  EXPECT_EQ(graph.nodes[0].post_ops[0].alpha, -1.0f);
  EXPECT_EQ(graph.nodes[0].post_ops[0].beta, 1.0f);
}

TEST(FuseActivationsTest, LeavesActivationWhenProducerOutputIsSharedOrPublic) {
  Graph graph = MakeGraph("x", {"c1", "r1", "r2", "p", "y"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.nodes.push_back(MakeNode("Conv", "public", {"x", "w"}, {"c1"}));
  graph.nodes.push_back(MakeNode("Relu", "relu1", {"c1"}, {"r1"}));
  graph.nodes.push_back(MakeNode("Conv", "shared", {"x", "w"}, {"c2"}));
  graph.nodes.push_back(MakeNode("Relu", "relu2", {"c2"}, {"r2"}));
  graph.nodes.push_back(MakeNode("MaxPool", "pool", {"c2"}, {"p"}));
  // Clip whose bound is computed at run time cannot become a post-op.
  graph.nodes.push_back(MakeNode("Conv", "dyn", {"x", "w"}, {"c3"}));
  graph.nodes.push_back(MakeNode("Clip", "clip", {"c3", "x"}, {"y"}));
  ASSERT_TRUE(FuseActivations(graph).ok());
  EXPECT_THAT(OpTypes(graph),
              ElementsAre("Conv", "Relu", "Conv", "Relu", "MaxPool", "Conv", "Clip"));
}

TEST(FuseActivationsTest, FusesParameterizedActivationsWithOnnxDefaults) {
  Graph graph = MakeGraph("x", {"a", "b", "c"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.nodes.push_back(MakeNode("Conv", "conv1", {"x", "w"}, {"c1"}));
  graph.nodes.push_back(MakeNode("LeakyRelu", "leaky", {"c1"}, {"a"}));
  graph.nodes.push_back(MakeNode("Conv", "conv2", {"x", "w"}, {"c2"}));
  Node hard_sigmoid = MakeNode("HardSigmoid", "hs", {"c2"}, {"b"});
  hard_sigmoid.attributes["alpha"] = 0.25f;
  graph.nodes.push_back(hard_sigmoid);
  graph.nodes.push_back(MakeNode("MatMul", "mm", {"x", "w"}, {"c3"}));
  graph.nodes.push_back(MakeNode("Tanh", "tanh", {"c3"}, {"c"}));
  ASSERT_TRUE(FuseActivations(graph).ok());
  ASSERT_THAT(OpTypes(graph), ElementsAre("Conv", "Conv", "MatMul"));
  EXPECT_EQ(graph.nodes[0].post_ops[0].kind, PostOp::Kind::kLeakyRelu);
  EXPECT_EQ(graph.nodes[0].post_ops[0].alpha, 0.01f);
  EXPECT_EQ(graph.nodes[1].post_ops[0].kind, PostOp::Kind::kHardSigmoid);
  EXPECT_EQ(graph.nodes[1].post_ops[0].alpha, 0.25f);
  EXPECT_EQ(graph.nodes[1].post_ops[0].beta, 0.5f);
  EXPECT_EQ(graph.nodes[2].post_ops[0].kind, PostOp::Kind::kTanh);
}

// x * Clip(x + 3, 0, 6) / 6 is HardSwish only if every piece matches and no
// intermediate value is read elsewhere.
TEST(FuseActivationsTest, CollapsesWrittenOutHardSwishOnlyWhenExact) {
  auto build = [](float clip_max, bool share_intermediate) {
    Graph graph = MakeGraph("x", share_intermediate ? std::vector<std::string>{"y", "t2"}
                                                    : std::vector<std::string>{"y"});
    graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
    graph.constants["three"] = FloatConstant({}, {3.0f});
    graph.constants["zero"] = FloatConstant({}, {0.0f});
    graph.constants["max"] = FloatConstant({}, {clip_max});
    graph.constants["six"] = FloatConstant({1}, {6.0f});
    graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
    graph.nodes.push_back(MakeNode("Add", "add", {"c", "three"}, {"t1"}));
    graph.nodes.push_back(MakeNode("Clip", "clip", {"t1", "zero", "max"}, {"t2"}));
    graph.nodes.push_back(MakeNode("Mul", "mul", {"t2", "c"}, {"t3"}));
    graph.nodes.push_back(MakeNode("Div", "div", {"t3", "six"}, {"y"}));
    return graph;
  };
  Graph exact = build(6.0f, false);
  ASSERT_TRUE(FuseActivations(exact).ok());
  ASSERT_THAT(OpTypes(exact), ElementsAre("Conv"));
  ASSERT_EQ(exact.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(exact.nodes[0].post_ops[0].kind, PostOp::Kind::kHardSwish);
  EXPECT_THAT(exact.nodes[0].outputs, ElementsAre("y"));

  // Not HardSwish: the Clip only fuses into the Add before it.
  Graph other_bound = build(5.0f, false);
  ASSERT_TRUE(FuseActivations(other_bound).ok());
  EXPECT_THAT(OpTypes(other_bound), ElementsAre("Conv", "Add", "Mul", "Div"));
  EXPECT_EQ(other_bound.nodes[1].post_ops.at(0).kind, PostOp::Kind::kClip);

  // t2 is read elsewhere (a graph output): not HardSwish either.
  Graph shared = build(6.0f, true);
  ASSERT_TRUE(FuseActivations(shared).ok());
  EXPECT_THAT(OpTypes(shared), ElementsAre("Conv", "Add", "Mul", "Div"));
  EXPECT_THAT(shared.nodes[1].outputs, ElementsAre("t2"));
}

// torch 1.13 exports F.relu6(x + 3) as Clip(Relu(x + 3), 0, 6): still
// HardSwish.
TEST(FuseActivationsTest, CollapsesHardSwishWithReluBeforeTheClip) {
  Graph graph = MakeGraph("x", {"y"});
  graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.constants["three"] = FloatConstant({}, {3.0f});
  graph.constants["zero"] = FloatConstant({}, {0.0f});
  graph.constants["six"] = FloatConstant({}, {6.0f});
  graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
  graph.nodes.push_back(MakeNode("Add", "add", {"c", "three"}, {"t1"}));
  graph.nodes.push_back(MakeNode("Relu", "relu", {"t1"}, {"t1r"}));
  graph.nodes.push_back(MakeNode("Clip", "clip", {"t1r", "zero", "six"}, {"t2"}));
  graph.nodes.push_back(MakeNode("Mul", "mul", {"c", "t2"}, {"t3"}));
  graph.nodes.push_back(MakeNode("Div", "div", {"t3", "six"}, {"y"}));
  ASSERT_TRUE(FuseActivations(graph).ok());
  ASSERT_THAT(OpTypes(graph), ElementsAre("Conv"));
  ASSERT_EQ(graph.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(graph.nodes[0].post_ops[0].kind, PostOp::Kind::kHardSwish);
  EXPECT_THAT(graph.nodes[0].outputs, ElementsAre("y"));
}

// SiLU as exporters write it, x * Sigmoid(x), fuses into x's producer when
// nothing else reads x or the gate.
TEST(FuseActivationsTest, FusesWrittenOutSwishIntoItsProducer) {
  auto build = [](bool gate_is_output) {
    Graph graph = MakeGraph("x", gate_is_output ? std::vector<std::string>{"y", "g"}
                                                : std::vector<std::string>{"y"});
    graph.constants["w"] = FloatConstant({2, 2, 1, 1}, {1, 0, 0, 1});
    graph.nodes.push_back(MakeNode("Conv", "conv", {"x", "w"}, {"c"}));
    graph.nodes.push_back(MakeNode("Sigmoid", "sigmoid", {"c"}, {"g"}));
    graph.nodes.push_back(MakeNode("Mul", "mul", {"g", "c"}, {"y"}));
    return graph;
  };
  Graph fused = build(false);
  ASSERT_TRUE(FuseActivations(fused).ok());
  ASSERT_THAT(OpTypes(fused), ElementsAre("Conv"));
  ASSERT_EQ(fused.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(fused.nodes[0].post_ops[0].kind, PostOp::Kind::kSwish);
  EXPECT_THAT(fused.nodes[0].outputs, ElementsAre("y"));

  Graph shared = build(true);
  ASSERT_TRUE(FuseActivations(shared).ok());
  EXPECT_THAT(OpTypes(shared), ElementsAre("Conv", "Sigmoid", "Mul"));
}

// Activations also fuse into BatchNormalization and element-wise binaries
// (DenseNet's BN+ReLU, a ReLU after an Add no convolution absorbed).
TEST(FuseActivationsTest, FusesIntoBatchNormAndBinaryOps) {
  Graph graph = MakeGraph("x", {"y"});
  for (const char* p : {"g", "b", "m", "v"}) graph.constants[p] = FloatConstant({2}, {1, 1});
  graph.nodes.push_back(MakeNode("BatchNormalization", "bn", {"x", "g", "b", "m", "v"}, {"n"}));
  graph.nodes.push_back(MakeNode("Relu", "relu1", {"n"}, {"r"}));
  graph.nodes.push_back(MakeNode("Add", "add", {"r", "x"}, {"s"}));
  graph.nodes.push_back(MakeNode("Relu", "relu2", {"s"}, {"y"}));
  ASSERT_TRUE(FuseActivations(graph).ok());
  ASSERT_THAT(OpTypes(graph), ElementsAre("BatchNormalization", "Add"));
  EXPECT_EQ(graph.nodes[0].post_ops.at(0).kind, PostOp::Kind::kRelu);
  EXPECT_EQ(graph.nodes[1].post_ops.at(0).kind, PostOp::Kind::kRelu);
  EXPECT_THAT(graph.nodes[1].outputs, ElementsAre("y"));
}

// torch exports AvgPool2d as Pad (all zeros) + AveragePool: the Pad goes.
TEST(RemoveIdentityNodesTest, RemovesAllZeroPads) {
  Graph graph = MakeGraph("x", {"y"});
  Constant zeros{.type = Constant::Type::kInt64, .dims = {8}, .floats = {},
                 .ints = {0, 0, 0, 0, 0, 0, 0, 0}};
  Constant ones = zeros;
  ones.ints[2] = 1;
  graph.constants["zeros"] = zeros;
  graph.constants["ones"] = ones;
  graph.nodes.push_back(MakeNode("Pad", "nothing", {"x", "zeros"}, {"p"}));
  graph.nodes.push_back(MakeNode("Pad", "something", {"p", "ones"}, {"y"}));
  ASSERT_TRUE(RemoveIdentityNodes(graph).ok());
  ASSERT_THAT(OpTypes(graph), ElementsAre("Pad"));
  EXPECT_EQ(graph.nodes[0].name, "something");
  EXPECT_THAT(graph.nodes[0].inputs, ElementsAre("x", "ones"));
}

TEST(RemoveUnusedConstantsTest, KeepsInputsSumInputsAndGraphOutputs) {
  Graph graph = MakeGraph("x", {"k_out"});
  for (const char* name : {"w", "k_sum", "k_out", "unused"}) {
    graph.constants[name] = FloatConstant({1}, {1.0f});
  }
  Node conv = MakeNode("Conv", "conv", {"x", "w"}, {"c"});
  conv.post_ops.push_back(
      PostOp{.kind = PostOp::Kind::kSum, .alpha = 0, .beta = 0, .sum_input = "k_sum"});
  graph.nodes.push_back(conv);
  ASSERT_TRUE(RemoveUnusedConstants(graph).ok());
  std::vector<std::string> names;
  for (const auto& [name, constant] : graph.constants) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("k_out", "k_sum", "w"));
}

// Debian's ONNX conformance models: the passes must accept every one that
// imports and leave it topologically sorted.
TEST(StandardPassesTest, AcceptsEveryImportableConformanceModel) {
  const std::filesystem::path root = "/usr/share/libonnx-testdata/data";
  if (!std::filesystem::is_directory(root / "node")) {
    FAIL() << "libonnx-testdata is missing (scripts/install_deps.sh installs it)";
  }
  for (const char* dir : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    for (const auto& entry : std::filesystem::directory_iterator(root / dir)) {
      std::ifstream file(entry.path() / "model.onnx", std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(file)),
                              std::istreambuf_iterator<char>());
      absl::StatusOr<Graph> graph = ImportOnnxModel(bytes);
      if (!graph.ok()) continue;
      SCOPED_TRACE(entry.path().string());
      ASSERT_TRUE(RunStandardPasses(*graph).ok());
      ExpectTopologicallySorted(*graph);
    }
  }
}

// --- Fixture models trained by scripts/ (may be absent in a fresh checkout) --

TEST(StandardPassesTest, FixtureModelsImportAndSimplify) {
  const std::filesystem::path dir = std::filesystem::path(QUANTD_SOURCE_DIR) / "fixtures";
  std::vector<std::filesystem::path> models;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".onnx") models.push_back(entry.path());
    }
  }
  if (models.empty()) FAIL() << "no fixtures/*.onnx found; they are committed in fixtures/";
  for (const std::filesystem::path& path : models) {
    SCOPED_TRACE(path.filename().string());
    std::ifstream file(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(file)),
                            std::istreambuf_iterator<char>());
    absl::StatusOr<Graph> graph = ImportOnnxModel(bytes);
    ASSERT_TRUE(graph.ok()) << graph.status();
    ASSERT_TRUE(RunStandardPasses(*graph).ok());
    ExpectTopologicallySorted(*graph);
    if (path.filename() == "resnet_fmnist.onnx") {
      for (const Node& node : graph->nodes) {
        EXPECT_NE(node.op_type, "BatchNormalization") << node.name;
        EXPECT_NE(node.op_type, "Relu") << node.name;
        EXPECT_NE(node.op_type, "Clip") << node.name;
        EXPECT_NE(node.op_type, "Add") << node.name;
      }
    }
  }
}

}  // namespace
}  // namespace quantd::engine
