// The ops ConvNeXt and transformers are made of, as PyTorch exports them at
// opset 13: layer normalization and GELU written out (collapsed by the
// standard passes into LayerNormalization and Gelu), Linear layers as a
// MatMul of a 3-D or 4-D activation by a constant, Sqrt and Pow. Each against
// the naive reference interpreter running the graph as exported; a
// ConvNeXt block also int8, and through the QDQ export.

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/export/qdq_export.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/model_inspection.h"
#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"
#include "onnx/checker.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"
#include "tests/engine/onnx_model_builder.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;

std::vector<std::string> OpTypes(const Graph& graph) {
  std::vector<std::string> types;
  for (const Node& node : graph.nodes) types.push_back(node.op_type);
  return types;
}

// The graph after the standard passes, run as an fp32 Plan, against the
// reference interpreter on the graph as written.
void ExpectPassedGraphMatches(const Graph& written, const Tensor& input, float tolerance = 1e-4f) {
  Graph passed = written;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  const Tensor expected = testing::reference::Run(written, input);
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(passed, input.shape, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
  ASSERT_TRUE(context.ok()) << context.status();
  absl::StatusOr<std::vector<Tensor>> actual = (*context)->Run(input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  const Tensor& y = (*actual)[0];
  ASSERT_EQ(y.shape, expected.shape);
  for (size_t i = 0; i < y.data.size(); ++i) {
    ASSERT_NEAR(y.data[i], expected.data[i], tolerance * (1.0f + std::fabs(expected.data[i])))
        << "element " << i;
  }
}

// F.layer_norm over the last axis as exported before opset 17.
GraphBuilder& WriteLayerNorm(GraphBuilder& b, const std::string& x, const std::string& y,
                             const std::string& prefix) {
  return b.Floats(prefix + "two", {}, {2.0f})
      .Floats(prefix + "eps", {}, {1e-6f})
      .Op("ReduceMean", prefix + "mean", {x}, prefix + "m", {{"axes", Ints{-1}}})
      .Op("Sub", prefix + "sub", {x, prefix + "m"}, prefix + "d")
      .Op("Pow", prefix + "pow", {prefix + "d", prefix + "two"}, prefix + "p")
      .Op("ReduceMean", prefix + "var", {prefix + "p"}, prefix + "v", {{"axes", Ints{-1}}})
      .Op("Add", prefix + "add_eps", {prefix + "v", prefix + "eps"}, prefix + "ve")
      .Op("Sqrt", prefix + "sqrt", {prefix + "ve"}, prefix + "s")
      .Op("Div", prefix + "div", {prefix + "d", prefix + "s"}, prefix + "n")
      .Op("Mul", prefix + "scale", {prefix + "n", prefix + "gamma"}, prefix + "g")
      .Op("Add", prefix + "shift", {prefix + "beta", prefix + "g"}, y);
}

// nn.GELU() as exported before opset 20.
GraphBuilder& WriteGelu(GraphBuilder& b, const std::string& x, const std::string& y,
                        const std::string& prefix) {
  return b.Floats(prefix + "sqrt2", {}, {1.4142135381698608f})
      .Floats(prefix + "one", {}, {1.0f})
      .Floats(prefix + "half", {}, {0.5f})
      .Op("Div", prefix + "div", {x, prefix + "sqrt2"}, prefix + "q")
      .Op("Erf", prefix + "erf", {prefix + "q"}, prefix + "e")
      .Op("Add", prefix + "add", {prefix + "e", prefix + "one"}, prefix + "e1")
      .Op("Mul", prefix + "mul", {x, prefix + "e1"}, prefix + "xe")
      .Op("Mul", prefix + "half_mul", {prefix + "xe", prefix + "half"}, y);
}

TEST(LayerNormTest, WrittenOutFormCollapsesIntoOneNodeAndMatches) {
  std::mt19937 rng(61);
  GraphBuilder b({2, 3, 4, 16});
  b.Const("ln.gamma", {16}, rng, 0.5f, 1.5f).Const("ln.beta", {16}, rng, -0.5f, 0.5f);
  WriteLayerNorm(b, "x", "y", "ln.");
  const Graph written = b.Output("y").Build();
  Graph passed = written;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  EXPECT_EQ(OpTypes(passed), std::vector<std::string>{"LayerNormalization"});
  EXPECT_EQ(passed.nodes[0].outputs[0], "y");
  EXPECT_FLOAT_EQ(FloatAttr(passed.nodes[0], "epsilon", 0.0f), 1e-6f);
  // Shifted inputs: the mean must come off before the variance is taken.
  ExpectPassedGraphMatches(written, RandomTensor({2, 3, 4, 16}, rng, 2.0f, 5.0f));
}

// An inner value with a reader outside the pattern keeps the pattern as is.
TEST(LayerNormTest, InnerValueReadElsewhereIsNotCollapsed) {
  std::mt19937 rng(62);
  GraphBuilder b({1, 5, 8});
  b.Const("ln.gamma", {8}, rng).Const("ln.beta", {8}, rng);
  WriteLayerNorm(b, "x", "y", "ln.").Op("Add", "also", {"y", "ln.d"}, "z");
  const Graph written = b.Output("z").Build();
  Graph passed = written;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  for (const Node& node : passed.nodes) EXPECT_NE(node.op_type, "LayerNormalization");
  ExpectPassedGraphMatches(written, RandomTensor({1, 5, 8}, rng));
}

// A scalar gamma broadcasts in the written-out form, but LayerNormalization
// takes one per channel: the pattern stays as written and still runs.
TEST(LayerNormTest, ScalarGammaIsNotCollapsed) {
  std::mt19937 rng(72);
  GraphBuilder b({1, 3, 8});
  b.Floats("ln.gamma", {}, {1.5f}).Const("ln.beta", {8}, rng);
  WriteLayerNorm(b, "x", "y", "ln.");
  const Graph written = b.Output("y").Build();
  Graph passed = written;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  for (const Node& node : passed.nodes) EXPECT_NE(node.op_type, "LayerNormalization");
  ExpectPassedGraphMatches(written, RandomTensor({1, 3, 8}, rng));
}

// Normalizing over the trailing axes from `axis` on, with the optional Mean
// and InvStdDev outputs, against the definition computed here.
TEST(LayerNormTest, AnyAxisWithMeanAndInvStdDev) {
  for (const int64_t axis : {1, -1, 0}) {
    SCOPED_TRACE(axis);
    std::mt19937 rng(63);
    const std::vector<int64_t> dims = {2, 4, 6};
    const int64_t begin = axis < 0 ? axis + 3 : axis;
    int64_t rows = 1, width = 1;
    for (int64_t d = 0; d < 3; ++d) (d < begin ? rows : width) *= dims[d];
    Graph g = GraphBuilder(dims)
                  .Const("gamma", std::vector<int64_t>(dims.begin() + begin, dims.end()), rng)
                  .Build();
    g.nodes.push_back(Node{"ln",
                           "LayerNormalization",
                           {"x", "gamma"},
                           {"y", "mean", "inv_std"},
                           {{"axis", axis}, {"epsilon", 1e-3f}},
                           {}});
    g.outputs = {ValueInfo{"y", {}}, ValueInfo{"mean", {}}, ValueInfo{"inv_std", {}}};
    const Tensor x = RandomTensor(dims, rng, -2.0f, 3.0f);
    absl::StatusOr<std::vector<Tensor>> out = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(out.ok()) << out.status();
    std::vector<int64_t> stats_dims = dims;
    for (int64_t d = begin; d < 3; ++d) stats_dims[d] = 1;
    EXPECT_EQ((*out)[1].shape, stats_dims);
    EXPECT_EQ((*out)[2].shape, stats_dims);
    const std::vector<float>& gamma = g.constants.at("gamma").floats;
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < width; ++i) mean += x.data[r * width + i];
      mean /= width;
      for (int64_t i = 0; i < width; ++i) var += std::pow(x.data[r * width + i] - mean, 2);
      var /= width;
      const double inv_std = 1 / std::sqrt(var + 1e-3);
      EXPECT_NEAR((*out)[1].data[r], mean, 1e-5);
      EXPECT_NEAR((*out)[2].data[r], inv_std, 1e-5 * inv_std);
      for (int64_t i = 0; i < width; ++i) {
        EXPECT_NEAR((*out)[0].data[r * width + i],
                    (x.data[r * width + i] - mean) * inv_std * gamma[i], 1e-4);
      }
    }
  }
}

