// Differential tests of Concat, Softmax, LogSoftmax, Transpose, Pad, PRelu and
// GlobalMaxPool against runtime_reference.h, fp32, on seeded random data;
// tolerance 1e-4 * (1 + |expected|). Also: one of these f32-only ops inside
// an int8 Plan.

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::ExpectPlanMatchesReference;
using testing::GraphBuilder;
using ::testing::HasSubstr;
using Attrs = std::map<std::string, AttributeValue>;
using Ints = std::vector<int64_t>;

absl::Status CompileStatus(const Graph& g, const Ints& shape) {
  return CompilePlan(g, shape, {}).status();
}

TEST(RuntimeConcatTest, ChannelsOfBlockedConvOutputsInputAndConstant) {
  std::mt19937 rng(30);
  const Graph g = GraphBuilder({2, 3, 5, 5})
                      .Const("w1", {5, 3, 3, 3}, rng)
                      .Const("w2", {16, 3, 1, 1}, rng)
                      .Const("k", {2, 2, 5, 5}, rng)
                      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
                      .Op("Conv", "c2", {"x", "w2"}, "b")
                      .Op("Concat", "cat", {"a", "x", "b", "k"}, "y", {{"axis", int64_t{1}}})
                      .Output("y")
                      .Build();
  ExpectPlanMatchesReference(g, {2, 3, 5, 5});
}

TEST(RuntimeConcatTest, NegativeAndLastAxis) {
  for (int64_t axis : {-1, 0, 2}) {
    SCOPED_TRACE(axis);
    const Graph g = GraphBuilder({2, 3, 4})
                        .Op("Relu", "r", {"x"}, "a")
                        .Op("Concat", "cat", {"x", "a", "x"}, "y", {{"axis", axis}})
                        .Output("y")
                        .Build();
    ExpectPlanMatchesReference(g, {2, 3, 4});
  }
}

TEST(RuntimeConcatTest, MismatchedShapesNameTheInput) {
  std::mt19937 rng(31);
  const Graph g = GraphBuilder({2, 3, 4})
                      .Const("k", {2, 5, 4}, rng)
                      .Op("Concat", "cat", {"x", "k"}, "y", {{"axis", int64_t{2}}})
                      .Output("y")
                      .Build();
  const absl::Status status = CompileStatus(g, {2, 3, 4});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("node 'cat' (Concat): input 'k'"));
}

TEST(RuntimeSoftmaxTest, OpsetsBefore13CoerceTo2D) {
  for (int64_t opset : {9, 11, 13}) {
    for (int64_t axis : {-1, 1, 2, 0}) {
      SCOPED_TRACE(std::to_string(opset) + " axis " + std::to_string(axis));
      for (const char* op : {"Softmax", "LogSoftmax"}) {
        SCOPED_TRACE(op);
        Graph g = GraphBuilder({2, 3, 4, 5})
                      .Op(op, "sm", {"x"}, "y", {{"axis", axis}})
                      .Output("y")
                      .Build();
        g.opset_version = opset;
        ExpectPlanMatchesReference(g, {2, 3, 4, 5}, 32, -4.0f, 4.0f);
      }
    }
    // Default axis: 1 before opset 13, -1 since; after a Gemm as in classifiers.
    std::mt19937 rng(33);
    Graph classifier = GraphBuilder({3, 8})
                           .Const("B", {8, 10}, rng)
                           .Op("Gemm", "fc", {"x", "B"}, "logits")
                           .Op("Softmax", "sm", {"logits"}, "y")
                           .Output("y")
                           .Build();
    classifier.opset_version = opset;
    ExpectPlanMatchesReference(classifier, {3, 8});
    Graph default_axis =
        GraphBuilder({2, 3, 4}).Op("Softmax", "sm", {"x"}, "y").Output("y").Build();
    default_axis.opset_version = opset;
    ExpectPlanMatchesReference(default_axis, {2, 3, 4});
  }
}

