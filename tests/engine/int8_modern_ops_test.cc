// int8 Plans through the ops modern CNNs are made of (MobileNetV3,
// EfficientNet, RegNet, DenseNet, GoogLeNet): non-linear activations fused
// into int8 destinations, the squeeze-and-excitation Mul, element-wise
// binaries, Concat, Resize and a BatchNormalization after a Concat. Each is
// checked against the naive reference interpreter (runtime_reference.h), with
// an error bound derived from the quantization steps on the way (the same
// reasoning as runtime_int8_test.cc), and through the Plan's coverage report
// that it really ran int8 without reorders at its borders.

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::ConvErrorBound;
using testing::GraphBuilder;
using testing::MaxAbs;
using testing::MaxAbsDiff;
using testing::RandomTensor;
using testing::RangesOf;
using testing::RunAndObserve;
using testing::Values;
using Ints = std::vector<int64_t>;

struct Int8Result {
  std::map<std::string, Tensor> reference;  // every value, naive fp32 interpreter
  Values int8;                              // every value of the int8 Plan, dequantized
  CalibrationTable table;
  Int8Coverage coverage;
  std::shared_ptr<const Plan> plan;
};

// Calibrates on `input` (exact min/max of every value of an fp32 Plan), then
// runs the int8 Plan on the same input.
Int8Result RunInt8(const Graph& graph, const Tensor& input) {
  Int8Result result;
  result.reference = testing::reference::RunAll(graph, input);
  result.table = RangesOf(RunAndObserve(graph, input, {}));
  PlanOptions options;
  options.int8 = true;
  options.calibration = &result.table;
  result.int8 = RunAndObserve(graph, input, options);
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(graph, input.shape, options);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (plan.ok()) {
    result.coverage = (*plan)->coverage;
    result.plan = *plan;
  }
  return result;
}

// Reorders from one int8 buffer into another of the same type and scale:
// copies that only change where the bytes lie.
int Int8Relayouts(const Plan& plan) {
  int relayouts = 0;
  for (const PlanStep& step : plan.steps) {
    if (!step.IsReorder() || step.reorder_scale != 1.0f) continue;
    const dnnl::memory::data_type from = plan.buffers[step.args.at(DNNL_ARG_FROM)].desc.data_type();
    const dnnl::memory::data_type to = plan.buffers[step.args.at(DNNL_ARG_TO)].desc.data_type();
    if (from == to &&
        (from == dnnl::memory::data_type::u8 || from == dnnl::memory::data_type::s8)) {
      ++relayouts;
    }
  }
  return relayouts;
}

// The quantization step of a value on its calibrated grid (the default
// symmetric u8/s8 one).
float Step(const CalibrationTable& table, const std::string& name) {
  return 1.0f / QuantParamsForRange(table.ranges.at(name)).scale;
}

const NodeExecution& Execution(const Int8Coverage& coverage, const std::string& node) {
  for (const NodeExecution& execution : coverage.nodes) {
    if (execution.node == node) return execution;
  }
  ADD_FAILURE() << "no execution recorded for node " << node;
  static const NodeExecution kNone;
  return kNone;
}

void ExpectInt8(const Int8Coverage& coverage, const std::vector<std::string>& nodes) {
  for (const std::string& node : nodes) {
    const NodeExecution& execution = Execution(coverage, node);
    EXPECT_TRUE(execution.int8) << node << ": " << execution.fp32_reason;
  }
}

// The oneDNN implementations behind a Plan's steps whose name starts "ref"
// (reference kernels: correct, but tens of times slower than the jit ones).
std::vector<std::string> ReferenceKernels(const Plan& plan) {
  std::vector<std::string> found;
  for (const PlanStep& step : plan.steps) {
    if (!step.primitive) continue;
    const char* impl = nullptr;
    dnnl_primitive_desc_query(step.primitive.get_primitive_desc(), dnnl_query_impl_info_str, 0,
                              &impl);
    if (impl != nullptr && std::string(impl).rfind("ref", 0) == 0) {
      found.push_back(step.node + ": " + impl);
    }
  }
  return found;
}

