// Costly activations of int8 layers by table lookup (table_activation.h,
// byte_table.h): the kernel against a plain loop, the table against the
// activation evaluated on each of the 256 inputs, and SiLU / Sigmoid / Tanh
// (and HardSwish) exported the way PyTorch writes them, fused by the standard pass and run
// int8, against the naive reference interpreter.

#include "engine/runtime/table_activation.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/passes/fuse_activations.h"
#include "engine/runtime/byte_table.h"
#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using dnnl::memory;
using testing::ConvErrorBound;
using testing::GraphBuilder;
using testing::MaxAbsDiff;
using testing::RandomTensor;
using testing::RangesOf;
using testing::RunAndObserve;
using Ints = std::vector<int64_t>;

ByteTable RandomTable(std::mt19937& rng) {
  ByteTable table;
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& entry : table.entries) entry = static_cast<uint8_t>(byte(rng));
  return table;
}

// Lengths around the 64-byte vector and the 64 KiB slice, every byte value.
TEST(ByteTableTest, LooksUpEveryByteAtEveryLength) {
  std::mt19937 rng(51);
  const ByteTable table = RandomTable(rng);
  for (const size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{256},
                         size_t{65535}, size_t{65536}, size_t{65536 * 3 + 17}}) {
    std::vector<uint8_t> src(n), dst(n, 0);
    for (size_t i = 0; i < n; ++i) src[i] = static_cast<uint8_t>((i * 131 + 7) % 256);
    ApplyByteTable(table, src.data(), dst.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(dst[i], table.entries[src[i]]) << "n " << n << " at " << i;
    }
  }
}

TEST(ByteTableTest, WorksInPlace) {
  std::mt19937 rng(52);
  const ByteTable table = RandomTable(rng);
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 256);
  const std::vector<uint8_t> original = data;
  ApplyByteTable(table, data.data(), data.data(), data.size());
  for (size_t i = 0; i < data.size(); ++i) ASSERT_EQ(data[i], table.entries[original[i]]);
}

// Each entry is the activation of the input byte's real value, rounded onto
// the output grid: checked against a direct evaluation, s8 -> s8 and u8 -> u8.
TEST(TableActivationTest, EntriesAreTheActivationOnTheGrids) {
  PostOp swish;
  swish.kind = PostOp::Kind::kSwish;
  const QuantParams s8_in{memory::data_type::s8, 127.0f / 6.0f};   // [-6, 6]
  const QuantParams s8_out{memory::data_type::s8, 127.0f / 6.0f};  // swish(6) < 6
  const ByteTable table = ActivationTable(swish, s8_in, s8_out);
  for (int q = -128; q <= 127; ++q) {
    const float x = static_cast<float>(q) / s8_in.scale;
    const float expected = std::nearbyint(x / (1.0f + std::exp(-x)) * s8_out.scale);
    EXPECT_EQ(static_cast<int8_t>(table.entries[static_cast<uint8_t>(static_cast<int8_t>(q))]),
              static_cast<int8_t>(std::clamp(expected, -128.0f, 127.0f)))
        << "q " << q;
  }
  PostOp sigmoid;
  sigmoid.kind = PostOp::Kind::kSigmoid;
  const QuantParams u8_in{memory::data_type::u8, 255.0f / 10.0f};  // [0, 10]
  const QuantParams u8_out{memory::data_type::u8, 255.0f};         // [0, 1]
  const ByteTable sig = ActivationTable(sigmoid, u8_in, u8_out);
  EXPECT_EQ(sig.entries[0], 128);  // sigmoid(0) = 0.5 -> 127.5, ties to even
  EXPECT_EQ(sig.entries[255], 255);
  for (int q = 1; q < 256; ++q) EXPECT_GE(sig.entries[q], sig.entries[q - 1]);
}

struct ActivationCase {
  std::string name;
  PostOp::Kind kind;
  float lipschitz;  // max |f'(x)|
};

class TableActivationPlanTest : public ::testing::TestWithParam<ActivationCase> {};