// Hardmax marks the first maximum along its axis (opset 13), or of each row
// of the input coerced to 2-D at the axis (before 13).
TEST(RuntimeHardmaxTest, FirstMaximumPerRowOrPerCoercedRow) {
  // x [2, 2, 3]: ties at the maximum pick the first.
  const Tensor x{"x", {2, 2, 3}, {1, 5, 5, 0, 2, 9, 7, 7, 1, 3, 8, 8}};
  struct Case {
    int64_t opset, axis;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {13, -1, {0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0}},
      {13, 1, {1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1}},
      // Opset 11, axis 1: rows are [2, 6], the maximum of each row of six.
      {11, 1, {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}},
  };
  for (const Case& t : cases) {
    SCOPED_TRACE(absl::StrCat("opset ", t.opset, " axis ", t.axis));
    Graph g = GraphBuilder({2, 2, 3})
                  .Op("Hardmax", "h", {"x"}, "y", {{"axis", t.axis}})
                  .Output("y")
                  .Build();
    g.opset_version = t.opset;
    absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ((*y)[0].data, t.expected);
  }
}

TEST(RuntimeTileTest, RepeatsEveryAxis) {
  const Tensor x{"x", {2, 3}, {1, 2, 3, 4, 5, 6}};
  const Graph g = GraphBuilder({2, 3})
                      .Ints("repeats", {2, 2})
                      .Op("Tile", "tile", {"x", "repeats"}, "y")
                      .Output("y")
                      .Build();
  absl::StatusOr<std::vector<Tensor>> y = testing::RunFp32Plan(g, x);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ((*y)[0].shape, (Ints{4, 6}));
  EXPECT_EQ((*y)[0].data, (std::vector<float>{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6,
                                              1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}));
  const Graph zero = GraphBuilder({2, 3})
                         .Ints("repeats", {1, 0})
                         .Op("Tile", "tile", {"x", "repeats"}, "y")
                         .Output("y")
                         .Build();
  EXPECT_EQ(CompileStatus(zero, {2, 3}).code(), absl::StatusCode::kInvalidArgument);
  // A model cannot make the Plan allocate without bound.
  const Graph huge = GraphBuilder({2, 3})
                         .Ints("repeats", {int64_t{1} << 20, int64_t{1} << 20})
                         .Op("Tile", "tile", {"x", "repeats"}, "y")
                         .Output("y")
                         .Build();
  const absl::Status status = CompileStatus(huge, {2, 3});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("node 'tile' (Tile): output [2097152,3145728] exceeds "
                                          "268435456 elements"));
}

TEST(RuntimeTransposeTest, PermutationsAndDefaultReverse) {
  const std::vector<Ints> perms = {{0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 2, 3}, {}};
  for (const Ints& perm : perms) {
    SCOPED_TRACE(absl::StrJoin(perm, ","));
    std::mt19937 rng(34);
    Attrs attrs;
    if (!perm.empty()) attrs["perm"] = perm;
    // The conv writes channels-last: Transpose reads it in that layout.
    const Graph g = GraphBuilder({2, 3, 4, 5})
                        .Const("w", {6, 3, 1, 1}, rng)
                        .Op("Conv", "conv", {"x", "w"}, "a")
                        .Op("Transpose", "t", {"a"}, "y", attrs)
                        .Output("y")
                        .Build();
    ExpectPlanMatchesReference(g, {2, 3, 4, 5});
  }
  const Graph bad = GraphBuilder({2, 3})
                        .Op("Transpose", "t", {"x"}, "y", {{"perm", Ints{0, 0}}})
                        .Output("y")
                        .Build();
  EXPECT_EQ(CompileStatus(bad, {2, 3}).code(), absl::StatusCode::kInvalidArgument);
}