float MaxAbsDiffToReference(const Int8Result& r, const std::string& value) {
  return MaxAbsDiff(r.int8.at(value), r.reference.at(value));
}

struct ActivationCase {
  std::string name;
  PostOp op;
  float lipschitz;  // max |f'(x)|: how much an input error can grow
};

void PrintTo(const ActivationCase& activation, std::ostream* os) { *os << activation.name; }

std::vector<ActivationCase> Activations() {
  auto make = [](PostOp::Kind kind, float alpha = 0.0f, float beta = 0.0f) {
    PostOp op;
    op.kind = kind;
    op.alpha = alpha;
    op.beta = beta;
    return op;
  };
  return {{"HardSwish", make(PostOp::Kind::kHardSwish), 1.5f},
          {"HardSigmoidMobileNetV3", make(PostOp::Kind::kHardSigmoid, 1.0f / 6.0f, 0.5f), 1.0f / 6},
          {"HardSigmoidOnnxDefault", make(PostOp::Kind::kHardSigmoid, 0.2f, 0.5f), 0.2f},
          {"Sigmoid", make(PostOp::Kind::kSigmoid), 0.25f},
          {"Swish", make(PostOp::Kind::kSwish), 1.1f},
          {"Tanh", make(PostOp::Kind::kTanh), 1.0f}};
}

class NonLinearActivationTest : public ::testing::TestWithParam<ActivationCase> {};

// conv + activation writes u8/s8 for the next conv: the activation runs on
// real values inside the convolution and a last post-op scales into the
// destination's grid (oneDNN would otherwise apply it to x * scale).
TEST_P(NonLinearActivationTest, FusesIntoAnInt8Destination) {
  const ActivationCase& activation = GetParam();
  std::mt19937 rng(41);
  const Graph g =
      GraphBuilder({2, 8, 6, 6})
          .Const("w1", {16, 8, 3, 3}, rng, -0.5f, 0.5f)
          .Const("b1", {16}, rng, -1.0f, 1.0f)
          .Const("w2", {8, 16, 1, 1}, rng, -0.5f, 0.5f)
          .Op("Conv", "c1", {"x", "w1", "b1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {activation.op})
          .Op("Conv", "c2", {"a", "w2"}, "y")
          .Output("y")
          .Build();
  const Int8Result r = RunInt8(g, RandomTensor({2, 8, 6, 6}, rng));
  ExpectInt8(r.coverage, {"c1", "c2"});
  // Only the graph input is quantized by a reorder; c2 writes f32 itself.
  EXPECT_EQ(r.coverage.boundaries.quantize, 1);
  EXPECT_EQ(r.coverage.boundaries.dequantize, 0);
  EXPECT_EQ(r.coverage.boundaries.requantize, 0);

  const float a_bound =
      activation.lipschitz * ConvErrorBound(g.constants.at("w1"), Step(r.table, "x"), 1.0f) +
      0.5f * Step(r.table, "a") + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "a"), a_bound);
  const float y_bound = ConvErrorBound(g.constants.at("w2"), Step(r.table, "a") + 2 * a_bound,
                                       MaxAbs(r.reference.at("a")));
  EXPECT_LE(MaxAbsDiffToReference(r, "y"), y_bound);
}

INSTANTIATE_TEST_SUITE_P(Activations, NonLinearActivationTest, ::testing::ValuesIn(Activations()),
                         [](const auto& info) { return info.param.name; });

