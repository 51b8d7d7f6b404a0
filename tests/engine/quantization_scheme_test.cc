// QuantizationOptions as the runtime reads them: validation messages name the
// field, grids and weight scales follow the options, exclusions resolve to
// the right nodes.

#include "engine/runtime/quantization_scheme.h"

#include <map>
#include <random>
#include <set>
#include <string>

#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/session_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

void ExpectInvalid(const QuantizationOptions& options, const std::string& field) {
  const absl::Status status = ValidateQuantizationOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field << ": " << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("quantization." + field + " "));
}

TEST(QuantizationSchemeTest, DefaultsAreValidAndReal) {
  const QuantizationOptions options;
  EXPECT_TRUE(ValidateQuantizationOptions(options).ok());
  EXPECT_FALSE(options.simulated());
}

TEST(QuantizationSchemeTest, InvalidOptionsNameTheField) {
  QuantizationOptions o;
  o.weight_bits = 1;
  ExpectInvalid(o, "weight_bits");
  o.weight_bits = 9;
  ExpectInvalid(o, "weight_bits");
  o = {};
  o.activation_bits = 0;
  ExpectInvalid(o, "activation_bits");
  o = {};
  o.weight_granularity = WeightGranularity::kPerGroup;
  ExpectInvalid(o, "group_size");  // 0
  o.group_size = -2;
  ExpectInvalid(o, "group_size");
  o = {};
  o.simulate = true;
  o.symmetric_activations = false;
  o.activation_type = ActivationType::kInt8;
  ExpectInvalid(o, "activation_type");
  o = {};
  o.exclude_op_types = {"Relu"};
  ExpectInvalid(o, "exclude_op_types");
}

TEST(QuantizationSchemeTest, ZeroPointsOnlyInSimulatedSessions) {
  QuantizationOptions o;
  o.symmetric_activations = false;
  ExpectInvalid(o, "symmetric_activations");
  o.simulate = true;
  EXPECT_TRUE(ValidateQuantizationOptions(o).ok());
  o.simulate = false;
  o.activation_bits = 6;
  EXPECT_TRUE(ValidateQuantizationOptions(o).ok());
  QuantizationOptions u8;
  u8.activation_type = ActivationType::kUint8;
  ExpectInvalid(u8, "activation_type");
  u8.weight_bits = 4;
  EXPECT_TRUE(ValidateQuantizationOptions(u8).ok());
}

TEST(QuantizationSchemeTest, UnknownExcludedNodeIsRejectedBySession) {
  const Graph g = testing::TinyResNet(3);
  QuantizationOptions o;
  o.exclude_nodes = {"c2", "no_such_conv"};
  const absl::Status status = ValidateQuantizationOptions(o, g);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("quantization.exclude_nodes"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("no_such_conv"));

  CalibrationTable table;
  SessionOptions session;
  session.precision = Precision::kInt8;
  session.calibration = &table;
  session.quantization = o;
  const auto created = CreateSessionFromGraph(g, session);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("quantization.exclude_nodes"));
  session.quantization = {};
  session.quantization.weight_bits = 12;
  const auto bad_bits = CreateSessionFromGraph(g, session);
  EXPECT_EQ(bad_bits.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_bits.status().message()), HasSubstr("quantization.weight_bits"));
}

TEST(QuantizationSchemeTest, ExclusionsResolveToNodes) {
  const Graph g = testing::TinyResNet(3);
  QuantizationOptions o;
  EXPECT_TRUE(ExcludedNodes(g, o).empty());
  o.exclude_first_conv = true;
  o.exclude_last_fc = true;
  EXPECT_EQ(ExcludedNodes(g, o), (std::set<std::string>{"c1", "fc"}));
  o = {};
  o.exclude_op_types = {"MaxPool"};
  o.exclude_nodes = {"c3"};
  EXPECT_EQ(ExcludedNodes(g, o), (std::set<std::string>{"c3", "mp"}));
}

TEST(QuantizationSchemeTest, DefaultGridIsTheInt8RuntimesRule) {
  for (const TensorRange range : {TensorRange{0.0f, 6.0f}, TensorRange{-0.5f, 2.0f},
                                  TensorRange{-3.0f, -1.0f}, TensorRange{0.0f, 0.0f}}) {
    const ActivationGrid grid = ActivationGridForRange(range, {});
    const QuantParams q = QuantParamsForGrid(grid);
    EXPECT_EQ(grid.zero_point, 0);
    EXPECT_EQ(q.type, range.min >= 0.0f ? dnnl::memory::data_type::u8
                                         : dnnl::memory::data_type::s8);
  }
  EXPECT_EQ(ActivationGridForRange({0.0f, 6.0f}, {}).scale, 255.0f / 6.0f);
  EXPECT_EQ(ActivationGridForRange({-0.5f, 2.0f}, {}).scale, 127.0f / 2.0f);
  EXPECT_EQ(QuantParamsForRange({-0.5f, 2.0f}).scale, 127.0f / 2.0f);
}

