// Differential tests of the activations (standalone and fused into Conv,
// Gemm and MatMul as post-ops) against runtime_reference.h, fp32, on seeded
// random data; tolerance 1e-4 * (1 + |expected|).

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/passes/fuse_activations.h"
#include "engine/passes/standard_passes.h"
#include "engine/quant/calibration_table.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::ExpectPlanMatchesReference;
using testing::GraphBuilder;
using Attrs = std::map<std::string, AttributeValue>;
using Ints = std::vector<int64_t>;

struct ActivationCase {
  std::string op;
  Attrs attributes;
};

std::vector<ActivationCase> Activations() {
  return {{"Relu", {}},
          {"LeakyRelu", {}},
          {"LeakyRelu", {{"alpha", 0.3f}}},
          {"Sigmoid", {}},
          {"Tanh", {}},
          {"HardSigmoid", {}},
          {"HardSigmoid", {{"alpha", 0.5f}, {"beta", 0.25f}}},
          {"HardSwish", {}}};
}

std::string Label(const ActivationCase& a) {
  return a.op + "/" + std::to_string(a.attributes.size());
}

TEST(RuntimeActivationTest, StandaloneOnPlainAndBlockedLayouts) {
  for (const ActivationCase& a : Activations()) {
    SCOPED_TRACE(Label(a));
    // Input in [-5, 5] reaches the saturated ends of HardSigmoid and HardSwish.
    ExpectPlanMatchesReference(
        GraphBuilder({2, 3, 5, 5}).Op(a.op, "act", {"x"}, "y", a.attributes).Output("y").Build(),
        {2, 3, 5, 5}, 1, -5.0f, 5.0f);
    std::mt19937 rng(2);
    // After a conv the activation reads oneDNN's chosen (blocked) layout.
    const Graph after_conv = GraphBuilder({1, 4, 6, 6})
                                 .Const("w", {16, 4, 3, 3}, rng)
                                 .Op("Conv", "conv", {"x", "w"}, "c")
                                 .Op(a.op, "act", {"c"}, "y", a.attributes)
                                 .Output("y")
                                 .Build();
    ExpectPlanMatchesReference(after_conv, {1, 4, 6, 6}, 3, -2.0f, 2.0f);
  }
}

TEST(RuntimeActivationTest, FusedIntoConvGemmAndMatMulMatchesUnfused) {
  for (const ActivationCase& a : Activations()) {
    SCOPED_TRACE(Label(a));
    std::mt19937 rng(4);
    const Graph conv = GraphBuilder({2, 3, 7, 7})
                           .Const("w", {8, 3, 3, 3}, rng)
                           .Const("b", {8}, rng)
                           .Op("Conv", "conv", {"x", "w", "b"}, "c", {{"pads", Ints{1, 1, 1, 1}}})
                           .Op(a.op, "act", {"c"}, "y", a.attributes)
                           .Output("y")
                           .Build();
    const Graph gemm = GraphBuilder({3, 10})
                           .Const("B", {6, 10}, rng, -2.0f, 2.0f)
                           .Const("C", {6}, rng)
                           .Op("Gemm", "fc", {"x", "B", "C"}, "c", {{"transB", int64_t{1}}})
                           .Op(a.op, "act", {"c"}, "y", a.attributes)
                           .Output("y")
                           .Build();
    const Graph matmul = GraphBuilder({4, 8})
                             .Const("B", {8, 5}, rng, -2.0f, 2.0f)
                             .Op("MatMul", "mm", {"x", "B"}, "c")
                             .Op(a.op, "act", {"c"}, "y", a.attributes)
                             .Output("y")
                             .Build();
    for (Graph g : {conv, gemm, matmul}) {
      const Graph unfused = g;
      ASSERT_TRUE(FuseActivations(g).ok());
      ASSERT_EQ(g.nodes.size(), 1u);
      ASSERT_EQ(g.nodes[0].post_ops.size(), 1u);
      // The reference runs the unfused graph; the plan the fused one.
      std::mt19937 input_rng(5);
      const std::vector<int64_t> shape = g.inputs[0].shape;
      const Tensor input = testing::RandomTensor(shape, input_rng, -2.0f, 2.0f);
      const Tensor expected = testing::reference::Run(unfused, input);
      const Tensor fused_reference = testing::reference::Run(g, input);
      absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(g, input);
      ASSERT_TRUE(actual.ok()) << actual.status();
      ASSERT_EQ((*actual)[0].shape, expected.shape);
      for (size_t i = 0; i < expected.data.size(); ++i) {
        const float tolerance = 1e-4f * (1.0f + std::fabs(expected.data[i]));
        ASSERT_NEAR((*actual)[0].data[i], expected.data[i], tolerance) << g.nodes[0].op_type;
        ASSERT_NEAR(fused_reference.data[i], expected.data[i], tolerance);
      }
    }
  }
}

