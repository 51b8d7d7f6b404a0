// Simulated (fake-quantized) sessions: fp32 Plans whose weights and quantized
// activations are rounded to the chosen bit width. Checked against a plain
// reference that fake-quantizes by hand, against fp32 and against real int8.

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "engine/runtime/execution_context.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/runtime/session_factory.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::GraphBuilder;
using testing::RandomTensor;
using Ints = std::vector<int64_t>;
using testing::Values;

using testing::MaxAbs;
using testing::MaxAbsDiff;
using testing::RangesOf;
using testing::RunAndObserve;

Tensor FakeQuantize(Tensor t, const ActivationGrid& grid) {
  for (float& v : t.data) {
    const float q = std::clamp(std::nearbyint(v * grid.scale) + grid.zero_point,
                               static_cast<float>(grid.qmin), static_cast<float>(grid.qmax));
    v = (q - grid.zero_point) / grid.scale;
  }
  return t;
}

Constant FakeQuantized(const Constant& w, const QuantizationOptions& options) {
  Constant q = w;
  FakeQuantizeWeights(q.floats, WeightScales(q.floats, q.dims[0], options), options.weight_bits);
  return q;
}

// c1 (with ReLU) feeds c2; a1 is a quantized activation, y a graph output.
Graph TwoConvs(std::mt19937& rng) {
  PostOp relu;
  return GraphBuilder({2, 4, 8, 8})
      .Const("w1", {8, 4, 3, 3}, rng, -0.5f, 0.5f)
      .Const("b1", {8}, rng, -0.2f, 0.2f)
      .Const("w2", {4, 8, 3, 3}, rng, -0.3f, 0.3f)
      .Const("b2", {4}, rng, -0.2f, 0.2f)
      .Op("Conv", "c1", {"x", "w1", "b1"}, "a1", {{"pads", Ints{1, 1, 1, 1}}}, {relu})
      .Op("Conv", "c2", {"a1", "w2", "b2"}, "y", {{"pads", Ints{1, 1, 1, 1}}})
      .Output("y")
      .Build();
}

TEST(RuntimeSimulatedQuantizationTest, FourBitPlanMatchesHandFakeQuantizedReference) {
  std::mt19937 rng(51);
  const Graph g = TwoConvs(rng);
  const Tensor input = RandomTensor({2, 4, 8, 8}, rng);
  const CalibrationTable table = RangesOf(RunAndObserve(g, input, {}));
  PlanOptions options;
  options.simulated = true;
  options.calibration = &table;
  options.quantization.weight_bits = 4;
  options.quantization.activation_bits = 4;
  const QuantizationOptions& q = options.quantization;
  const Values simulated = RunAndObserve(g, input, options);

  // a1 = fq(relu(conv(fq(x), fq(w1)) + b1)), on a 4-bit unsigned grid.
  const Node& c1 = g.nodes[0];
  const Node& c2 = g.nodes[1];
  const ActivationGrid x_grid = ActivationGridForRange(table.ranges.at("x"), q);
  const ActivationGrid a1_grid = ActivationGridForRange(table.ranges.at("a1"), q);
  ASSERT_EQ(a1_grid.qmax, 15);
  Tensor a1 = testing::reference::Conv(c1, FakeQuantize(input, x_grid),
                                       FakeQuantized(g.constants.at("w1"), q),
                                       &g.constants.at("b1"));
  for (float& v : a1.data) v = std::max(v, 0.0f);
  a1 = FakeQuantize(a1, a1_grid);
  const Tensor& got_a1 = simulated.at("a1");
  ASSERT_EQ(got_a1.shape, a1.shape);
  int off_grid = 0, flipped = 0;
  for (size_t i = 0; i < a1.data.size(); ++i) {
    const float level = got_a1.data[i] * a1_grid.scale;
    off_grid += std::fabs(level - std::nearbyint(level)) > 1e-3f;
    // A value within float noise of a rounding boundary may round either way.
    const float diff = std::fabs(got_a1.data[i] - a1.data[i]) * a1_grid.scale;
    flipped += diff > 1e-3f;
    EXPECT_LE(diff, 1.0f + 1e-3f) << i;
  }
  EXPECT_EQ(off_grid, 0);
  EXPECT_LE(flipped, static_cast<int>(a1.data.size() / 100));

  // y = conv(a1, fq(w2)) + b2 with the Plan's own a1 (a graph output: not
  // rounded).
  const Tensor y = testing::reference::Conv(c2, got_a1, FakeQuantized(g.constants.at("w2"), q),
                                            &g.constants.at("b2"));
  const Tensor& got_y = simulated.at("y");
  for (size_t i = 0; i < y.data.size(); ++i) {
    ASSERT_NEAR(got_y.data[i], y.data[i], 1e-4f * (1.0f + std::fabs(y.data[i]))) << i;
  }
}

struct Sessions {
  CalibrationTable table;
  Tensor input;
  std::map<std::string, Tensor> logits;
};