// Conv -> activation as exporters write it -> Conv, fused by the standard
// pass: the first conv writes its raw result s8/u8, a table step maps it onto
// the activation's grid, the second conv reads that. Error bound: the conv's
// error plus half a raw step, through the activation's slope, plus half an
// output step.
TEST_P(TableActivationPlanTest, RunsInt8AgainstTheReference) {
  const ActivationCase& activation = GetParam();
  std::mt19937 rng(53);
  GraphBuilder builder({2, 8, 6, 6});
  builder.Const("w1", {16, 8, 3, 3}, rng, -0.5f, 0.5f)
      .Const("b1", {16}, rng, -1.0f, 1.0f)
      .Const("w2", {8, 16, 1, 1}, rng, -0.5f, 0.5f)
      .Op("Conv", "c1", {"x", "w1", "b1"}, "raw", {{"pads", Ints{1, 1, 1, 1}}});
  if (activation.kind == PostOp::Kind::kSwish) {
    builder.Op("Sigmoid", "gate", {"raw"}, "g").Op("Mul", "silu", {"raw", "g"}, "a");
  } else {
    const char* op = activation.kind == PostOp::Kind::kTanh        ? "Tanh"
                     : activation.kind == PostOp::Kind::kHardSwish ? "HardSwish"
                                                                   : "Sigmoid";
    builder.Op(op, "act", {"raw"}, "a");
  }
  const Graph unfused = builder.Op("Conv", "c2", {"a", "w2"}, "y").Output("y").Build();
  Graph fused = unfused;
  ASSERT_TRUE(FuseActivations(fused).ok());
  ASSERT_EQ(fused.nodes.size(), 2u);
  ASSERT_EQ(fused.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(fused.nodes[0].post_ops[0].pre_activation, "raw");

  const Tensor input = RandomTensor({2, 8, 6, 6}, rng);
  const std::map<std::string, Tensor> reference = testing::reference::RunAll(unfused, input);
  // Calibration sees the unfused graph, raw result included.
  const CalibrationTable table = RangesOf(RunAndObserve(unfused, input, {}));
  PlanOptions options;
  options.int8 = true;
  options.calibration = &table;
  absl::StatusOr<std::shared_ptr<const Plan>> plan = CompilePlan(fused, input.shape, options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int table_steps = 0;
  for (const PlanStep& step : (*plan)->steps)
    table_steps += dynamic_cast<const ByteTableKernel*>(step.kernel.get()) != nullptr;
  EXPECT_EQ(table_steps, 1);
  // The export rounds where the Plan does: raw and a are both stored int8.
  EXPECT_EQ((*plan)->quantized_values.count("raw"), 1u);
  EXPECT_EQ((*plan)->quantized_values.count("a"), 1u);
  EXPECT_EQ((*plan)->coverage.boundaries.quantize, 1);
  EXPECT_EQ((*plan)->coverage.boundaries.dequantize + (*plan)->coverage.boundaries.requantize, 0);

  const testing::Values int8 = RunAndObserve(fused, input, options);
  auto step = [&](const std::string& name) {
    return 1.0f / QuantParamsForRange(table.ranges.at(name)).scale;
  };
  const float raw_error =
      ConvErrorBound(fused.constants.at("w1"), step("x"), 1.0f) + 0.5f * step("raw");
  const float a_bound = activation.lipschitz * raw_error + 0.5f * step("a") + 1e-6f;
  EXPECT_LE(MaxAbsDiff(int8.at("a"), reference.at("a")), a_bound);
  float a_max = 0.0f;
  for (float v : reference.at("a").data) a_max = std::max(a_max, std::fabs(v));
  const float y_bound = ConvErrorBound(fused.constants.at("w2"), step("a") + 2 * a_bound, a_max);
  EXPECT_LE(MaxAbsDiff(int8.at("y"), reference.at("y")), y_bound);
}

INSTANTIATE_TEST_SUITE_P(Activations, TableActivationPlanTest,
                         ::testing::Values(ActivationCase{"Swish", PostOp::Kind::kSwish, 1.1f},
                                           ActivationCase{"Sigmoid", PostOp::Kind::kSigmoid, 0.25f},
                                           ActivationCase{"Tanh", PostOp::Kind::kTanh, 1.0f},
                                           ActivationCase{"HardSwish", PostOp::Kind::kHardSwish,
                                                          1.5f}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace quantd::engine