TEST(RuntimeActivationTest, ClipAttributeFormBeforeOpset11) {
  Graph g = GraphBuilder({2, 3, 4, 4})
                .Op("Clip", "clip", {"x"}, "y", {{"min", -0.5f}, {"max", 0.25f}})
                .Output("y")
                .Build();
  g.opset_version = 9;
  ExpectPlanMatchesReference(g, {2, 3, 4, 4});
  std::mt19937 rng(6);
  Graph fused = GraphBuilder({1, 3, 5, 5})
                    .Const("w", {4, 3, 3, 3}, rng)
                    .Op("Conv", "conv", {"x", "w"}, "c")
                    .Op("Clip", "clip", {"c"}, "y", {{"min", -0.5f}, {"max", 0.25f}})
                    .Output("y")
                    .Build();
  fused.opset_version = 9;
  const Graph unfused = fused;
  ASSERT_TRUE(FuseActivations(fused).ok());
  ASSERT_EQ(fused.nodes.size(), 1u);
  std::mt19937 input_rng(7);
  const Tensor input = testing::RandomTensor({1, 3, 5, 5}, input_rng);
  const Tensor expected = testing::reference::Run(unfused, input);
  absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(fused, input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  for (size_t i = 0; i < expected.data.size(); ++i) {
    ASSERT_NEAR((*actual)[0].data[i], expected.data[i], 1e-4);
  }
}

// x * Clip(x + 3, 0, 6) / 6 in its written-out forms, after a Conv: the
// passes collapse it into one Conv with a HardSwish post-op.
TEST(RuntimeActivationTest, WrittenOutHardSwishFusesIntoConv) {
  enum class Form { kDivLast, kMulSixthLast, kScaleBeforeProduct, kHardSigmoidTimesX };
  for (Form form :
       {Form::kDivLast, Form::kMulSixthLast, Form::kScaleBeforeProduct, Form::kHardSigmoidTimesX}) {
    SCOPED_TRACE(static_cast<int>(form));
    std::mt19937 rng(8);
    GraphBuilder b({1, 3, 6, 6});
    b.Const("w", {8, 3, 3, 3}, rng, -2.0f, 2.0f)
        .Floats("three", {}, {3.0f})
        .Floats("zero", {}, {0.0f})
        .Floats("six", {}, {6.0f})
        .Floats("sixth", {1}, {1.0f / 6.0f})
        .Op("Conv", "conv", {"x", "w"}, "c");
    if (form == Form::kHardSigmoidTimesX) {
      b.Op("HardSigmoid", "hs", {"c"}, "h", {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}})
          .Op("Mul", "mul", {"h", "c"}, "y");
    } else {
      b.Op("Add", "add3", {"three", "c"}, "t1").Op("Clip", "relu6", {"t1", "zero", "six"}, "t2");
      if (form == Form::kScaleBeforeProduct) {
        b.Op("Div", "div", {"t2", "six"}, "t3").Op("Mul", "mul", {"c", "t3"}, "y");
      } else {
        b.Op("Mul", "mul", {"c", "t2"}, "t3");
        if (form == Form::kDivLast) b.Op("Div", "div", {"t3", "six"}, "y");
        if (form == Form::kMulSixthLast) b.Op("Mul", "scale", {"sixth", "t3"}, "y");
      }
    }
    Graph g = b.Output("y").Build();
    const Graph unfused = g;
    ASSERT_TRUE(RunStandardPasses(g).ok());
    ASSERT_EQ(g.nodes.size(), 1u);
    ASSERT_EQ(g.nodes[0].post_ops.size(), 1u);
    EXPECT_EQ(g.nodes[0].post_ops[0].kind, PostOp::Kind::kHardSwish);
    EXPECT_EQ(g.nodes[0].outputs[0], "y");
    std::mt19937 input_rng(9);
    const Tensor input = testing::RandomTensor({1, 3, 6, 6}, input_rng);
    const Tensor expected = testing::reference::Run(unfused, input);
    absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(g, input);
    ASSERT_TRUE(actual.ok()) << actual.status();
    for (size_t i = 0; i < expected.data.size(); ++i) {
      ASSERT_NEAR((*actual)[0].data[i], expected.data[i],
                  1e-4 * (1.0 + std::fabs(expected.data[i])));
    }
  }
}