// A transformer MLP: Linear (MatMul of a 3-D activation + bias), GELU,
// Linear. The GELU collapses and fuses into the bias Add.
TEST(GeluTest, WrittenOutFormCollapsesAndFusesIntoItsProducer) {
  std::mt19937 rng(64);
  GraphBuilder b({2, 5, 8});
  b.Const("w1", {8, 12}, rng, -0.5f, 0.5f)
      .Const("b1", {12}, rng)
      .Const("w2", {12, 4}, rng, -0.5f, 0.5f)
      .Op("MatMul", "fc1", {"x", "w1"}, "h")
      .Op("Add", "fc1_bias", {"b1", "h"}, "hb");
  WriteGelu(b, "hb", "a", "gelu.").Op("MatMul", "fc2", {"a", "w2"}, "y");
  const Graph written = b.Output("y").Build();
  Graph passed = written;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  EXPECT_EQ(OpTypes(passed), (std::vector<std::string>{"MatMul", "Add", "MatMul"}));
  ASSERT_EQ(passed.nodes[1].post_ops.size(), 1u);
  EXPECT_EQ(passed.nodes[1].post_ops[0].kind, PostOp::Kind::kGeluErf);
  ExpectPassedGraphMatches(written, RandomTensor({2, 5, 8}, rng, -2.0f, 2.0f));
}

