// Differential tests of Add, Sub, Mul and Div with ONNX multidirectional
// broadcasting against runtime_reference.h, fp32, on seeded random data;
// tolerance 1e-4 * (1 + |expected|).

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::ExpectPlanMatchesReference;
using testing::GraphBuilder;
using ::testing::HasSubstr;
using Ints = std::vector<int64_t>;

const char* const kBinaryOps[] = {"Add", "Sub", "Mul", "Div"};

// Div reads inputs in [0.5, 1.5] so no divisor is near zero.
float Low(const std::string& op) { return op == "Div" ? 0.5f : -1.0f; }
float High(const std::string& op) { return op == "Div" ? 1.5f : 1.0f; }

TEST(RuntimeBinaryOpsTest, ActivationWithBroadcastConstantEitherSide) {
  const std::vector<Ints> constant_shapes = {{},           {1},          {5},         {4, 1, 1},
                                             {1, 4, 1, 1}, {2, 4, 5, 5}, {2, 1, 1, 5}};
  for (const std::string op : kBinaryOps) {
    for (const Ints& shape : constant_shapes) {
      for (bool constant_first : {false, true}) {
        SCOPED_TRACE(op + " [" + absl::StrJoin(shape, ",") +
                     "] first=" + std::to_string(constant_first));
        std::mt19937 rng(20);
        GraphBuilder b({2, 4, 5, 5});
        b.Const("c", shape, rng, Low(op), High(op));
        const std::vector<std::string> inputs = constant_first ? std::vector<std::string>{"c", "x"}
                                                               : std::vector<std::string>{"x", "c"};
        ExpectPlanMatchesReference(b.Op(op, "bin", inputs, "y").Output("y").Build(), {2, 4, 5, 5},
                                   21, Low(op), High(op));
      }
    }
  }
}

// Both operands computed at run time; either may be the broadcast one, or
// both (outer product shapes), or of lower rank.
TEST(RuntimeBinaryOpsTest, TwoActivationsMultidirectionalBroadcast) {
  for (const std::string op : kBinaryOps) {
    SCOPED_TRACE(op);
    std::mt19937 rng(22);
    // conv output [2,4,5,5]; GlobalAveragePool gives [2,4,1,1] (squeeze-excite).
    const Graph se_first = GraphBuilder({2, 3, 5, 5})
                               .Const("w", {4, 3, 1, 1}, rng, 0.2f, 0.6f)
                               .Op("Conv", "conv", {"x", "w"}, "a")
                               .Op("GlobalAveragePool", "gap", {"a"}, "s")
                               .Op(op, "bin", {"s", "a"}, "y")
                               .Output("y")
                               .Build();
    ExpectPlanMatchesReference(se_first, {2, 3, 5, 5}, 23, 0.5f, 1.5f);
    const Graph se_second = GraphBuilder({2, 3, 5, 5})
                                .Const("w", {4, 3, 1, 1}, rng, 0.2f, 0.6f)
                                .Op("Conv", "conv", {"x", "w"}, "a")
                                .Op("GlobalAveragePool", "gap", {"a"}, "s")
                                .Op(op, "bin", {"a", "s"}, "y")
                                .Output("y")
                                .Build();
    ExpectPlanMatchesReference(se_second, {2, 3, 5, 5}, 24, 0.5f, 1.5f);
  }
}

TEST(RuntimeBinaryOpsTest, OuterProductAndLowerRankOperands) {
  for (const std::string op : kBinaryOps) {
    SCOPED_TRACE(op);
    std::mt19937 rng(25);
    // a [3,4,1] op b [1,4,3] -> [3,4,3]: both operands broadcast.
    const Graph g = GraphBuilder({3, 4, 2, 2})
                        .Ints("col", {3, 4, 1})
                        .Ints("row", {1, 4, 3})
                        .Const("w", {4, 4, 1, 1}, rng, 0.2f, 0.6f)
                        .Op("GlobalAveragePool", "gap", {"x"}, "p")  // [3,4,1,1]
                        .Op("Reshape", "r1", {"p", "col"}, "a")      // [3,4,1]
                        .Op("Conv", "conv", {"x", "w"}, "q")
                        .Op("GlobalMaxPool", "gmp", {"q"}, "q1")  // [3,4,1,1]
                        .Op("Reshape", "r2", {"q1", "row"}, "b")  // [1,4,3]
                        .Op(op, "bin", {"a", "b"}, "y")           // [3,4,3]
                        .Output("y")
                        .Build();
    ExpectPlanMatchesReference(g, {3, 4, 2, 2}, 26, 0.5f, 1.5f);
    for (bool value_first : {true, false}) {
      const std::vector<std::string> inputs =
          value_first ? std::vector<std::string>{"r", "x"} : std::vector<std::string>{"x", "r"};
      const Graph lower_rank = GraphBuilder({1, 3, 4, 4})
                                   .Ints("shape", {3, 1, 1})
                                   .Op("GlobalAveragePool", "gap", {"x"}, "g")
                                   .Op("Reshape", "r3", {"g", "shape"}, "r")  // [3,1,1]
                                   .Op(op, "bin", inputs, "y")
                                   .Output("y")
                                   .Build();
      ExpectPlanMatchesReference(lower_rank, {1, 3, 4, 4}, 27, 0.5f, 1.5f);
    }
  }
}

TEST(RuntimeBinaryOpsTest, IncompatibleShapesAreErrorsAndConstantOperandsAreEvaluated) {
  std::mt19937 rng(28);
  const Graph bad = GraphBuilder({2, 4, 5, 5})
                        .Const("c", {3}, rng)
                        .Op("Mul", "bin", {"x", "c"}, "y")
                        .Output("y")
                        .Build();
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(bad, {2, 4, 5, 5}, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("node 'bin' (Mul)"));
  // A binary op on two constants is evaluated when the Plan compiles (its
  // result is a constant of the Plan), so x + (c - d) runs as one Add.
  const Graph constants = GraphBuilder({2, 4})
                              .Const("c", {4}, rng)
                              .Const("d", {4}, rng)
                              .Op("Sub", "k", {"c", "d"}, "k_out")
                              .Op("Add", "bin", {"x", "k_out"}, "y")
                              .Output("y")
                              .Build();
  testing::ExpectPlanMatchesReference(constants, {2, 4});
}

}  // namespace
}  // namespace quantd::engine
