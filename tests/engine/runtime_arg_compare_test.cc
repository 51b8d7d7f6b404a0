// ArgMax/ArgMin and the comparisons, whose integer and bool results quantd
// serves as float32 values: against values worked out by hand.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using Ints = std::vector<int64_t>;

std::vector<float> Outputs(const Graph& g, const Tensor& x, Ints* shape = nullptr) {
  absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
  EXPECT_TRUE(y.ok()) << y.status();
  if (!y.ok()) return {};
  if (shape != nullptr) *shape = (*y)[0].shape;
  return (*y)[0].data;
}

TEST(RuntimeArgExtremeTest, AxisKeepdimsAndTies) {
  // x [2, 3]: row 0 has a tie at its maximum, row 1 at its minimum.
  const Tensor x{"x", {2, 3}, {4, 9, 9, 1, 5, 1}};
  struct Case {
    const char* op;
    int64_t axis, keepdims, last;
    Ints shape;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {"ArgMax", 1, 1, 0, {2, 1}, {1, 1}},    {"ArgMax", 1, 0, 1, {2}, {2, 1}},
      {"ArgMin", -1, 0, 0, {2}, {0, 0}},      {"ArgMin", 1, 0, 1, {2}, {0, 2}},
      {"ArgMax", 0, 1, 0, {1, 3}, {0, 0, 0}},
  };
  for (const Case& t : cases) {
    SCOPED_TRACE(std::string(t.op) + " axis " + std::to_string(t.axis));
    const Graph g =
        GraphBuilder({2, 3})
            .Op(t.op, "arg", {"x"}, "y",
                {{"axis", t.axis}, {"keepdims", t.keepdims}, {"select_last_index", t.last}})
            .Output("y")
            .Build();
    Ints shape;
    EXPECT_EQ(Outputs(g, x, &shape), t.expected);
    EXPECT_EQ(shape, t.shape);
  }
}

TEST(RuntimeComparisonTest, BroadcastingAgainstAConstantAndBetweenValues) {
  const Tensor x{"x", {2, 3}, {-1, 0, 2, 3, 0.5f, -2}};
  struct Case {
    const char* op;
    std::vector<float> against_half;  // x op 0.5
    std::vector<float> against_relu;  // x op relu(x)
  };
  const std::vector<Case> cases = {
      {"Greater", {0, 0, 1, 1, 0, 0}, {0, 0, 0, 0, 0, 0}},
      {"GreaterOrEqual", {0, 0, 1, 1, 1, 0}, {0, 1, 1, 1, 1, 0}},
      {"Less", {1, 1, 0, 0, 0, 1}, {1, 0, 0, 0, 0, 1}},
      {"LessOrEqual", {1, 1, 0, 0, 1, 1}, {1, 1, 1, 1, 1, 1}},
      {"Equal", {0, 0, 0, 0, 1, 0}, {0, 1, 1, 1, 1, 0}},
  };
  for (const Case& t : cases) {
    SCOPED_TRACE(t.op);
    const Graph constant = GraphBuilder({2, 3})
                               .Floats("half", {1}, {0.5f})
                               .Op(t.op, "cmp", {"x", "half"}, "y")
                               .Output("y")
                               .Build();
    EXPECT_EQ(Outputs(constant, x), t.against_half);
    const Graph values = GraphBuilder({2, 3})
                             .Op("Relu", "relu", {"x"}, "r")
                             .Op(t.op, "cmp", {"x", "r"}, "y")
                             .Output("y")
                             .Build();
    EXPECT_EQ(Outputs(values, x), t.against_relu);
  }
}

}  // namespace
}  // namespace quantd::engine