// TinyResNet logits from fp32, real int8 and simulated sessions.
Sessions RunTinyResNet(const std::map<std::string, SessionOptions>& configs) {
  std::mt19937 rng(52);
  const Graph g = testing::TinyResNet(21);
  Sessions s;
  s.input = RandomTensor({8, 3, 16, 16}, rng, 0.0f, 1.0f);
  s.table = RangesOf(RunAndObserve(g, s.input, {}));
  for (auto [name, options] : configs) {
    options.calibration = &s.table;
    auto session = CreateSessionFromGraph(g, options);
    EXPECT_TRUE(session.ok()) << name << ": " << session.status();
    if (!session.ok()) continue;
    const bool want_simulated = name.rfind("sim", 0) == 0;
    EXPECT_EQ((*session)->simulated(), want_simulated) << name;
    auto out = (*session)->Run(s.input);
    EXPECT_TRUE(out.ok()) << out.status();
    if (out.ok()) s.logits[name] = (*out)[0];
  }
  return s;
}

SessionOptions Quantized(int weight_bits, int activation_bits, bool simulate) {
  SessionOptions options;
  options.precision = Precision::kInt8;
  options.quantization.weight_bits = weight_bits;
  options.quantization.activation_bits = activation_bits;
  options.quantization.simulate = simulate;
  return options;
}

TEST(RuntimeSimulatedQuantizationTest, FourBitsDriftFurtherThanEightAndEightMatchesInt8) {
  const Sessions s = RunTinyResNet({{"fp32", SessionOptions{}},
                                    {"int8", Quantized(8, 8, false)},
                                    {"sim8", Quantized(8, 8, true)},
                                    {"sim4", Quantized(4, 4, false)}});
  ASSERT_EQ(s.logits.size(), 4u);
  const Tensor& fp32 = s.logits.at("fp32");
  const float step = MaxAbs(fp32) / 127.0f;
  const float err8 = MaxAbsDiff(s.logits.at("sim8"), fp32);
  const float err4 = MaxAbsDiff(s.logits.at("sim4"), fp32);
  const float sim_vs_real = MaxAbsDiff(s.logits.at("sim8"), s.logits.at("int8"));
  std::printf("  max|logits| %.4f  sim8 err %.5f  sim4 err %.5f  sim8 vs int8 %.5f\n",
              MaxAbs(fp32), err8, err4, sim_vs_real);
  EXPECT_GT(err8, 0.0f);  // it really fake-quantizes
  EXPECT_GT(err4, 4.0f * err8);
  EXPECT_LE(err8, 6.0f * step);
  EXPECT_LE(sim_vs_real, 3.0f * step);
}

TEST(RuntimeSimulatedQuantizationTest, ExcludedConvStaysUnquantized) {
  std::mt19937 rng(53);
  const Graph g = GraphBuilder({1, 4, 8, 8})
                      .Const("w", {8, 4, 3, 3}, rng)
                      .Op("Conv", "only", {"x", "w"}, "y")
                      .Output("y")
                      .Build();
  const Tensor input = RandomTensor({1, 4, 8, 8}, rng);
  const CalibrationTable table = RangesOf(RunAndObserve(g, input, {}));
  const Tensor want = RunAndObserve(g, input, {}).at("y");
  SessionOptions options = Quantized(4, 4, false);
  options.calibration = &table;
  auto quantized = CreateSessionFromGraph(g, options);
  options.quantization.exclude_nodes = {"only"};
  auto excluded = CreateSessionFromGraph(g, options);
  ASSERT_TRUE(quantized.ok() && excluded.ok());
  EXPECT_TRUE((*excluded)->simulated());
  EXPECT_GT(MaxAbsDiff((*(*quantized)->Run(input))[0], want), 1e-2f * MaxAbs(want));
  EXPECT_LE(MaxAbsDiff((*(*excluded)->Run(input))[0], want), 1e-6f * MaxAbs(want));
}

TEST(RuntimeSimulatedQuantizationTest, AsymmetricGridFitsAShiftedRangeBetter) {
  std::mt19937 rng(54);
  const Graph g = GraphBuilder({2, 8, 6, 6})
                      .Const("w", {8, 8, 1, 1}, rng)
                      .Op("Conv", "pointwise", {"x", "w"}, "y")
                      .Output("y")
                      .Build();
  // Mostly positive input: a symmetric signed grid wastes half its levels.
  const Tensor input = RandomTensor({2, 8, 6, 6}, rng, -0.1f, 1.0f);
  const CalibrationTable table = RangesOf(RunAndObserve(g, input, {}));
  const Tensor want = RunAndObserve(g, input, {}).at("y");
  std::map<bool, float> error;
  for (const bool symmetric : {true, false}) {
    PlanOptions options;
    options.simulated = true;
    options.calibration = &table;
    options.quantization.activation_bits = 4;
    options.quantization.symmetric_activations = symmetric;
    error[symmetric] = MaxAbsDiff(RunAndObserve(g, input, options).at("y"), want);
  }
  EXPECT_LT(error[false], 0.75f * error[true]) << error[false] << " vs " << error[true];
}

}  // namespace
}  // namespace quantd::engine