// MobileNetV3's squeeze-and-excitation: the block's input x (u8) is averaged,
// two 1x1 convolutions make a per-channel gate (f32, HardSigmoid), and the
// Mul scales the u8 tensor by it straight into the next conv's s8 input.
TEST(Int8ModernOpsTest, SqueezeExcitationMulRunsInt8) {
  std::mt19937 rng(42);
  PostOp relu, gate;
  gate.kind = PostOp::Kind::kHardSigmoid;
  gate.alpha = 1.0f / 6.0f;
  gate.beta = 0.5f;
  const Graph g =
      GraphBuilder({2, 4, 8, 8})
          .Const("w0", {16, 4, 3, 3}, rng, -0.5f, 0.5f)
          .Const("b0", {16}, rng, 0.0f, 0.5f)
          .Const("ws1", {4, 16, 1, 1}, rng, -1.0f, 1.0f)
          .Const("ws2", {16, 4, 1, 1}, rng, -1.0f, 1.0f)
          .Const("bs2", {16}, rng, -1.0f, 1.0f)
          .Const("w3", {8, 16, 1, 1}, rng, -0.5f, 0.5f)
          .Op("Conv", "c0", {"x", "w0", "b0"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
          .Op("GlobalAveragePool", "gap", {"a"}, "p")
          .Op("Conv", "se1", {"p", "ws1"}, "s", {}, {relu})
          .Op("Conv", "se2", {"s", "ws2", "bs2"}, "gate", {}, {gate})
          .Op("Mul", "excite", {"a", "gate"}, "m")
          .Op("Conv", "c3", {"m", "w3"}, "y")
          .Output("y")
          .Build();
  const Int8Result r = RunInt8(g, RandomTensor({2, 4, 8, 8}, rng));
  ExpectInt8(r.coverage, {"c0", "gap", "se1", "se2", "excite", "c3"});
  EXPECT_EQ(r.coverage.boundaries.quantize, 1);
  EXPECT_EQ(r.coverage.boundaries.dequantize, 0);
  EXPECT_EQ(r.coverage.boundaries.requantize, 0);
  EXPECT_DOUBLE_EQ(r.coverage.mac_share(), 1.0);

  // a: conv error plus its own rounding; p: the average of a (error at most
  // a's) plus a rounding onto a's grid; s, gate: conv errors of their inputs
  // (HardSigmoid shrinks by 1/6); m = a * gate plus its rounding.
  const float step_a = Step(r.table, "a");
  const float a_bound =
      ConvErrorBound(g.constants.at("w0"), Step(r.table, "x"), 1.0f) + 0.5f * step_a + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "a"), a_bound);
  const float p_bound = a_bound + 0.5f * step_a;
  EXPECT_LE(MaxAbsDiffToReference(r, "p"), p_bound);
  const float s_bound = ConvErrorBound(g.constants.at("ws1"), Step(r.table, "p") + 2 * p_bound,
                                       MaxAbs(r.reference.at("p"))) +
                        0.5f * Step(r.table, "s");
  const float gate_bound = ConvErrorBound(g.constants.at("ws2"), Step(r.table, "s") + 2 * s_bound,
                                          MaxAbs(r.reference.at("s"))) /
                           6.0f;
  EXPECT_LE(MaxAbsDiffToReference(r, "gate"), gate_bound + 1e-6f);
  const float m_bound = a_bound * MaxAbs(r.reference.at("gate")) +
                        MaxAbs(r.reference.at("a")) * gate_bound + 0.5f * Step(r.table, "m") +
                        1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "m"), m_bound);
}

