// Split along an axis, in each of the forms ONNX gives its parts, against
// slices of the input taken here; and on the channels-last int8 output of a
// convolution, which stays int8.

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
using ::testing::HasSubstr;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;

// x [2, 7, 3] split along axis 1 into parts of `sizes`.
void ExpectSplitOfX(const Graph& g, const Ints& sizes) {
  std::mt19937 rng(90);
  const Tensor x = RandomTensor({2, 7, 3}, rng);
  absl::StatusOr<std::vector<Tensor>> parts = testing::RunFp32Plan(g, x);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), sizes.size());
  int64_t begin = 0;
  for (size_t p = 0; p < sizes.size(); ++p) {
    EXPECT_EQ((*parts)[p].shape, (Ints{2, sizes[p], 3}));
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t c = 0; c < sizes[p]; ++c) {
        for (int64_t w = 0; w < 3; ++w) {
          EXPECT_EQ((*parts)[p].data[(n * sizes[p] + c) * 3 + w],
                    x.data[(n * 7 + begin + c) * 3 + w]);
        }
      }
    }
    begin += sizes[p];
  }
}

Graph SplitGraph(const std::vector<std::string>& inputs,
                 std::map<std::string, AttributeValue> attrs, size_t outputs, int64_t opset) {
  GraphBuilder b({2, 7, 3});
  b.Ints("split", {2, 4, 1});
  std::vector<std::string> names;
  for (size_t i = 0; i < outputs; ++i) names.push_back("y" + std::to_string(i));
  Graph g = b.Build();
  g.opset_version = opset;
  g.nodes.push_back(Node{"split", "Split", inputs, names, std::move(attrs), {}});
  for (const std::string& name : names) g.outputs.push_back(ValueInfo{name, {}});
  return g;
}

TEST(RuntimeSplitTest, PartsFromInputAttributeAndEqualShares) {
  ExpectSplitOfX(SplitGraph({"x", "split"}, {{"axis", int64_t{1}}}, 3, 13), {2, 4, 1});
  ExpectSplitOfX(SplitGraph({"x"}, {{"axis", int64_t{-2}}, {"split", Ints{2, 4, 1}}}, 3, 11),
                 {2, 4, 1});
  // 7 in 2 equal parts is uneven: num_outputs (opset 18) makes the last the smaller.
  ExpectSplitOfX(SplitGraph({"x"}, {{"axis", int64_t{1}}, {"num_outputs", int64_t{2}}}, 2, 18),
                 {4, 3});
  const absl::Status bad =
      CompilePlan(SplitGraph({"x"}, {{"axis", int64_t{1}}, {"split", Ints{2, 6}}}, 2, 11),
                  {2, 7, 3}, {})
          .status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("parts [2,6] for 2 output(s) of an axis of 7"));
}

// A channel split of an int8 channels-last conv output (ShuffleNet written
// with Split) moves int8 values: nothing is dequantized.
TEST(RuntimeSplitTest, ChannelSplitOfInt8ValuesStaysInt8) {
  std::mt19937 rng(91);
  PostOp relu;
  Graph g = GraphBuilder({1, 4, 6, 6})
                .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
                .Const("w2", {4, 4, 1, 1}, rng, -0.5f, 0.5f)
                .Const("w3", {4, 4, 1, 1}, rng, -0.5f, 0.5f)
                .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
                .Build();
  g.nodes.push_back(Node{"split", "Split", {"a"}, {"a0", "a1"}, {{"axis", int64_t{1}}}, {}});
  g.nodes.push_back(Node{"c2", "Conv", {"a0", "w2"}, {"y0"}, {}, {}});
  g.nodes.push_back(Node{"c3", "Conv", {"a1", "w3"}, {"y1"}, {}, {}});
  g.outputs = {ValueInfo{"y0", {}}, ValueInfo{"y1", {}}};
  const Tensor x = RandomTensor({1, 4, 6, 6}, rng);
  absl::StatusOr<std::shared_ptr<const Plan>> plan = testing::CalibratedInt8Plan(g, x);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const NodeExecution& node : (*plan)->coverage.nodes) EXPECT_TRUE(node.int8) << node.node;
  EXPECT_EQ((*plan)->coverage.boundaries.quantize, 1);  // the input
  EXPECT_EQ((*plan)->coverage.boundaries.requantize, 0);
}

}  // namespace
}  // namespace quantd::engine