// The other order PyTorch writes: (x * 0.5) * (1 + erf(x / sqrt 2)); standalone.
TEST(GeluTest, HalfFirstOrderCollapsesToAStandaloneGelu) {
  std::mt19937 rng(65);
  const Graph written = GraphBuilder({1, 3, 7})
                            .Floats("sqrt2", {}, {1.4142135381698608f})
                            .Floats("one", {}, {1.0f})
                            .Floats("half", {}, {0.5f})
                            .Op("Mul", "half_x", {"half", "x"}, "hx")
                            .Op("Div", "div", {"x", "sqrt2"}, "q")
                            .Op("Erf", "erf", {"q"}, "e")
                            .Op("Add", "add", {"one", "e"}, "e1")
                            .Op("Mul", "mul", {"hx", "e1"}, "y")
                            .Output("y")
                            .Build();
  Graph passed = written;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  EXPECT_EQ(OpTypes(passed), std::vector<std::string>{"Gelu"});
  ExpectPassedGraphMatches(written, RandomTensor({1, 3, 7}, rng, -3.0f, 3.0f));
}

TEST(EltwiseTest, SqrtAndPowByAConstantScalar) {
  std::mt19937 rng(66);
  const Graph g = GraphBuilder({2, 3, 5})
                      .Floats("three", {}, {3.0f})
                      .Op("Sqrt", "sqrt", {"x"}, "s")
                      .Op("Pow", "pow", {"s", "three"}, "y")
                      .Output("y")
                      .Build();
  ExpectPassedGraphMatches(g, RandomTensor({2, 3, 5}, rng, 0.1f, 4.0f));
}