// An Add of two int8 tensors that no convolution could absorb (both addends
// come from pools), with a fused ReLU: oneDNN binary with a scale per source.
TEST(Int8ModernOpsTest, UnfusedAddOfTwoInt8TensorsRunsInt8) {
  std::mt19937 rng(43);
  PostOp relu;
  const Graph g = GraphBuilder({2, 4, 8, 8})
                      .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
                      .Const("w2", {8, 4, 1, 1}, rng, -1.0f, 1.0f)
                      .Const("w3", {4, 8, 1, 1}, rng, -0.5f, 0.5f)
                      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
                      .Op("Conv", "c2", {"x", "w2"}, "b")
                      .Op("MaxPool", "pa", {"a"}, "pa_out",
                          {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}})
                      .Op("MaxPool", "pb", {"b"}, "pb_out",
                          {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}})
                      .Op("Add", "add", {"pa_out", "pb_out"}, "s", {}, {relu})
                      .Op("Conv", "c3", {"s", "w3"}, "y")
                      .Output("y")
                      .Build();
  const Int8Result r = RunInt8(g, RandomTensor({2, 4, 8, 8}, rng));
  ExpectInt8(r.coverage, {"c1", "c2", "pa", "pb", "add", "c3"});
  EXPECT_EQ(r.coverage.boundaries.quantize, 1);
  EXPECT_EQ(r.coverage.boundaries.dequantize + r.coverage.boundaries.requantize, 0);
  // A max keeps its input's error; the sum adds both and rounds once.
  const float a_bound =
      ConvErrorBound(g.constants.at("w1"), Step(r.table, "x"), 1.0f) + 0.5f * Step(r.table, "a");
  const float b_bound =
      ConvErrorBound(g.constants.at("w2"), Step(r.table, "x"), 1.0f) + 0.5f * Step(r.table, "b");
  EXPECT_LE(MaxAbsDiffToReference(r, "s"), a_bound + b_bound + 0.5f * Step(r.table, "s") + 1e-6f);
}

// A transformer block's int8 linear layer adds into the f32 residual stream,
// and attention divides its int8 output by a constant. oneDNN's jit binary
// needs the first source in the destination's type; any other mix ran its
// reference kernel, 5 ms per Add on ViT-B (70% of the model's time).
TEST(Int8ModernOpsTest, Int8IntoFloatBinariesRunJitKernels) {
  std::mt19937 rng(48);
  const Graph g = GraphBuilder({2, 5, 8})
                      .Const("w", {8, 8}, rng, -0.5f, 0.5f)
                      .Floats("eight", {}, {8.0f})
                      .Op("MatMul", "fc", {"x", "w"}, "h")
                      .Op("Add", "residual", {"h", "x"}, "s")
                      .Op("Div", "scaled", {"h", "eight"}, "d")
                      .Output("s")
                      .Output("d")
                      .Build();
  const Int8Result r = RunInt8(g, RandomTensor({2, 5, 8}, rng));
  ASSERT_NE(r.plan, nullptr);
  ExpectInt8(r.coverage, {"fc"});
  EXPECT_EQ(ReferenceKernels(*r.plan), std::vector<std::string>{});
  // h's error: x's rounding through the weights, w's rounding, h's rounding.
  float w_max_abs = 0.0f;
  for (float v : g.constants.at("w").floats) w_max_abs = std::max(w_max_abs, std::fabs(v));
  const float h_bound = 0.5f * Step(r.table, "x") * 8 * w_max_abs +
                        0.5f * (w_max_abs / 127.0f) * 8 * MaxAbs(r.reference.at("x")) +
                        0.5f * Step(r.table, "h") + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "s"), h_bound);
  EXPECT_LE(MaxAbsDiffToReference(r, "d"), h_bound / 8.0f);
}

// GoogLeNet: branches concatenated along channels. Every input is written on
// the concat's grid by its producer, so the concat copies bytes.
TEST(Int8ModernOpsTest, ConcatInputsShareOneGrid) {
  std::mt19937 rng(44);
  PostOp relu;
  const Graph g = GraphBuilder({2, 4, 8, 8})
                      .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
                      .Const("w2", {4, 4, 1, 1}, rng, -2.0f, 2.0f)
                      .Const("w3", {6, 12, 1, 1}, rng, -0.5f, 0.5f)
                      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
                      .Op("Conv", "c2", {"x", "w2"}, "b", {}, {relu})
                      .Op("Concat", "cat", {"a", "b"}, "ab", {{"axis", int64_t{1}}})
                      .Op("Conv", "c3", {"ab", "w3"}, "y")
                      .Output("y")
                      .Build();
  const Int8Result r = RunInt8(g, RandomTensor({2, 4, 8, 8}, rng));
  ExpectInt8(r.coverage, {"c1", "c2", "cat", "c3"});
  EXPECT_EQ(r.coverage.boundaries.quantize, 1);
  EXPECT_EQ(r.coverage.boundaries.requantize, 0);
  // a and b are rounded on the concat's (wider) grid.
  const float step_ab = Step(r.table, "ab");
  EXPECT_GE(step_ab, std::max(Step(r.table, "a"), Step(r.table, "b")));
  const float ab_bound = std::max(ConvErrorBound(g.constants.at("w1"), Step(r.table, "x"), 1.0f),
                                  ConvErrorBound(g.constants.at("w2"), Step(r.table, "x"), 1.0f)) +
                         0.5f * step_ab + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "ab"), ab_bound);
}