// A channel shuffle (ShuffleNet) and an NCHW -> NHWC transpose on the
// channels-last values convolutions write: both read the conv's bytes in
// place (reshapes as strided views, the NHWC transpose as no copy at all);
// batch 1 gives the one-element dims whose strides oneDNN still compares.
TEST(RuntimeTransposeTest, ShuffleAndNhwcOfChannelsLastValues) {
  for (int64_t batch : {1, 3}) {
    // Each graph once per output, read after a conv and as a graph output.
    for (const char* output : {"y", "m"}) {
      SCOPED_TRACE(absl::StrCat("batch ", batch, ", shuffle output ", output));
      std::mt19937 rng(36);
      const Graph shuffle =
          GraphBuilder({batch, 3, 5, 4})
              .Const("w1", {6, 3, 3, 3}, rng)
              .Const("w2", {4, 6, 1, 1}, rng)
              .Ints("split_shape", {batch, 2, 3, 5, 4})
              .Ints("merged_shape", {batch, 6, 5, 4})
              .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
              .Op("Reshape", "split", {"a", "split_shape"}, "groups")
              .Op("Transpose", "t", {"groups"}, "shuffled", {{"perm", Ints{0, 2, 1, 3, 4}}})
              .Op("Reshape", "merge", {"shuffled", "merged_shape"}, "m")
              .Op("Conv", "c2", {"m", "w2"}, "y")
              .Output(output)
              .Build();
      ExpectPlanMatchesReference(shuffle, {batch, 3, 5, 4});
    }
    for (const char* output : {"y", "z"}) {
      SCOPED_TRACE(absl::StrCat("batch ", batch, ", NHWC output ", output));
      std::mt19937 rng(37);
      const Graph nhwc = GraphBuilder({batch, 3, 5, 4})
                             .Const("w", {6, 3, 1, 1}, rng)
                             .Ints("tokens_shape", {batch, 20, 6})
                             .Op("Conv", "c", {"x", "w"}, "a")
                             .Op("Transpose", "t", {"a"}, "t_out", {{"perm", Ints{0, 2, 3, 1}}})
                             .Op("Reshape", "tokens", {"t_out", "tokens_shape"}, "y")
                             .Op("Relu", "r", {"t_out"}, "z")
                             .Output(output)
                             .Build();
      ExpectPlanMatchesReference(nhwc, {batch, 3, 5, 4});
    }
  }
}

// DepthToSpace (both modes) and SpaceToDepth against the reference
// interpreter running the spec's definition: Reshape to 6-D, Transpose,
// Reshape back.
TEST(RuntimeDepthToSpaceTest, MatchesTheSpecsReshapeTransposeReshape) {
  struct Case {
    const char* op;
    const char* mode;
    Ints in, split, perm, out;
  };
  const std::vector<Case> cases = {
      {"DepthToSpace", "DCR", {2, 8, 3, 5}, {2, 2, 2, 2, 3, 5}, {0, 3, 4, 1, 5, 2}, {2, 2, 6, 10}},
      {"DepthToSpace", "CRD", {2, 8, 3, 5}, {2, 2, 2, 2, 3, 5}, {0, 1, 4, 2, 5, 3}, {2, 2, 6, 10}},
      {"SpaceToDepth", "", {2, 3, 4, 6}, {2, 3, 2, 2, 3, 2}, {0, 3, 5, 1, 2, 4}, {2, 12, 2, 3}},
  };
  for (const Case& t : cases) {
    SCOPED_TRACE(std::string(t.op) + " " + t.mode);
    Attrs attrs = {{"blocksize", int64_t{2}}};
    if (*t.mode != '\0') attrs["mode"] = std::string(t.mode);
    const Graph op = GraphBuilder(t.in).Op(t.op, "op", {"x"}, "y", attrs).Output("y").Build();
    const Graph spec = GraphBuilder(t.in)
                           .Ints("split", t.split)
                           .Ints("out", t.out)
                           .Op("Reshape", "split", {"x", "split"}, "s")
                           .Op("Transpose", "t", {"s"}, "p", {{"perm", t.perm}})
                           .Op("Reshape", "merge", {"p", "out"}, "y")
                           .Output("y")
                           .Build();
    std::mt19937 rng(39);
    const Tensor x = testing::RandomTensor(t.in, rng);
    const Tensor expected = testing::reference::Run(spec, x);
    absl::StatusOr<std::vector<Tensor>> actual = testing::RunFp32Plan(op, x);
    ASSERT_TRUE(actual.ok()) << actual.status();
    EXPECT_EQ((*actual)[0].shape, expected.shape);
    EXPECT_EQ((*actual)[0].data, expected.data);
  }
}