TEST(EltwiseTest, PowByARuntimeExponentIsRefused) {
  const Graph g = GraphBuilder({1, 4}).Op("Pow", "pow", {"x", "x"}, "y").Output("y").Build();
  const absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {1, 4}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(MatMulTest, FourDimensionalActivationByAConstant) {
  std::mt19937 rng(67);
  const Graph g = GraphBuilder({2, 3, 4, 6})
                      .Const("w", {6, 5}, rng)
                      .Op("MatMul", "fc", {"x", "w"}, "y")
                      .Output("y")
                      .Build();
  ExpectPassedGraphMatches(g, RandomTensor({2, 3, 4, 6}, rng));
}

Constant ScalarIndex(int64_t index) {
  Constant c;
  c.type = Constant::Type::kInt64;
  c.ints = {index};
  return c;  // dims {}: a scalar
}

// Self-attention as nn.MultiheadAttention exports it, one head: Q x K^T of two
// runtime values (batch axes broadcast), scaled, Softmax over the last axis,
// x V; then the class token x[:, 0] (a Gather of a runtime value).
TEST(AttentionTest, RuntimeMatMulsSoftmaxAndClassTokenGather) {
  std::mt19937 rng(69);
  Graph g = GraphBuilder({2, 5, 8})
                .Const("wq", {8, 8}, rng, -0.5f, 0.5f)
                .Const("wk", {8, 8}, rng, -0.5f, 0.5f)
                .Const("wv", {8, 8}, rng, -0.5f, 0.5f)
                .Floats("scale", {}, {0.35f})
                .Op("MatMul", "q", {"x", "wq"}, "q")
                .Op("MatMul", "k", {"x", "wk"}, "k")
                .Op("MatMul", "v", {"x", "wv"}, "v")
                .Op("Transpose", "kt", {"k"}, "kt", {{"perm", Ints{0, 2, 1}}})
                .Op("MatMul", "scores", {"q", "kt"}, "s")
                .Op("Mul", "scaled", {"s", "scale"}, "ss")
                .Op("Softmax", "softmax", {"ss"}, "p", {{"axis", int64_t{-1}}})
                .Op("MatMul", "attend", {"p", "v"}, "o")
                .Op("Gather", "class_token", {"o", "first"}, "y", {{"axis", int64_t{1}}})
                .Output("y")
                .Build();
  g.constants["first"] = ScalarIndex(0);
  ExpectPassedGraphMatches(g, RandomTensor({2, 5, 8}, rng));
}

// [2, 3, 4, 6] x [3, 6, 4]: B's batch axes broadcast against A's. B is a
// runtime value made from x (its first image, reshaped and transposed).
TEST(AttentionTest, BatchAxesBroadcast) {
  std::mt19937 rng(70);
  const Graph g = GraphBuilder({2, 3, 4, 6})
                      .Ints("starts", {0})
                      .Ints("ends", {1})
                      .Ints("axes", {0})
                      .Ints("b_shape", {3, 4, 6})
                      .Op("Slice", "first_image", {"x", "starts", "ends", "axes"}, "x0")
                      .Op("Reshape", "drop_batch", {"x0", "b_shape"}, "b0")
                      .Op("Transpose", "to_k_by_n", {"b0"}, "b", {{"perm", Ints{0, 2, 1}}})
                      .Op("MatMul", "batched", {"x", "b"}, "y")
                      .Output("y")
                      .Build();
  ExpectPassedGraphMatches(g, RandomTensor({2, 3, 4, 6}, rng));
}

// Gather of a runtime value needs one constant scalar index.
TEST(AttentionTest, GatherWithSeveralIndicesIsRefused) {
  const Graph g = GraphBuilder({2, 5, 8})
                      .Ints("two", {0, 1})
                      .Op("Gather", "pick", {"x", "two"}, "y", {{"axis", int64_t{1}}})
                      .Output("y")
                      .Build();
  const absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {2, 5, 8}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kUnimplemented) << plan.status();
}

// ViT's class token: Expand(cls, Where(Equal(shape, -1), 1, shape)) with
// shape = [batch, -1, -1] computed from the input, then Concat with the
// patches. Equal and Where fold when a Plan compiles for a known batch.
Graph ClassTokenGraph(std::mt19937& rng) {
  GraphBuilder b({-1, 4, 8});
  b.Const("cls", {1, 1, 8}, rng)
      .Ints("zero", {0})
      .Ints("minus_ones", {-1, -1})
      .Op("Shape", "shape", {"x"}, "xs")
      .Op("Gather", "batch", {"xs", "zero_scalar"}, "n", {{"axis", int64_t{0}}})
      .Op("Unsqueeze", "batch_1d", {"n", "zero"}, "n1")
      .Op("Concat", "target", {"n1", "minus_ones"}, "t", {{"axis", int64_t{0}}})
      .Op("Shape", "target_rank", {"t"}, "tr")
      .Op("ConstantOfShape", "ones", {"tr"}, "o", {{"value", int64_t{1}}})
      .Op("Mul", "minus", {"o", "minus_one_scalar"}, "m")
      .Op("Equal", "is_minus_one", {"t", "m"}, "eq")
      .Op("Where", "expand_to", {"eq", "o", "t"}, "w")
      .Op("Expand", "tokens", {"cls", "w"}, "c")
      .Op("Concat", "with_patches", {"c", "x"}, "y", {{"axis", int64_t{1}}})
      .Output("y");
  Graph g = b.Build();
  g.constants["zero_scalar"] = ScalarIndex(0);
  g.constants["minus_one_scalar"] = ScalarIndex(-1);
  return g;
}

