// int8 Plans against the fp32 result of the same graph. Tolerances are derived
// from quantization steps: an input step dx = 1/src_scale and per-channel
// weight steps dw = max|w|/127 bound a conv output's error by
// 0.5 * (dx * sum|w| + dw * sum|x|); a quantized destination adds half a step.

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "engine/runtime/execution_context.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/session_factory.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;
using testing::ConvErrorBound;
using testing::Values;

using testing::MaxAbs;
using testing::MaxAbsDiff;
using testing::RangesOf;
using testing::RunAndObserve;

struct Int8Run {
  Values fp32, int8;
  CalibrationTable table;
};

Int8Run RunBoth(const Graph& graph, const Tensor& input) {
  Int8Run run;
  run.fp32 = RunAndObserve(graph, input, {});
  run.table = RangesOf(run.fp32);
  PlanOptions int8;
  int8.int8 = true;
  int8.calibration = &run.table;
  run.int8 = RunAndObserve(graph, input, int8);
  return run;
}

float Step(const CalibrationTable& table, const std::string& name) {
  const QuantParams q = QuantParamsForRange(table.ranges.at(name));
  return 1.0f / q.scale;
}

TEST(RuntimeInt8Test, ConvWithBiasSignedInputFloatOutput) {
  std::mt19937 rng(31);
  const Graph g = GraphBuilder({2, 16, 8, 8})
                      .Const("w", {32, 16, 3, 3}, rng, -0.2f, 0.2f)
                      .Const("b", {32}, rng, -2.0f, 2.0f)  // large: checks bias scaling
                      .Op("Conv", "conv", {"x", "w", "b"}, "y", {{"pads", Ints{1, 1, 1, 1}}})
                      .Output("y")
                      .Build();
  const Int8Run run = RunBoth(g, RandomTensor({2, 16, 8, 8}, rng));
  const float bound = ConvErrorBound(g.constants.at("w"), Step(run.table, "x"), 1.0f);
  const float err = MaxAbsDiff(run.int8.at("y"), run.fp32.at("y"));
  EXPECT_LE(err, bound) << "max|y| " << MaxAbs(run.fp32.at("y"));
  EXPECT_GT(err, 0.0f);  // it really ran in int8
}

TEST(RuntimeInt8Test, FusedReluAndClipOnQuantizedDestinations) {
  std::mt19937 rng(32);
  PostOp relu;
  PostOp clip;
  clip.kind = PostOp::Kind::kClip;
  clip.alpha = 0.0f;
  clip.beta = 6.0f;
  // c1 output exceeds 6 before the clip; c2 and c3 consume u8 activations.
  const Graph g =
      GraphBuilder({1, 8, 10, 10})
          .Const("w1", {16, 8, 3, 3}, rng, -1.0f, 1.0f)
          .Const("b1", {16}, rng, 0.0f, 2.0f)
          .Const("w2", {16, 16, 3, 3}, rng, -0.1f, 0.1f)
          .Const("b2", {16}, rng, -0.5f, 0.5f)
          .Const("w3", {4, 16, 1, 1}, rng, -0.5f, 0.5f)
          .Op("Conv", "c1", {"x", "w1", "b1"}, "a1", {{"pads", Ints{1, 1, 1, 1}}}, {clip})
          .Op("Conv", "c2", {"a1", "w2", "b2"}, "a2", {}, {relu})
          .Op("Conv", "c3", {"a2", "w3"}, "y")
          .Output("y")
          .Build();
  const Int8Run run = RunBoth(g, RandomTensor({1, 8, 10, 10}, rng, -1.0f, 1.0f));
  ASSERT_EQ(run.table.ranges.at("a1").max, 6.0f);  // the clip is active
  const float a1_bound = ConvErrorBound(g.constants.at("w1"), Step(run.table, "x"), 1.0f) +
                         0.5f * Step(run.table, "a1");
  EXPECT_LE(MaxAbsDiff(run.int8.at("a1"), run.fp32.at("a1")), a1_bound);
  for (float v : run.int8.at("a1").data) EXPECT_LE(v, 6.0f + 1e-5f);
  const float a2_bound =
      ConvErrorBound(g.constants.at("w2"), Step(run.table, "a1") + 2 * a1_bound, 6.0f) +
      0.5f * Step(run.table, "a2");
  EXPECT_LE(MaxAbsDiff(run.int8.at("a2"), run.fp32.at("a2")), a2_bound);
  for (float v : run.int8.at("a2").data) EXPECT_GE(v, 0.0f);
}