// DenseNet: a BatchNormalization (+ReLU) on a concatenation runs as an int8
// 1x1 depthwise convolution.
TEST(Int8ModernOpsTest, BatchNormAfterConcatRunsInt8) {
  std::mt19937 rng(45);
  PostOp relu;
  const Graph g =
      GraphBuilder({1, 4, 6, 6})
          .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
          .Const("gamma", {12}, rng, 0.5f, 1.5f)
          .Const("beta", {12}, rng, -0.5f, 0.5f)
          .Const("mean", {12}, rng, -0.5f, 0.5f)
          .Const("var", {12}, rng, 0.5f, 2.0f)
          .Const("w2", {4, 12, 1, 1}, rng, -0.5f, 0.5f)
          .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
          .Op("Concat", "cat", {"x", "a"}, "xa", {{"axis", int64_t{1}}})
          .Op("BatchNormalization", "bn", {"xa", "gamma", "beta", "mean", "var"}, "n", {}, {relu})
          .Op("Conv", "c2", {"n", "w2"}, "y")
          .Output("y")
          .Build();
  const Int8Result r = RunInt8(g, RandomTensor({1, 4, 6, 6}, rng));
  ExpectInt8(r.coverage, {"c1", "cat", "bn", "c2"});
  // xa: x rounded on the shared grid, a with its conv error. n scales each
  // channel by gamma / sqrt(var + eps) <= 1.5 / sqrt(0.5) and rounds.
  const float step_xa = Step(r.table, "xa");
  const float xa_bound =
      ConvErrorBound(g.constants.at("w1"), Step(r.table, "x"), 1.0f) + 0.5f * step_xa + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "xa"), xa_bound);
  EXPECT_LE(MaxAbsDiffToReference(r, "n"),
            xa_bound * 1.5f / std::sqrt(0.5f) + 0.5f * Step(r.table, "n") + 1e-5f);
}

// Segmentation heads upsample int8 features: resampling keeps the input's
// grid, nearest exactly.
TEST(Int8ModernOpsTest, NearestResizeKeepsTheInputGrid) {
  std::mt19937 rng(46);
  PostOp relu;
  GraphBuilder builder({1, 4, 5, 5});
  builder.Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
      .Const("w2", {4, 8, 1, 1}, rng, -0.5f, 0.5f)
      .Floats("roi", {0}, {})
      .Floats("scales", {4}, {1.0f, 1.0f, 2.0f, 2.0f})
      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
      .Op("Resize", "up", {"a", "roi", "scales"}, "u",
          {{"mode", std::string("nearest")},
           {"coordinate_transformation_mode", std::string("asymmetric")},
           {"nearest_mode", std::string("floor")}})
      .Op("Conv", "c2", {"u", "w2"}, "y")
      .Output("y");
  const Graph g = builder.Build();
  const Int8Result r = RunInt8(g, RandomTensor({1, 4, 5, 5}, rng));
  ExpectInt8(r.coverage, {"c1", "up", "c2"});
  EXPECT_EQ(r.coverage.boundaries.requantize + r.coverage.boundaries.dequantize, 0);
  const float a_bound = ConvErrorBound(g.constants.at("w1"), Step(r.table, "x"), 1.0f) +
                        0.5f * Step(r.table, "a") + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "u"), a_bound);
}