TEST(RuntimePadTest, ConstantModeInputsAndAttributeForms) {
  std::mt19937 rng(35);
  const Graph inputs_form = GraphBuilder({2, 3, 4, 4})
                                .Const("w", {8, 3, 3, 3}, rng)
                                .Ints("pads", {0, 1, 2, 0, 0, 2, 1, 3})
                                .Floats("value", {}, {0.5f})
                                .Op("Conv", "conv", {"x", "w"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
                                .Op("Pad", "pad", {"a", "pads", "value"}, "y")
                                .Output("y")
                                .Build();
  ExpectPlanMatchesReference(inputs_form, {2, 3, 4, 4});
  const Graph zero_default = GraphBuilder({2, 3, 4, 4})
                                 .Ints("pads", {0, 0, 1, 1, 0, 0, 1, 1})
                                 .Op("Pad", "pad", {"x", "pads"}, "y")
                                 .Output("y")
                                 .Build();
  ExpectPlanMatchesReference(zero_default, {2, 3, 4, 4});
  Graph attributes_form =
      GraphBuilder({2, 5})
          .Op("Pad", "pad", {"x"}, "y", {{"pads", Ints{1, 0, 0, 3}}, {"value", -2.0f}})
          .Output("y")
          .Build();
  attributes_form.opset_version = 9;
  ExpectPlanMatchesReference(attributes_form, {2, 5});
}

// Edge and reflect (style-transfer nets, ReflectionPad2d), on plain and on
// channels-last input, with asymmetric pads on every axis so that corners
// and the batch and channel axes are covered too.
TEST(RuntimePadTest, EdgeAndReflectModes) {
  for (const std::string mode : {"edge", "reflect"}) {
    SCOPED_TRACE(mode);
    std::mt19937 rng(38);
    const Graph after_conv = GraphBuilder({2, 3, 5, 6})
                                 .Const("w", {4, 3, 1, 1}, rng)
                                 .Ints("pads", {0, 1, 3, 2, 1, 0, 4, 1})
                                 .Op("Conv", "conv", {"x", "w"}, "a")
                                 .Op("Pad", "pad", {"a", "pads"}, "y", {{"mode", mode}})
                                 .Output("y")
                                 .Build();
    ExpectPlanMatchesReference(after_conv, {2, 3, 5, 6});
    Graph attribute_form =
        GraphBuilder({3, 4})
            .Op("Pad", "pad", {"x"}, "y", {{"mode", mode}, {"pads", Ints{2, 1, 1, 3}}})
            .Output("y")
            .Build();
    attribute_form.opset_version = 10;
    ExpectPlanMatchesReference(attribute_form, {3, 4});
  }
}

TEST(RuntimePadTest, ImpossibleAndNegativePadsAreRefused) {
  // Reflect mirrors without repeating the border: at most n - 1 per side.
  const Graph reflect =
      GraphBuilder({1, 2, 4, 4})
          .Ints("pads", {0, 0, 1, 4, 0, 0, 1, 1})
          .Op("Pad", "pad", {"x", "pads"}, "y", {{"mode", std::string("reflect")}})
          .Output("y")
          .Build();
  absl::Status status = CompileStatus(reflect, {1, 2, 4, 4});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("node 'pad' (Pad): mode 'reflect' cannot pad axis 3 of 4 element(s)"));
  // Each padded slice is a step of the Plan: a model cannot ask for millions.
  const Graph wide = GraphBuilder({1, 2, 4, 4})
                         .Ints("pads", {0, 0, 0, 5000, 0, 0, 0, 0})
                         .Op("Pad", "pad", {"x", "pads"}, "y", {{"mode", std::string("edge")}})
                         .Output("y")
                         .Build();
  status = CompileStatus(wide, {1, 2, 4, 4});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr("5000 padded slices (at most 1024)"));
  // Constant padding fills its output when the Plan compiles: its size is
  // capped, overflowing pads included.
  for (const int64_t pad : {int64_t{1} << 30, int64_t{1} << 62}) {
    const Graph huge = GraphBuilder({1, 2, 4, 4})
                           .Ints("pads", {0, 0, pad, pad, 0, 0, pad, pad})
                           .Op("Pad", "pad", {"x", "pads"}, "y")
                           .Output("y")
                           .Build();
    status = CompileStatus(huge, {1, 2, 4, 4});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_THAT(status.message(), HasSubstr("exceeds 268435456 elements"));
  }
  const Graph wrap = GraphBuilder({1, 2, 4, 4})
                         .Ints("pads", {0, 0, 1, 1, 0, 0, 1, 1})
                         .Op("Pad", "pad", {"x", "pads"}, "y", {{"mode", std::string("wrap")}})
                         .Output("y")
                         .Build();
  status = CompileStatus(wrap, {1, 2, 4, 4});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr("mode 'wrap'"));
  const Graph negative = GraphBuilder({1, 2, 4, 4})
                             .Ints("pads", {0, 0, -1, 0, 0, 0, 0, 0})
                             .Op("Pad", "crop", {"x", "pads"}, "y")
                             .Output("y")
                             .Build();
  status = CompileStatus(negative, {1, 2, 4, 4});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr("negative pads"));
}

