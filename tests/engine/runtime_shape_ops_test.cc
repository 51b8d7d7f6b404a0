// Ops on the shape of a tensor (Slice, Squeeze, Unsqueeze, reductions) and
// the shape arithmetic exporters emit around a dynamic batch, against the
// naive reference interpreter; int8 Plans keep Slice, Transpose and a spatial
// mean on their input's grid.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::ExpectPlanMatchesReference;
using testing::GraphBuilder;
using Ints = std::vector<int64_t>;

TEST(RuntimeShapeOpsTest, SliceWithStepsOnAChannelsLastTensor) {
  std::mt19937 rng(51);
  // The conv's output is channels-last: the slice reads a strided view of it.
  const Graph g = GraphBuilder({2, 3, 7, 6})
                      .Const("w", {8, 3, 1, 1}, rng)
                      .Ints("starts", {1, -5, 0})
                      .Ints("ends", {7, 1000, 5})
                      .Ints("axes", {1, 2, 3})
                      .Ints("steps", {2, 1, 3})
                      .Op("Conv", "conv", {"x", "w"}, "c")
                      .Op("Slice", "slice", {"c", "starts", "ends", "axes", "steps"}, "y")
                      .Output("y")
                      .Build();
  ExpectPlanMatchesReference(g, {2, 3, 7, 6});
}

TEST(RuntimeShapeOpsTest, SqueezeAndUnsqueezeAreViews) {
  const Graph g = GraphBuilder({2, 1, 4})
                      .Ints("axes", {1})
                      .Ints("new_axes", {0, 3})
                      .Op("Squeeze", "squeeze", {"x", "axes"}, "s")
                      .Op("Unsqueeze", "unsqueeze", {"s", "new_axes"}, "u")
                      .Op("Relu", "relu", {"u"}, "y")
                      .Output("y")
                      .Build();
  ExpectPlanMatchesReference(g, {2, 1, 4});
}

class ReductionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReductionTest, MatchesTheReferenceWithAndWithoutKeepdims) {
  for (const int64_t keepdims : {0, 1}) {
    for (const Ints& axes : {Ints{2, 3}, Ints{1}, Ints{-1, 0}}) {
      const Graph g = GraphBuilder({2, 3, 4, 5})
                          .Op(GetParam(), "reduce", {"x"}, "y",
                              {{"axes", axes}, {"keepdims", keepdims}})
                          .Output("y")
                          .Build();
      SCOPED_TRACE(testing::reference::RefInts(g.nodes[0], "axes", {}).size());
      ExpectPlanMatchesReference(g, {2, 3, 4, 5});
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, ReductionTest,
                         ::testing::Values("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"));

// torch's channel shuffle with a dynamic batch (ShuffleNetV2): the reshape
// targets are computed from Shape(x) and evaluated when the Plan compiles
// for each batch size.
Graph ChannelShuffle() {
  GraphBuilder b({-1, 8, 3, 3});
  b.Ints("i0", {0}).Ints("i2", {2}).Ints("i3", {3}).Ints("groups", {2}).Ints("minus1", {-1});
  b.Ints("half_channels", {4}).Ints("axes0", {0});
  b.Op("Shape", "shape", {"x"}, "s");
  b.Op("Gather", "batch", {"s", "i0"}, "n", {{"axis", int64_t{0}}});
  b.Op("Gather", "height", {"s", "i2"}, "h", {{"axis", int64_t{0}}});
  b.Op("Gather", "width", {"s", "i3"}, "w", {{"axis", int64_t{0}}});
  b.Op("Concat", "five_d", {"n", "groups", "half_channels", "h", "w"}, "t5", {{"axis", int64_t{0}}});
  b.Op("Reshape", "split", {"x", "t5"}, "r5");
  b.Op("Transpose", "swap", {"r5"}, "p5", {{"perm", Ints{0, 2, 1, 3, 4}}});
  b.Op("Concat", "four_d", {"n", "minus1", "h", "w"}, "t4", {{"axis", int64_t{0}}});
  b.Op("Reshape", "merge", {"p5", "t4"}, "y");
  b.Output("y");
  return b.Build();
}

TEST(RuntimeShapeOpsTest, ShapeArithmeticIsEvaluatedPerInputShape) {
  const Graph g = ChannelShuffle();
  std::mt19937 rng(52);
  for (const int64_t batch : {1, 3}) {
    const Tensor x = testing::RandomTensor({batch, 8, 3, 3}, rng);
    absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_EQ((*y)[0].shape, (Ints{batch, 8, 3, 3}));
    // Output channel 2c + j is input channel 4j + c.
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t c = 0; c < 8; ++c) {
        const int64_t source = (c % 2) * 4 + c / 2;
        for (int64_t i = 0; i < 9; ++i) {
          ASSERT_EQ((*y)[0].data[(n * 8 + c) * 9 + i], x.data[(n * 8 + source) * 9 + i]);
        }
      }
    }
  }
}

// In an int8 Plan a slice, a transpose and a spatial mean move u8 values on
// their input's grid: no reorder converts anything.
TEST(RuntimeShapeOpsTest, SliceTransposeAndSpatialMeanStayInt8) {
  std::mt19937 rng(53);
  PostOp relu;
  const Graph g = GraphBuilder({1, 3, 6, 6})
                      .Const("w1", {8, 3, 3, 3}, rng)
                      .Const("w2", {4, 4, 1, 1}, rng)
                      .Const("w3", {2, 4, 1, 1}, rng)
                      .Ints("starts", {4})
                      .Ints("ends", {8})
                      .Ints("axes", {1})
                      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
                      .Op("Slice", "split", {"a", "starts", "ends", "axes"}, "half")
                      .Op("Transpose", "swap", {"half"}, "t", {{"perm", Ints{0, 1, 3, 2}}})
                      .Op("Conv", "c2", {"t", "w2"}, "b")
                      .Op("ReduceMean", "mean", {"b"}, "m", {{"axes", Ints{2, 3}}})
                      .Op("Conv", "c3", {"m", "w3"}, "y")
                      .Output("y")
                      .Build();
  const Tensor x = testing::RandomTensor({1, 3, 6, 6}, rng);
  const CalibrationTable table = testing::RangesOf(testing::RunAndObserve(g, x, {}));
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, x.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const NodeExecution& node : (*plan)->coverage.nodes) {
    EXPECT_TRUE(node.int8) << node.node << ": " << node.fp32_reason;
  }
  EXPECT_EQ((*plan)->coverage.boundaries.quantize, 1);
  EXPECT_EQ((*plan)->coverage.boundaries.dequantize, 0);
  EXPECT_EQ((*plan)->coverage.boundaries.requantize, 0);
  // The slice and transpose move values exactly: both int8 and the reference
  // agree on them up to a's own rounding (half a step of a's grid).
  const testing::Values int8 = testing::RunAndObserve(g, x, options);
  const std::map<std::string, Tensor> reference = testing::reference::RunAll(g, x);
  const float step_a = 1.0f / QuantParamsForRange(table.ranges.at("a")).scale;
  const float a_error = testing::MaxAbsDiff(int8.at("a"), reference.at("a"));
  EXPECT_LE(testing::MaxAbsDiff(int8.at("t"), reference.at("t")), a_error + 1e-6f);
  EXPECT_LE(a_error, testing::ConvErrorBound(g.constants.at("w1"),
                                             1.0f / QuantParamsForRange(table.ranges.at("x")).scale,
                                             1.0f) +
                         0.5f * step_a);
}

}  // namespace
}  // namespace quantd::engine
