// The element-wise math quantd computes itself: on a convolution's
// channels-last output (read back in plain layout), and the attribute-driven
// ops against values worked out by hand.

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;

TEST(RuntimeUnaryMathTest, LogOfAConvolutionsOutput) {
  std::mt19937 rng(95);
  const GraphBuilder conv = GraphBuilder({2, 3, 5, 5})
                                .Const("w", {6, 3, 3, 3}, rng)
                                .Op("Conv", "conv", {"x", "w"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
                                .Op("Abs", "abs", {"a"}, "m");
  const Graph without_log = GraphBuilder(conv).Output("m").Build();
  const Graph with_log = GraphBuilder(conv).Op("Log", "log", {"m"}, "y").Output("y").Build();
  const Tensor x = RandomTensor({2, 3, 5, 5}, rng);
  absl::StatusOr<std::vector<Tensor>> m = testing::RunFp32Plan(without_log, x);
  absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(with_log, x);
  ASSERT_TRUE(m.ok() && y.ok()) << m.status() << y.status();
  ASSERT_EQ((*y)[0].shape, (*m)[0].shape);
  for (size_t i = 0; i < (*m)[0].data.size(); ++i) {
    EXPECT_FLOAT_EQ((*y)[0].data[i], static_cast<float>(std::log(double((*m)[0].data[i]))));
  }
}

TEST(RuntimeUnaryMathTest, AttributesOfShrinkAndThresholdedRelu) {
  const Tensor x{"x", {1, 6}, {-2.0f, -0.75f, -0.25f, 0.25f, 0.75f, 2.0f}};
  struct Case {
    const char* op;
    std::map<std::string, AttributeValue> attrs;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      // |x| > lambd moves toward 0 by bias, else 0.
      {"Shrink", {{"lambd", 0.5f}, {"bias", 0.25f}}, {-1.75f, -0.5f, 0, 0, 0.5f, 1.75f}},
      {"ThresholdedRelu", {{"alpha", 0.5f}}, {0, 0, 0, 0, 0.75f, 2.0f}},
      {"Sign", {}, {-1, -1, -1, 1, 1, 1}},
      {"Softsign", {}, {-2.0f / 3, -0.75f / 1.75f, -0.2f, 0.2f, 0.75f / 1.75f, 2.0f / 3}},
  };
  for (const Case& t : cases) {
    SCOPED_TRACE(t.op);
    const Graph g = GraphBuilder({1, 6}).Op(t.op, "op", {"x"}, "y", t.attrs).Output("y").Build();
    absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(y.ok()) << y.status();
    for (size_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ((*y)[0].data[i], t.expected[i]) << i;
  }
}

}  // namespace
}  // namespace quantd::engine
