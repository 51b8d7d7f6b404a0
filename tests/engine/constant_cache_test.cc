// Plans of one session share reordered weights (ConstantCache): two Plans
// that ask for a layer's weights in the same layout hold one copy, and a
// Plan that uses lent weights computes what a Plan with its own computes.

#include "engine/runtime/constant_cache.h"

#include <memory>
#include <random>
#include <set>
#include <vector>

#include "engine/runtime/execution_context.h"
#include "engine/runtime/plan_compiler.h"
#include "gtest/gtest.h"
#include "plan_test_helpers.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using testing::RandomTensor;
using testing::RangesOf;
using testing::RunAndObserve;

dnnl::memory PlainFloats(const dnnl::engine& engine, dnnl::memory::dim n) {
  return dnnl::memory(
      dnnl::memory::desc({n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::a), engine);
}

TEST(ConstantCacheTest, LendsAnEntryOnlyWhenOwnerSourceLayoutAndScalesAllMatch) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const ConstantCache::Key key{"conv1", 42, PlainFloats(engine, 8).get_desc(), 1, {0.5f}};
  ConstantCache cache;
  EXPECT_FALSE(cache.Find(key).has_value());
  const dnnl::memory stored = cache.Insert(key, PlainFloats(engine, 8));

  const std::optional<dnnl::memory> found = cache.Find(key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->get_data_handle(), stored.get_data_handle());

  ConstantCache::Key other_owner = key;
  other_owner.owner = "conv2";
  ConstantCache::Key other_source = key;
  other_source.source_hash = 43;
  ConstantCache::Key other_layout = key;
  other_layout.desc = PlainFloats(engine, 16).get_desc();
  ConstantCache::Key other_scales = key;
  other_scales.scales = {0.25f};
  for (const ConstantCache::Key& miss : {other_owner, other_source, other_layout, other_scales}) {
    EXPECT_FALSE(cache.Find(miss).has_value());
  }

  // A second Plan that reordered the same weights concurrently gets the first copy.
  const dnnl::memory again = cache.Insert(key, PlainFloats(engine, 8));
  EXPECT_EQ(again.get_data_handle(), stored.get_data_handle());
  EXPECT_EQ(cache.size(), 1u);
}

std::set<void*> ConstantHandles(const Plan& plan) {
  std::set<void*> handles;
  for (const PlanBuffer& buffer : plan.buffers) {
    if (buffer.constant) handles.insert(buffer.constant.get_data_handle());
  }
  return handles;
}

std::vector<Tensor> RunPlan(const std::shared_ptr<const Plan>& plan, const Tensor& input) {
  absl::StatusOr<std::unique_ptr<ExecutionContext>> context = ExecutionContext::Create(plan);
  EXPECT_TRUE(context.ok()) << context.status();
  if (!context.ok()) return {};
  absl::StatusOr<std::vector<Tensor>> outputs = (*context)->Run(input);
  EXPECT_TRUE(outputs.ok()) << outputs.status();
  return outputs.ok() ? *std::move(outputs) : std::vector<Tensor>{};
}

// Compiles TinyResNet (five Convs and a Gemm) for `shape` twice with one
// cache, and once without, and checks sharing and outputs.
void ExpectPlansShareWeights(PlanOptions options, const Tensor& input) {
  const Graph g = testing::TinyResNet(21);
  options.constants = std::make_shared<ConstantCache>();
  absl::StatusOr<std::shared_ptr<const Plan>> first = CompilePlan(g, input.shape, options);
  absl::StatusOr<std::shared_ptr<const Plan>> second = CompilePlan(g, input.shape, options);
  ASSERT_TRUE(first.ok() && second.ok()) << first.status() << second.status();
  // Every reordered weight tensor is in the cache once, and both Plans use it.
  EXPECT_EQ(options.constants->size(), 6u);
  const std::set<void*> first_handles = ConstantHandles(**first);
  size_t shared = 0;
  for (void* handle : ConstantHandles(**second)) shared += first_handles.count(handle);
  EXPECT_EQ(shared, 6u);

  PlanOptions unshared = options;
  unshared.constants = nullptr;
  absl::StatusOr<std::shared_ptr<const Plan>> own = CompilePlan(g, input.shape, unshared);
  ASSERT_TRUE(own.ok()) << own.status();
  const std::set<void*> own_handles = ConstantHandles(**own);
  for (void* handle : first_handles) EXPECT_EQ(own_handles.count(handle), 0u);

  const std::vector<Tensor> lent = RunPlan(*second, input);
  const std::vector<Tensor> expected = RunPlan(*own, input);
  ASSERT_EQ(lent.size(), 1u);
  ASSERT_EQ(expected.size(), 1u);
  EXPECT_EQ(lent[0].shape, expected[0].shape);
  EXPECT_EQ(lent[0].data, expected[0].data);
}

TEST(PlanConstantSharingTest, Fp32PlansOfOneSessionShareWeights) {
  std::mt19937 rng(7);
  ExpectPlansShareWeights({}, RandomTensor({4, 3, 16, 16}, rng, 0.0f, 1.0f));
}

// int8 and simulated Plans need activation ranges: TinyResNet's own on the input.
void ExpectCalibratedPlansShareWeights(PlanOptions options, unsigned seed) {
  std::mt19937 rng(seed);
  const Tensor input = RandomTensor({4, 3, 16, 16}, rng, 0.0f, 1.0f);
  const CalibrationTable table = RangesOf(RunAndObserve(testing::TinyResNet(21), input, {}));
  options.calibration = &table;
  ExpectPlansShareWeights(options, input);
}

TEST(PlanConstantSharingTest, Int8PlansOfOneSessionShareQuantizedWeights) {
  PlanOptions options;
  options.int8 = true;
  ExpectCalibratedPlansShareWeights(options, 8);
}

TEST(PlanConstantSharingTest, SimulatedPlansShareFakeQuantizedWeights) {
  PlanOptions options;
  options.simulated = true;
  options.quantization.weight_bits = 4;
  options.quantization.activation_bits = 4;
  ExpectCalibratedPlansShareWeights(options, 9);
}

}  // namespace
}  // namespace quantd::engine