TEST(RuntimeActivationTest, WrittenOutHardSwishOnGraphInputStaysStandalone) {
  Graph g = GraphBuilder({2, 3, 4, 4})
                .Floats("three", {}, {3.0f})
                .Floats("zero", {}, {0.0f})
                .Floats("six", {}, {6.0f})
                .Op("Add", "add3", {"x", "three"}, "t1")
                .Op("Clip", "relu6", {"t1", "zero", "six"}, "t2")
                .Op("Mul", "mul", {"x", "t2"}, "t3")
                .Op("Div", "div", {"t3", "six"}, "y")
                .Output("y")
                .Build();
  const Graph unfused = g;
  ASSERT_TRUE(RunStandardPasses(g).ok());
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].op_type, "HardSwish");
  EXPECT_EQ(g.nodes[0].name, "div");
  std::mt19937 input_rng(10);
  const Tensor input = testing::RandomTensor({2, 3, 4, 4}, input_rng, -5.0f, 5.0f);
  const Tensor expected = testing::reference::Run(unfused, input);
  absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(g, input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  for (size_t i = 0; i < expected.data.size(); ++i) {
    ASSERT_NEAR((*actual)[0].data[i], expected.data[i], 1e-4 * (1.0 + std::fabs(expected.data[i])));
  }
}

// In an int8 Plan a conv with a fused non-linear activation (here Sigmoid)
// keeps an f32 destination: the activation must see real values. The next
// conv quantizes its input as usual.
TEST(RuntimeActivationTest, FusedSigmoidInInt8PlanKeepsF32Destination) {
  std::mt19937 rng(12);
  PostOp sigmoid;
  sigmoid.kind = PostOp::Kind::kSigmoid;
  const Graph g = GraphBuilder({1, 3, 6, 6})
                      .Const("w1", {8, 3, 3, 3}, rng, -0.5f, 0.5f)
                      .Const("w2", {4, 8, 1, 1}, rng, -0.5f, 0.5f)
                      .Op("Conv", "c1", {"x", "w1"}, "a", {}, {sigmoid})
                      .Op("Conv", "c2", {"a", "w2"}, "y")
                      .Output("y")
                      .Build();
  std::mt19937 input_rng(13);
  const Tensor input = testing::RandomTensor({1, 3, 6, 6}, input_rng, 0.0f, 1.0f);
  CalibrationTable table;
  table.ranges["x"] = TensorRange{0.0f, 1.0f};
  table.ranges["a"] = TensorRange{0.0f, 1.0f};
  table.ranges["y"] = TensorRange{-4.0f, 4.0f};
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, input.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
  ASSERT_TRUE(context.ok()) << context.status();
  absl::StatusOr<std::vector<Tensor>> actual = (*context)->Run(input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  const Tensor expected = testing::reference::Run(g, input);
  for (size_t i = 0; i < expected.data.size(); ++i) {
    // Quantization steps of 1/255 (input, a) and max|w|/127 per channel.
    ASSERT_NEAR((*actual)[0].data[i], expected.data[i], 0.05f) << "element " << i;
  }
}

}  // namespace
}  // namespace quantd::engine