// ShuffleNet: a channel shuffle is Reshape -> Transpose -> Reshape between
// int8 convolutions. The reshapes are views of int8 values and keep their
// grid, so the shuffle is one int8 copy and nothing is dequantized around it.
TEST(Int8ModernOpsTest, ChannelShuffleStaysInt8) {
  std::mt19937 rng(48);
  PostOp relu;
  const Graph g =
      GraphBuilder({1, 4, 6, 6})
          .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
          .Const("w2", {4, 8, 1, 1}, rng, -0.5f, 0.5f)
          .Ints("split_shape", {1, 2, 4, 6, 6})
          .Ints("merged_shape", {1, 8, 6, 6})
          .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
          .Op("Reshape", "split", {"a", "split_shape"}, "groups")
          .Op("Transpose", "shuffle", {"groups"}, "shuffled", {{"perm", Ints{0, 2, 1, 3, 4}}})
          .Op("Reshape", "merge", {"shuffled", "merged_shape"}, "m")
          .Op("Conv", "c2", {"m", "w2"}, "y")
          .Output("y")
          .Build();
  const Int8Result r = RunInt8(g, RandomTensor({1, 4, 6, 6}, rng));
  ExpectInt8(r.coverage, {"c1", "shuffle", "c2"});
  EXPECT_EQ(r.coverage.boundaries.quantize, 1);  // the model input only
  EXPECT_EQ(r.coverage.boundaries.dequantize, 0);
  EXPECT_EQ(r.coverage.boundaries.requantize, 0);
  // One copy: the shuffle itself, from channels-last to channels-last (the
  // reshapes are views of c1's and the shuffle's bytes).
  EXPECT_EQ(Int8Relayouts(*r.plan), 1);
  // The shuffle moves values; the error is c1's.
  const float a_bound = ConvErrorBound(g.constants.at("w1"), Step(r.table, "x"), 1.0f) +
                        0.5f * Step(r.table, "a") + 1e-6f;
  EXPECT_LE(MaxAbsDiffToReference(r, "m"), a_bound);
}

// The coverage report names the reason a node stays f32.
TEST(Int8ModernOpsTest, CoverageNamesWhyANodeStaysFp32) {
  std::mt19937 rng(47);
  const Graph g = GraphBuilder({1, 4, 6, 6})
                      .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
                      .Const("w2", {8, 8, 1, 1}, rng, -0.5f, 0.5f)
                      .Op("Conv", "c1", {"x", "w1"}, "a", {{"pads", Ints{1, 1, 1, 1}}})
                      .Op("Softmax", "soft", {"a"}, "s", {{"axis", int64_t{1}}})
                      .Op("Conv", "c2", {"s", "w2"}, "y")
                      .Output("y")
                      .Build();
  const Tensor input = RandomTensor({1, 4, 6, 6}, rng);
  CalibrationTable table = RangesOf(RunAndObserve(g, input, {}));
  table.ranges.erase("s");  // c2's input was never calibrated
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(g, input.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Int8Coverage& coverage = (*plan)->coverage;
  EXPECT_TRUE(Execution(coverage, "c1").int8);
  EXPECT_EQ(Execution(coverage, "soft").fp32_reason, "quantd has no int8 kernel for Softmax");
  EXPECT_EQ(Execution(coverage, "c2").fp32_reason, "input 's' has no calibrated range");
  // MACs: c1 36 outputs x 8 channels x (4 x 3 x 3), c2 36 x 8 x 8.
  EXPECT_EQ(Execution(coverage, "c1").macs, 36 * 8 * 36);
  EXPECT_EQ(Execution(coverage, "c2").macs, 36 * 8 * 8);
  EXPECT_EQ(coverage.int8_macs(), 36 * 8 * 36);
  EXPECT_EQ(coverage.boundaries.dequantize, 0);  // c1 writes f32 for the softmax
}

}  // namespace
}  // namespace quantd::engine