TEST(RuntimePReluTest, SlopeBroadcasts) {
  const std::vector<Ints> slope_shapes = {{1}, {4, 1, 1}, {1, 4, 1, 1}, {5}, {4, 5, 5}};
  for (const Ints& shape : slope_shapes) {
    SCOPED_TRACE(absl::StrJoin(shape, ","));
    std::mt19937 rng(36);
    const Graph g = GraphBuilder({2, 4, 5, 5})
                        .Const("w", {4, 4, 1, 1}, rng)
                        .Const("slope", shape, rng, 0.0f, 0.5f)
                        .Op("Conv", "conv", {"x", "w"}, "a")
                        .Op("PRelu", "prelu", {"a", "slope"}, "y")
                        .Output("y")
                        .Build();
    ExpectPlanMatchesReference(g, {2, 4, 5, 5});
  }
  std::mt19937 rng(37);
  Graph per_channel_opset6 = GraphBuilder({2, 3, 4, 5})
                                 .Const("slope", {3}, rng, 0.0f, 0.5f)
                                 .Op("PRelu", "prelu", {"x", "slope"}, "y")
                                 .Output("y")
                                 .Build();
  per_channel_opset6.opset_version = 6;
  ExpectPlanMatchesReference(per_channel_opset6, {2, 3, 4, 5});
  const Graph bad = GraphBuilder({2, 4, 5, 5})
                        .Const("slope", {3}, rng)
                        .Op("PRelu", "prelu", {"x", "slope"}, "y")
                        .Output("y")
                        .Build();
  EXPECT_EQ(CompileStatus(bad, {2, 4, 5, 5}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RuntimePoolTest, GlobalMaxPool) {
  ExpectPlanMatchesReference(
      GraphBuilder({2, 3, 7, 6}).Op("GlobalMaxPool", "gmp", {"x"}, "y").Output("y").Build(),
      {2, 3, 7, 6});
}

// In an int8 Plan, ops without int8 kernels run in f32 between a dequantizing
// and a quantizing reorder: Concat of two int8 convs feeding an int8 conv.
TEST(RuntimeInt8Test, Fp32OnlyConcatBetweenInt8Convs) {
  std::mt19937 rng(38);
  PostOp relu;
  const Graph g = GraphBuilder({1, 3, 8, 8})
                      .Const("w1", {8, 3, 3, 3}, rng, -0.5f, 0.5f)
                      .Const("w2", {8, 3, 1, 1}, rng, -0.5f, 0.5f)
                      .Const("w3", {4, 16, 3, 3}, rng, -0.2f, 0.2f)
                      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
                      .Op("Conv", "c2", {"x", "w2"}, "b", {}, {relu})
                      .Op("Concat", "cat", {"a", "b"}, "ab", {{"axis", int64_t{1}}})
                      .Op("Conv", "c3", {"ab", "w3"}, "y")
                      .Output("y")
                      .Build();
  std::mt19937 input_rng(39);
  const Tensor input = testing::RandomTensor({1, 3, 8, 8}, input_rng, 0.0f, 1.0f);
  // Calibrate every value on the input itself from the reference.
  CalibrationTable table;
  table.ranges["x"] = TensorRange{0.0f, 1.0f};
  for (const char* name : {"a", "b", "ab", "y"}) {
    Graph partial = g;
    partial.outputs = {ValueInfo{name, {}}};
    const Tensor value = testing::reference::Run(partial, input);
    const auto [lo, hi] = std::minmax_element(value.data.begin(), value.data.end());
    table.ranges[name] = TensorRange{*lo, *hi};
  }
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, input.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  bool int8_conv = false;
  for (const PlanBuffer& buffer : (*plan)->buffers) {
    int8_conv = int8_conv || buffer.desc.data_type() == dnnl::memory::data_type::s8;
  }
  EXPECT_TRUE(int8_conv);
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(*plan);
  ASSERT_TRUE(context.ok()) << context.status();
  absl::StatusOr<std::vector<Tensor>> actual = (*context)->Run(input);
  ASSERT_TRUE(actual.ok()) << actual.status();
  const Tensor expected = testing::reference::Run(g, input);
  float max_abs = 0.0f;
  for (float v : expected.data) max_abs = std::max(max_abs, std::fabs(v));
  for (size_t i = 0; i < expected.data.size(); ++i) {
    // A few quantization steps of the output range.
    ASSERT_NEAR((*actual)[0].data[i], expected.data[i], 0.05f * max_abs) << "element " << i;
  }
}

}  // namespace
}  // namespace quantd::engine