// Arithmetic on the batch may be negative (N - 2 is -1 at batch 1): Equal of
// such a symbol with -1 must not fold at load time, when the batch is unknown.
TEST(ClassTokenTest, EqualOfArithmeticOnTheBatchWaitsForTheShape) {
  Graph g = GraphBuilder({-1, 4})
                .Ints("two", {2})
                .Ints("minus_one", {-1})
                .Ints("zero", {0})
                .Op("Shape", "shape", {"x"}, "s")
                .Op("Slice", "batch", {"s", "zero", "one_end"}, "n")
                .Op("Sub", "less_two", {"n", "two"}, "d")
                .Op("Equal", "is_minus_one", {"d", "minus_one"}, "eq")
                .Op("Cast", "as_float", {"eq"}, "y", {{"to", int64_t{1}}})
                .Output("y")
                .Build();
  g.constants["one_end"] = g.constants.at("zero");
  g.constants["one_end"].ints = {1};
  Graph passed = g;
  ASSERT_TRUE(RunStandardPasses(passed).ok());
  bool equal_left = false;
  for (const Node& node : passed.nodes) equal_left |= node.op_type == "Equal";
  EXPECT_TRUE(equal_left) << "Equal folded with the batch unknown";
}

TEST(ClassTokenTest, EqualAndWhereFoldPerBatch) {
  std::mt19937 rng(71);
  const Graph g = ClassTokenGraph(rng);
  for (const int64_t batch : {1, 3}) {
    const Tensor x = RandomTensor({batch, 4, 8}, rng);
    absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, x.shape, {});
    ASSERT_TRUE(plan.ok()) << plan.status();
    absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
    ASSERT_TRUE(context.ok()) << context.status();
    absl::StatusOr<std::vector<Tensor>> y = (*context)->Run(x);
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_EQ((*y)[0].shape, (Ints{batch, 5, 8}));
    const std::vector<float>& cls = g.constants.at("cls").floats;
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t i = 0; i < 8; ++i) {
        EXPECT_EQ((*y)[0].data[n * 40 + i], cls[i]);
        for (int64_t t = 0; t < 4; ++t) {
          EXPECT_EQ((*y)[0].data[n * 40 + (t + 1) * 8 + i], x.data[n * 32 + t * 8 + i]);
        }
      }
    }
  }
}

