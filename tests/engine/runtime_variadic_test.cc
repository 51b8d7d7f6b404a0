// Sum, Mean, Max and Min of several broadcasting inputs against the
// elementwise definition computed here.

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;

// The op's definition over one element's inputs.
float Combine(const std::string& op, const std::vector<float>& values) {
  float result = values[0];
  for (size_t i = 1; i < values.size(); ++i) {
    if (op == "Max") result = std::max(result, values[i]);
    if (op == "Min") result = std::min(result, values[i]);
    if (op == "Sum" || op == "Mean") result += values[i];
  }
  return op == "Mean" ? result / static_cast<float>(values.size()) : result;
}

// Runtime inputs x [2, 3, 4] and ReLU(x), constants k [3, 1] and v [4]
// broadcast along the other axes.
TEST(RuntimeVariadicTest, BroadcastingInputsOfEveryOp) {
  for (const std::string op : {"Sum", "Mean", "Max", "Min"}) {
    SCOPED_TRACE(op);
    std::mt19937 rng(80);
    const Graph g = GraphBuilder({2, 3, 4})
                        .Const("k", {3, 1}, rng)
                        .Const("v", {4}, rng)
                        .Op("Relu", "relu", {"x"}, "r")
                        .Op(op, "combine", {"x", "k", "r", "v"}, "y")
                        .Output("y")
                        .Build();
    const Tensor x = RandomTensor({2, 3, 4}, rng);
    const std::vector<float>& k = g.constants.at("k").floats;
    const std::vector<float>& v = g.constants.at("v").floats;
    absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_EQ((*y)[0].shape, (std::vector<int64_t>{2, 3, 4}));
    for (int64_t i = 0; i < 24; ++i) {
      const int64_t row = i / 4 % 3, column = i % 4;
      const float expected = Combine(op, {x.data[i], k[row], std::max(0.0f, x.data[i]), v[column]});
      EXPECT_NEAR((*y)[0].data[i], expected, 1e-5f) << "element " << i;
    }
  }
}

TEST(RuntimeVariadicTest, OneInputIsItself) {
  for (const std::string op : {"Sum", "Mean", "Max", "Min"}) {
    SCOPED_TRACE(op);
    std::mt19937 rng(81);
    const Graph g = GraphBuilder({2, 5}).Op(op, "combine", {"x"}, "y").Output("y").Build();
    const Tensor x = RandomTensor({2, 5}, rng);
    absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ((*y)[0].data, x.data);
  }
}

}  // namespace
}  // namespace quantd::engine