TEST(RuntimeInt8Test, GroupedAndDepthwiseConv) {
  std::mt19937 rng(33);
  const Graph g =
      GraphBuilder({2, 8, 9, 9})
          .Const("wg", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
          .Const("wd", {8, 1, 3, 3}, rng, -0.5f, 0.5f)
          .Const("bd", {8}, rng, -0.5f, 0.5f)
          .Op("Conv", "grouped", {"x", "wg"}, "a", {{"group", int64_t{2}}})
          .Op("Conv", "depthwise", {"a", "wd", "bd"}, "y",
              {{"group", int64_t{8}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}})
          .Output("y")
          .Build();
  const Int8Run run = RunBoth(g, RandomTensor({2, 8, 9, 9}, rng));
  const float a_bound = ConvErrorBound(g.constants.at("wg"), Step(run.table, "x"), 1.0f) +
                        0.5f * Step(run.table, "a");
  EXPECT_LE(MaxAbsDiff(run.int8.at("a"), run.fp32.at("a")), a_bound);
  const float a_max = MaxAbs(run.fp32.at("a"));
  const float y_bound =
      ConvErrorBound(g.constants.at("wd"), Step(run.table, "a") + 2 * a_bound, a_max);
  EXPECT_LE(MaxAbsDiff(run.int8.at("y"), run.fp32.at("y")), y_bound);
}

TEST(RuntimeInt8Test, SignedResidualIntoUnsignedDestination) {
  std::mt19937 rng(36);
  PostOp relu;
  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  sum.sum_input = "r";
  // r (projection shortcut, no relu) is s8; y = relu(conv(h) + r) is u8 and
  // feeds another conv, so the s8 residual is accumulated into a u8 dst.
  const Graph g =
      GraphBuilder({2, 8, 8, 8})
          .Const("wr", {16, 8, 1, 1}, rng, -0.5f, 0.5f)
          .Const("wh", {16, 8, 3, 3}, rng, -0.3f, 0.3f)
          .Const("wy", {16, 16, 3, 3}, rng, -0.2f, 0.2f)
          .Const("by", {16}, rng, -0.2f, 0.2f)
          .Const("wo", {4, 16, 1, 1}, rng, -0.5f, 0.5f)
          .Op("Conv", "shortcut", {"x", "wr"}, "r")
          .Op("Conv", "ch", {"x", "wh"}, "h", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
          .Op("Conv", "cy", {"h", "wy", "by"}, "y", {{"pads", Ints{1, 1, 1, 1}}}, {sum, relu})
          .Op("Conv", "co", {"y", "wo"}, "out")
          .Output("out")
          .Build();
  const Int8Run run = RunBoth(g, RandomTensor({2, 8, 8, 8}, rng));
  ASSERT_LT(run.table.ranges.at("r").min, 0.0f);
  ASSERT_GE(run.table.ranges.at("y").min, 0.0f);
  for (const std::string name : {"r", "h", "y", "out"}) {
    const float err = MaxAbsDiff(run.int8.at(name), run.fp32.at(name));
    EXPECT_LE(err, 3.0f * MaxAbs(run.fp32.at(name)) / 127.0f) << name;
  }
  // y really is u8, accumulated in place into r's buffer.
  PlanOptions options;
  options.int8 = true;
  options.calibration = &run.table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {2, 8, 8, 8}, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int cy_steps = 0;
  for (const PlanStep& step : (*plan)->steps) {
    if (step.node != "cy") continue;
    ++cy_steps;
    EXPECT_EQ((*plan)->buffers[step.args.at(DNNL_ARG_DST)].desc.data_type(),
              dnnl::memory::data_type::u8);
  }
  EXPECT_EQ(cy_steps, 1);
}

// A residual that ONNX broadcasts ([N,C,1,1] into [N,C,H,W]) is expanded in
// f32 and quantized into the destination before the int8 conv sums onto it.
TEST(RuntimeInt8Test, BroadcastResidualIntoQuantizedDestination) {
  std::mt19937 rng(37);
  PostOp relu;
  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  sum.sum_input = "p";
  const Graph g =
      GraphBuilder({2, 8, 8, 8})
          .Const("w", {8, 8, 3, 3}, rng, -0.3f, 0.3f)
          .Const("wo", {4, 8, 1, 1}, rng, -0.5f, 0.5f)
          .Op("GlobalAveragePool", "gap", {"x"}, "p")
          .Op("Conv", "c", {"x", "w"}, "y", {{"pads", Ints{1, 1, 1, 1}}}, {sum, relu})
          .Op("Conv", "co", {"y", "wo"}, "out")
          .Output("out")
          .Build();
  // Inputs in [0, 2] make the residual (their mean, ~1) larger than the
  // error bound: a residual dropped or misplaced would show.
  const Int8Run run = RunBoth(g, RandomTensor({2, 8, 8, 8}, rng, 0.0f, 2.0f));
  ASSERT_GT(MaxAbs(run.fp32.at("p")), 0.5f);
  const float bound = ConvErrorBound(g.constants.at("w"), Step(run.table, "x"), 2.0f) +
                      Step(run.table, "p") + Step(run.table, "y");
  const float err = MaxAbsDiff(run.int8.at("y"), run.fp32.at("y"));
  EXPECT_LE(err, bound) << "max|y| " << MaxAbs(run.fp32.at("y"));
  EXPECT_GT(err, 0.0f);  // it really ran in int8
}

// ResNet's stage pattern: a projection block (its u8 output written over the
// s8 shortcut's bytes) followed by an identity block, whose sum must reuse
// those same bytes again instead of copying the residual first (a copy per
// stage cost ResNet-50 about 1% of its int8 time).
TEST(RuntimeInt8Test, IdentityBlockAfterProjectionBlockSumsInPlaceWithoutCopy) {
  std::mt19937 rng(37);
  PostOp relu;
  PostOp sum_r;
  sum_r.kind = PostOp::Kind::kSum;
  sum_r.sum_input = "r";
  PostOp sum_y1 = sum_r;
  sum_y1.sum_input = "y1";
  const Graph g =
      GraphBuilder({2, 8, 8, 8})
          .Const("wr", {16, 8, 1, 1}, rng, -0.5f, 0.5f)
          .Const("wh", {16, 8, 3, 3}, rng, -0.3f, 0.3f)
          .Const("wy", {16, 16, 3, 3}, rng, -0.2f, 0.2f)
          .Const("wa", {16, 16, 1, 1}, rng, -0.3f, 0.3f)
          .Const("wb", {16, 16, 3, 3}, rng, -0.2f, 0.2f)
          .Const("wo", {4, 16, 1, 1}, rng, -0.5f, 0.5f)
          .Op("Conv", "shortcut", {"x", "wr"}, "r")
          .Op("Conv", "ch", {"x", "wh"}, "h", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
          .Op("Conv", "cy", {"h", "wy"}, "y1", {{"pads", Ints{1, 1, 1, 1}}}, {sum_r, relu})
          .Op("Conv", "ca", {"y1", "wa"}, "a", {}, {relu})
          .Op("Conv", "cb", {"a", "wb"}, "y2", {{"pads", Ints{1, 1, 1, 1}}}, {sum_y1, relu})
          .Op("Conv", "co", {"y2", "wo"}, "out")
          .Output("out")
          .Build();
  const Int8Run run = RunBoth(g, RandomTensor({2, 8, 8, 8}, rng));
  for (const std::string name : {"y1", "a", "y2", "out"}) {
    const float err = MaxAbsDiff(run.int8.at(name), run.fp32.at(name));
    EXPECT_LE(err, 4.0f * MaxAbs(run.fp32.at(name)) / 127.0f) << name;
  }
  PlanOptions options;
  options.int8 = true;
  options.calibration = &run.table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, {2, 8, 8, 8}, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int cb_steps = 0;
  int cb_dst = -1;
  int cy_dst = -1;
  for (const PlanStep& step : (*plan)->steps) {
    if (step.node == "cb") {
      ++cb_steps;
      cb_dst = step.args.at(DNNL_ARG_DST);
    }
    if (step.node == "cy") cy_dst = step.args.at(DNNL_ARG_DST);
  }
  EXPECT_EQ(cb_steps, 1) << "the identity block copied its residual before summing";
  EXPECT_EQ(cb_dst, cy_dst);
}

TEST(RuntimeInt8Test, TinyResNetStaysCloseToFp32) {
  std::mt19937 rng(34);
  const Graph g = testing::TinyResNet(21);
  const Tensor input = RandomTensor({8, 3, 16, 16}, rng, 0.0f, 1.0f);
  const Int8Run run = RunBoth(g, input);
  for (const auto& [name, fp32] : run.fp32) {
    ASSERT_TRUE(run.int8.count(name)) << name;
    const float err = MaxAbsDiff(run.int8.at(name), fp32);
    const float steps = err / (MaxAbs(fp32) / 127.0f);
    // Errors compound through five quantized layers; stay within a few steps.
    EXPECT_LE(steps, 6.0f) << name << ": max error " << err << " of max " << MaxAbs(fp32);
    std::printf("  %-7s max|fp32| %8.4f  max err %8.5f (%.2f s8 steps)\n", name.c_str(),
                MaxAbs(fp32), err, steps);
  }
  // Same top-1 class for every image.
  const Tensor& a = run.fp32.at("logits");
  const Tensor& b = run.int8.at("logits");
  for (int64_t n = 0; n < 8; ++n) {
    const auto row_a = a.data.begin() + n * 10, row_b = b.data.begin() + n * 10;
    EXPECT_EQ(std::max_element(row_a, row_a + 10) - row_a,
              std::max_element(row_b, row_b + 10) - row_b);
  }
}

TEST(RuntimeInt8Test, SessionRunMatchesPlanAndIsDeterministic) {
  std::mt19937 rng(35);
  const Graph g = testing::TinyResNet(21);
  const Tensor input = RandomTensor({2, 3, 16, 16}, rng, 0.0f, 1.0f);
  const CalibrationTable table = RangesOf(RunAndObserve(g, input, {}));
  SessionOptions options;
  options.precision = Precision::kInt8;
  options.calibration = &table;
  absl::StatusOr<std::unique_ptr<InferenceSession>> session = CreateSessionFromGraph(g, options);
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<std::vector<Tensor>> a = (*session)->Run(input);
  absl::StatusOr<std::vector<Tensor>> b = (*session)->Run(input);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].data, (*b)[0].data);
  EXPECT_EQ((*a)[0].shape, (std::vector<int64_t>{2, 10}));
}

// The output scales oneDNN received for the (single) conv step of `node`.
std::vector<float> OutputScalesOf(const Plan& plan, const std::string& node) {
  for (const PlanStep& step : plan.steps) {
    if (step.kernel || step.node != node ||
        step.primitive.get_kind() != dnnl::primitive::kind::convolution) {
      continue;
    }
    const_dnnl_primitive_attr_t attr = nullptr;
    EXPECT_EQ(dnnl_primitive_desc_get_attr(step.primitive.get_primitive_desc(), &attr),
              dnnl_success);
    dnnl_dim_t count = 0;
    int mask = 0;
    const float* scales = nullptr;
    EXPECT_EQ(dnnl_primitive_attr_get_output_scales(attr, &count, &mask, &scales), dnnl_success);
    return std::vector<float>(scales, scales + count);
  }
  ADD_FAILURE() << "no convolution step for " << node;
  return {};
}

// Six output channels whose weights differ in magnitude by up to 50x.
Graph UnevenChannelsConv(std::mt19937& rng) {
  std::vector<float> w = testing::RandomFloats(6 * 8 * 3 * 3, rng);
  const float magnitude[] = {0.02f, 0.1f, 0.3f, 0.5f, 0.8f, 1.0f};
  for (int oc = 0; oc < 6; ++oc) {
    for (int i = 0; i < 8 * 9; ++i) w[oc * 72 + i] *= magnitude[oc];
  }
  return GraphBuilder({2, 8, 6, 6})
      .Floats("w", {6, 8, 3, 3}, w)
      .Op("Conv", "conv", {"x", "w"}, "y", {{"pads", Ints{1, 1, 1, 1}}})
      .Output("y")
      .Build();
}

// Max error of output channel `oc` of an NCHW tensor.
float ChannelError(const Tensor& a, const Tensor& b, int64_t oc) {
  const int64_t channels = a.shape[1], plane = a.shape[2] * a.shape[3];
  float m = 0.0f;
  for (int64_t n = 0; n < a.shape[0]; ++n) {
    for (int64_t i = 0; i < plane; ++i) {
      const int64_t at = (n * channels + oc) * plane + i;
      m = std::max(m, std::fabs(a.data[at] - b.data[at]));
    }
  }
  return m;
}

TEST(RuntimeInt8Test, OutputScalesFollowWeightGranularity) {
  std::mt19937 rng(40);
  const Graph g = UnevenChannelsConv(rng);
  const Tensor input = RandomTensor({2, 8, 6, 6}, rng);
  const Values fp32 = RunAndObserve(g, input, {});
  const CalibrationTable table = RangesOf(fp32);
  std::map<WeightGranularity, Values> outputs;
  for (const WeightGranularity granularity :
       {WeightGranularity::kPerChannel, WeightGranularity::kPerTensor,
        WeightGranularity::kPerGroup}) {
    PlanOptions options;
    options.int8 = true;
    options.calibration = &table;
    options.quantization.weight_granularity = granularity;
    options.quantization.group_size = 2;
    absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, input.shape, options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    const std::vector<float> scales = OutputScalesOf(**plan, "conv");
    ASSERT_EQ(scales.size(), 6u);
    const std::set<float> distinct(scales.begin(), scales.end());
    switch (granularity) {
      case WeightGranularity::kPerChannel:
        EXPECT_EQ(distinct.size(), 6u);
        break;
      case WeightGranularity::kPerTensor:
        EXPECT_EQ(distinct.size(), 1u);
        break;
      case WeightGranularity::kPerGroup:
        EXPECT_EQ(distinct.size(), 3u);
        for (int oc = 0; oc < 6; oc += 2) EXPECT_EQ(scales[oc], scales[oc + 1]) << oc;
        break;
    }
    outputs[granularity] = RunAndObserve(g, input, options);
  }
  // One scale for all channels leaves the 0.02-magnitude channel a few
  // levels; per channel it keeps 127.
  const float per_channel = ChannelError(outputs[WeightGranularity::kPerChannel].at("y"),
                                         fp32.at("y"), 0);
  const float per_tensor = ChannelError(outputs[WeightGranularity::kPerTensor].at("y"),
                                        fp32.at("y"), 0);
  EXPECT_GT(per_tensor, 4.0f * per_channel) << per_tensor << " vs " << per_channel;
}

// c1 feeds c2; c1's output is visibly quantized unless c1 is excluded.
Graph TwoConvs(std::mt19937& rng) {
  PostOp relu;
  return GraphBuilder({2, 4, 8, 8})
      .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
      .Const("b1", {8}, rng, -0.2f, 0.2f)
      .Const("w2", {4, 8, 3, 3}, rng, -0.3f, 0.3f)
      .Op("Conv", "c1", {"x", "w1", "b1"}, "a1", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
      .Op("Conv", "c2", {"a1", "w2"}, "y", {{"pads", Ints{1, 1, 1, 1}}})
      .Output("y")
      .Build();
}

TEST(RuntimeInt8Test, ExcludedConvRunsFp32AndItsConsumerInt8) {
  std::mt19937 rng(41);
  const Graph g = TwoConvs(rng);
  const Tensor input = RandomTensor({2, 4, 8, 8}, rng);
  const Values fp32 = RunAndObserve(g, input, {});
  const CalibrationTable table = RangesOf(fp32);
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  const Values all_int8 = RunAndObserve(g, input, options);
  options.quantization.exclude_nodes = {"c1"};
  const Values excluded = RunAndObserve(g, input, options);

  const float a1_max = MaxAbs(fp32.at("a1"));
  EXPECT_GT(MaxAbsDiff(all_int8.at("a1"), fp32.at("a1")), 1e-3f * a1_max);
  EXPECT_LE(MaxAbsDiff(excluded.at("a1"), fp32.at("a1")), 1e-5f * a1_max);
  EXPECT_LE(MaxAbsDiff(excluded.at("y"), fp32.at("y")), 3.0f * MaxAbs(fp32.at("y")) / 127.0f);

  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, input.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::map<std::string, std::set<dnnl::memory::data_type>> conv_src_types;
  for (const PlanStep& step : (*plan)->steps) {
    if (step.kernel || step.primitive.get_kind() != dnnl::primitive::kind::convolution) continue;
    conv_src_types[step.node].insert((*plan)->buffers[step.args.at(DNNL_ARG_SRC)].desc.data_type());
    conv_src_types[step.node].insert(
        (*plan)->buffers[step.args.at(DNNL_ARG_WEIGHTS)].desc.data_type());
  }
  EXPECT_EQ(conv_src_types["c1"], (std::set{dnnl::memory::data_type::f32}));
  EXPECT_EQ(conv_src_types["c2"],
            (std::set{dnnl::memory::data_type::u8, dnnl::memory::data_type::s8}));
}

TEST(RuntimeInt8Test, ExcludedFirstConvMatchesFp32Session) {
  std::mt19937 rng(42);
  const Graph g = GraphBuilder({1, 4, 8, 8})
                      .Const("w", {8, 4, 3, 3}, rng)
                      .Op("Conv", "only", {"x", "w"}, "y")
                      .Output("y")
                      .Build();
  const Tensor input = RandomTensor({1, 4, 8, 8}, rng);
  const CalibrationTable table = RangesOf(RunAndObserve(g, input, {}));
  auto fp32 = CreateSessionFromGraph(g, {});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  SessionOptions options;
  options.precision = Precision::kInt8;
  options.calibration = &table;
  auto int8 = CreateSessionFromGraph(g, options);
  options.quantization.exclude_first_conv = true;
  auto excluded = CreateSessionFromGraph(g, options);
  ASSERT_TRUE(int8.ok() && excluded.ok());
  const Tensor want = (*(*fp32)->Run(input))[0];
  const float scale = MaxAbs(want);
  EXPECT_GT(MaxAbsDiff((*(*int8)->Run(input))[0], want), 1e-3f * scale);
  EXPECT_LE(MaxAbsDiff((*(*excluded)->Run(input))[0], want), 1e-6f * scale);
}

TEST(RuntimeInt8Test, SignedActivationTypeKeepsEveryActivationS8) {
  std::mt19937 rng(43);
  const Graph g = testing::TinyResNet(21);
  const Tensor input = RandomTensor({4, 3, 16, 16}, rng, 0.0f, 1.0f);
  const Values fp32 = RunAndObserve(g, input, {});
  const CalibrationTable table = RangesOf(fp32);
  for (const ActivationType type : {ActivationType::kAuto, ActivationType::kInt8}) {
    PlanOptions options;
    options.int8 = true;
    options.calibration = &table;
    options.quantization.activation_type = type;
    absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, input.shape, options);
    ASSERT_TRUE(plan.ok()) << plan.status();
    int u8 = 0, s8 = 0;
    for (const PlanBuffer& buffer : (*plan)->buffers) {
      u8 += buffer.desc.data_type() == dnnl::memory::data_type::u8;
      s8 += buffer.desc.data_type() == dnnl::memory::data_type::s8 && !buffer.constant;
    }
    if (type == ActivationType::kInt8) {
      EXPECT_EQ(u8, 0);
      EXPECT_GT(s8, 0);
      const Values int8 = RunAndObserve(g, input, options);
      EXPECT_LE(MaxAbsDiff(int8.at("logits"), fp32.at("logits")),
                6.0f * MaxAbs(fp32.at("logits")) / 127.0f);
    } else {
      EXPECT_GT(u8, 0);  // after ReLU
    }
  }
}

}  // namespace
}  // namespace quantd::engine