TEST(QuantizationSchemeTest, GridsFollowBitsTypeAndSymmetry) {
  QuantizationOptions four;
  four.activation_bits = 4;
  ActivationGrid g = ActivationGridForRange({0.0f, 3.0f}, four);
  EXPECT_EQ(g.scale, 15.0f / 3.0f);
  EXPECT_EQ(g.qmin, 0);
  EXPECT_EQ(g.qmax, 15);
  g = ActivationGridForRange({-1.0f, 2.0f}, four);
  EXPECT_EQ(g.scale, 7.0f / 2.0f);
  EXPECT_EQ(g.qmin, -7);
  EXPECT_EQ(g.qmax, 7);

  QuantizationOptions s8;
  s8.activation_type = ActivationType::kInt8;
  g = ActivationGridForRange({0.0f, 2.0f}, s8);
  EXPECT_TRUE(g.is_signed());
  EXPECT_EQ(g.scale, 127.0f / 2.0f);

  QuantizationOptions u8;
  u8.activation_type = ActivationType::kUint8;
  g = ActivationGridForRange({-2.0f, 1.0f}, u8);
  EXPECT_FALSE(g.is_signed());
  EXPECT_EQ(g.zero_point, 128);
  EXPECT_EQ(g.scale, 127.0f / 2.0f);

  QuantizationOptions asymmetric;
  asymmetric.symmetric_activations = false;
  g = ActivationGridForRange({-1.0f, 3.0f}, asymmetric);
  EXPECT_EQ(g.scale, 255.0f / 4.0f);
  EXPECT_EQ(g.zero_point, 64);  // round(1 * 63.75)
  EXPECT_EQ(g.qmin, 0);
  EXPECT_EQ(g.qmax, 255);
  g = ActivationGridForRange({0.5f, 3.0f}, asymmetric);  // the grid always holds 0
  EXPECT_EQ(g.zero_point, 0);
  EXPECT_EQ(g.scale, 255.0f / 3.0f);
}

// Six output channels of two weights each, with maxima 1, 2, ..., 6.
std::vector<float> GrowingChannels() {
  std::vector<float> w;
  for (int oc = 1; oc <= 6; ++oc) {
    w.push_back(0.5f * oc);
    w.push_back(-1.0f * oc);
  }
  return w;
}

TEST(QuantizationSchemeTest, WeightScalesPerGranularity) {
  const std::vector<float> w = GrowingChannels();
  QuantizationOptions o;
  std::vector<float> scales = WeightScales(w, 6, o);
  for (int oc = 0; oc < 6; ++oc) EXPECT_EQ(scales[oc], 127.0f / (oc + 1)) << oc;

  o.weight_granularity = WeightGranularity::kPerTensor;
  scales = WeightScales(w, 6, o);
  for (float s : scales) EXPECT_EQ(s, 127.0f / 6.0f);

  o.weight_granularity = WeightGranularity::kPerGroup;
  o.group_size = 4;  // groups {0..3}, {4, 5}
  scales = WeightScales(w, 6, o);
  for (int oc = 0; oc < 4; ++oc) EXPECT_EQ(scales[oc], 127.0f / 4.0f) << oc;
  for (int oc = 4; oc < 6; ++oc) EXPECT_EQ(scales[oc], 127.0f / 6.0f) << oc;

  o = {};
  o.weight_bits = 4;
  scales = WeightScales(w, 6, o);
  EXPECT_EQ(scales[2], 7.0f / 3.0f);
}

TEST(QuantizationSchemeTest, FakeQuantizedWeightsLieOnTheGrid) {
  std::mt19937 rng(5);
  std::vector<float> w = testing::RandomFloats(4 * 50, rng);
  const std::vector<float> original = w;
  QuantizationOptions o;
  o.weight_bits = 3;  // levels -3..3
  const std::vector<float> scales = WeightScales(w, 4, o);
  FakeQuantizeWeights(w, scales, 3);
  for (int oc = 0; oc < 4; ++oc) {
    std::set<float> levels;
    for (int i = 0; i < 50; ++i) {
      const float q = w[oc * 50 + i] * scales[oc];
      EXPECT_NEAR(q, std::nearbyint(q), 1e-4f);
      EXPECT_LE(std::fabs(q), 3.0f + 1e-4f);
      EXPECT_LE(std::fabs(w[oc * 50 + i] - original[oc * 50 + i]), 0.5f / scales[oc] + 1e-6f);
      levels.insert(std::nearbyint(q));
    }
    EXPECT_GT(levels.size(), 4u);  // really several levels, not collapsed
  }
}

TEST(QuantizationSchemeTest, MseClippingLowersFourBitWeightError) {
  // One outlier per channel: max|w| scaling leaves the rest on few levels.
  std::mt19937 rng(6);
  std::vector<float> w = testing::RandomFloats(2 * 64, rng, -0.1f, 0.1f);
  w[0] = 1.0f;
  w[64] = -0.8f;
  QuantizationOptions o;
  o.weight_bits = 4;
  std::map<WeightClipping, double> error;
  for (const WeightClipping clipping : {WeightClipping::kMaxAbs, WeightClipping::kMse}) {
    o.weight_clipping = clipping;
    std::vector<float> q = w;
    const std::vector<float> scales = WeightScales(q, 2, o);
    FakeQuantizeWeights(q, scales, 4);
    for (size_t i = 0; i < w.size(); ++i) error[clipping] += (q[i] - w[i]) * (q[i] - w[i]);
  }
  EXPECT_LT(error[WeightClipping::kMse], 0.95 * error[WeightClipping::kMaxAbs]);
  o.weight_clipping = WeightClipping::kMse;
  EXPECT_GT(WeightScales(w, 2, o)[0], 7.0f / 1.0f);  // clipped below the outlier
}

}  // namespace
}  // namespace quantd::engine