// A ConvNeXt block as torchvision exports it: depthwise 7x7 conv, channels
// last, layer norm, Linear 4x wider, GELU, Linear back, channels first,
// layer scale, residual.
onnx::ModelProto ConvNextBlock(std::mt19937& rng) {
  using namespace testing;
  constexpr int64_t kC = 16;
  onnx::ModelProto model = MakeOnnxModel(13);
  AddGraphInput(model, "x", {kSymbolicBatchDim, kC, 8, 8});
  AddGraphOutput(model, "y", {kSymbolicBatchDim, kC, 8, 8});
  auto random = [&](int64_t n, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& f : v) f = d(rng);
    return v;
  };
  AddFloatInitializer(model, "dw.w", {kC, 1, 7, 7}, random(kC * 49, -0.3f, 0.3f));
  AddFloatInitializer(model, "dw.b", {kC}, random(kC, -0.1f, 0.1f));
  AddFloatInitializer(model, "ln.gamma", {kC}, random(kC, 0.5f, 1.5f));
  AddFloatInitializer(model, "ln.beta", {kC}, random(kC, -0.2f, 0.2f));
  AddFloatInitializer(model, "fc1.w", {kC, 4 * kC}, random(kC * 4 * kC, -0.3f, 0.3f));
  AddFloatInitializer(model, "fc1.b", {4 * kC}, random(4 * kC, -0.1f, 0.1f));
  AddFloatInitializer(model, "fc2.w", {4 * kC, kC}, random(4 * kC * kC, -0.2f, 0.2f));
  AddFloatInitializer(model, "fc2.b", {kC}, random(kC, -0.1f, 0.1f));
  AddFloatInitializer(model, "layer_scale", {kC, 1, 1}, random(kC, 0.5f, 1.0f));
  for (const auto& [name, value] : std::map<std::string, float>{{"two", 2.0f},
                                                                {"eps", 1e-6f},
                                                                {"sqrt2", 1.4142135381698608f},
                                                                {"one", 1.0f},
                                                                {"half", 0.5f}}) {
    AddFloatInitializer(model, name, {}, {value});
  }
  onnx::NodeProto* conv = AddNode(model, "Conv", {"x", "dw.w", "dw.b"}, {"c"}, "dw");
  AddIntAttr(conv, "group", kC);
  AddIntsAttr(conv, "pads", {3, 3, 3, 3});
  AddIntsAttr(AddNode(model, "Transpose", {"c"}, {"t"}, "to_last"), "perm", {0, 2, 3, 1});
  AddIntsAttr(AddNode(model, "ReduceMean", {"t"}, {"m"}, "ln_mean"), "axes", {-1});
  AddNode(model, "Sub", {"t", "m"}, {"d"}, "ln_sub");
  AddNode(model, "Pow", {"d", "two"}, {"p"}, "ln_pow");
  AddIntsAttr(AddNode(model, "ReduceMean", {"p"}, {"v"}, "ln_var"), "axes", {-1});
  AddNode(model, "Add", {"v", "eps"}, {"ve"}, "ln_eps");
  AddNode(model, "Sqrt", {"ve"}, {"s"}, "ln_sqrt");
  AddNode(model, "Div", {"d", "s"}, {"n"}, "ln_div");
  AddNode(model, "Mul", {"n", "ln.gamma"}, {"g"}, "ln_scale");
  AddNode(model, "Add", {"g", "ln.beta"}, {"l"}, "ln_shift");
  AddNode(model, "MatMul", {"l", "fc1.w"}, {"h"}, "fc1");
  AddNode(model, "Add", {"fc1.b", "h"}, {"hb"}, "fc1_bias");
  AddNode(model, "Div", {"hb", "sqrt2"}, {"q"}, "gelu_div");
  AddNode(model, "Erf", {"q"}, {"e"}, "gelu_erf");
  AddNode(model, "Add", {"e", "one"}, {"e1"}, "gelu_add");
  AddNode(model, "Mul", {"hb", "e1"}, {"xe"}, "gelu_mul");
  AddNode(model, "Mul", {"xe", "half"}, {"a"}, "gelu_half");
  AddNode(model, "MatMul", {"a", "fc2.w"}, {"o"}, "fc2");
  AddNode(model, "Add", {"fc2.b", "o"}, {"ob"}, "fc2_bias");
  AddIntsAttr(AddNode(model, "Transpose", {"ob"}, {"f"}, "to_first"), "perm", {0, 3, 1, 2});
  AddNode(model, "Mul", {"layer_scale", "f"}, {"ls"}, "layer_scale_mul");
  AddNode(model, "Add", {"ls", "x"}, {"y"}, "residual");
  return model;
}

// Native LayerNormalization at opset 18, where ReduceMean takes its axes as an
// input: the export writes the layer norm out in that form.
TEST(LayerNormTest, ExportAtOpset18GivesReduceMeanItsAxesAsAnInput) {
  using namespace testing;
  onnx::ModelProto model = MakeOnnxModel(18);
  AddGraphInput(model, "x", {kSymbolicBatchDim, 4, 6});
  AddGraphOutput(model, "y", {kSymbolicBatchDim, 4, 6});
  AddFloatInitializer(model, "gamma", {6}, {1, 2, 3, 4, 5, 6});
  AddFloatInitializer(model, "beta", {6}, {0, 0, 1, 1, 0, 0});
  AddIntAttr(AddNode(model, "LayerNormalization", {"x", "gamma", "beta"}, {"y"}, "ln"), "axis", -1);
  const std::string onnx = Serialize(model);
  std::mt19937 rng(73);
  CalibrationTable table;
  table.ranges["x"] = TensorRange{-1.0f, 1.0f};
  table.ranges["y"] = TensorRange{-8.0f, 8.0f};
  absl::StatusOr<std::string> qdq = ExportQdqModel(onnx, table, {});
  ASSERT_TRUE(qdq.ok()) << qdq.status();
  onnx::ModelProto exported;
  ASSERT_TRUE(exported.ParseFromString(*qdq));
  // (Debian's libonnx 1.12 knows no opset 18 and checks ReduceMean against its
  // opset-13 schema, so onnx::checker cannot judge this model.)
  int reduces = 0;
  for (const onnx::NodeProto& node : exported.graph().node()) {
    if (node.op_type() != "ReduceMean") continue;
    ++reduces;
    EXPECT_EQ(node.input_size(), 2) << node.name();
    EXPECT_EQ(node.attribute_size(), 0) << node.name();
  }
  EXPECT_EQ(reduces, 2);
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

// fp32 within 1e-4 of the reference; int8 (the depthwise conv and both
// Linear layers) close to fp32; the QDQ export valid at opset 13, with the
// collapsed ops written out again and the Linear layers as MatMul.
TEST(ConvNextBlockTest, RunsFp32AndInt8AndExports) {
  std::mt19937 rng(68);
  const std::string onnx = testing::Serialize(ConvNextBlock(rng));
  const absl::StatusOr<ModelSummary> summary = InspectModel(onnx);
  ASSERT_TRUE(summary.ok()) << summary.status();

  std::vector<Tensor> inputs;
  for (int i = 0; i < 8; ++i) inputs.push_back(RandomTensor({1, 16, 8, 8}, rng, -1.0f, 1.0f));
  SessionOptions unfused;
  unfused.fuse_operators = false;
  absl::StatusOr<std::unique_ptr<InferenceSession>> observer =
      InferenceSession::Create(onnx, unfused);
  ASSERT_TRUE(observer.ok()) << observer.status();
  std::map<std::string, std::vector<float>> seen;  // every observed value, all inputs
  for (const Tensor& input : inputs) {
    ASSERT_TRUE((*observer)
                    ->RunObserved(input,
                                  [&](const std::string& name, const Tensor& value) {
                                    seen[name].insert(seen[name].end(), value.data.begin(),
                                                      value.data.end());
                                  })
                    .ok());
  }
  CalibrationTable table;
  for (const auto& [name, values] : seen) {
    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    table.ranges[name] = TensorRange{*lo, *hi};
  }
  absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 = InferenceSession::Create(onnx, {});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  SessionOptions int8_options;
  int8_options.precision = Precision::kInt8;
  int8_options.calibration = &table;
  absl::StatusOr<std::unique_ptr<InferenceSession>> int8 =
      InferenceSession::Create(onnx, int8_options);
  ASSERT_TRUE(int8.ok()) << int8.status();
  const absl::StatusOr<Int8Coverage> coverage = (*int8)->Coverage({1, 16, 8, 8});
  ASSERT_TRUE(coverage.ok()) << coverage.status();
  EXPECT_EQ(coverage->mac_share(), 1.0);

  for (const Tensor& input : inputs) {
    absl::StatusOr<std::vector<Tensor>> f = (*fp32)->Run(input);
    absl::StatusOr<std::vector<Tensor>> q = (*int8)->Run(input);
    ASSERT_TRUE(f.ok() && q.ok());
    EXPECT_GT(Cosine((*f)[0].data, (*q)[0].data), 0.99);
  }

  absl::StatusOr<std::string> qdq = ExportQdqModel(onnx, table, {});
  ASSERT_TRUE(qdq.ok()) << qdq.status();
  onnx::ModelProto exported;
  ASSERT_TRUE(exported.ParseFromString(*qdq));
  EXPECT_NO_THROW(onnx::checker::check_model(exported));
  int matmuls = 0;
  for (const onnx::NodeProto& node : exported.graph().node()) {
    EXPECT_NE(node.op_type(), "LayerNormalization");
    EXPECT_NE(node.op_type(), "Gelu");
    EXPECT_NE(node.op_type(), "Gemm");
    matmuls += node.op_type() == "MatMul";
  }
  EXPECT_EQ(matmuls, 2);
}

}  // namespace
}  // namespace quantd::engine
