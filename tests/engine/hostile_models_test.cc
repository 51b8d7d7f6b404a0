// Small models that ask the server to allocate without bound while it merely
// inspects them are refused at upload (InspectModel), quickly, naming the
// node and the limit, without the memory ever being allocated.

#include <sys/resource.h>

#include <chrono>
#include <functional>
#include <ostream>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/passes/constant_evaluation.h"
#include "engine/runtime/model_inspection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_model_builder.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;
using testing::AddFloatInitializer;
using testing::AddGraphInput;
using testing::AddGraphOutput;
using testing::AddInt64Initializer;
using testing::AddNode;
using testing::MakeOnnxModel;
using testing::Serialize;

constexpr int64_t kTwoTo33 = int64_t{1} << 33;
constexpr int64_t kTwoTo40 = int64_t{1} << 40;

int64_t PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// x [1, 4] plus whatever `hostile` produces under the name "big".
std::string ModelAddingTo(const std::function<void(onnx::ModelProto&)>& hostile) {
  onnx::ModelProto model = MakeOnnxModel(13);
  AddGraphInput(model, "x", {1, 4});
  hostile(model);
  AddNode(model, "Add", {"x", "big"}, {"y"}, "add");
  AddGraphOutput(model, "y", {});
  return Serialize(model);
}

struct HostileCase {
  std::string name;
  std::string node;  // the node the refusal must name
  std::string model;
};

std::vector<HostileCase> Cases() {
  std::vector<HostileCase> cases;
  cases.push_back({"ConstantOfShape65536x65536", "fill", ModelAddingTo([](onnx::ModelProto& m) {
                     AddInt64Initializer(m, "shape", {2}, {65536, 65536});
                     AddNode(m, "ConstantOfShape", {"shape"}, {"big"}, "fill");
                   })});
  cases.push_back({"RangeTo2Pow40", "range", ModelAddingTo([](onnx::ModelProto& m) {
                     AddFloatInitializer(m, "start", {}, {0.0f});
                     AddFloatInitializer(m, "limit", {}, {static_cast<float>(kTwoTo40)});
                     AddFloatInitializer(m, "delta", {}, {1.0f});
                     AddNode(m, "Range", {"start", "limit", "delta"}, {"big"}, "range");
                   })});
  cases.push_back({"ExpandTo2Pow33", "expand", ModelAddingTo([](onnx::ModelProto& m) {
                     AddFloatInitializer(m, "one", {1}, {1.0f});
                     AddInt64Initializer(m, "shape", {3}, {2, 1 << 16, 1 << 16});
                     AddNode(m, "Expand", {"one", "shape"}, {"big"}, "expand");
                   })});
  cases.push_back({"ShapeProductOverflows", "fill", ModelAddingTo([](onnx::ModelProto& m) {
                     AddInt64Initializer(m, "shape", {3}, {kTwoTo40, kTwoTo40, 4});
                     AddNode(m, "ConstantOfShape", {"shape"}, {"big"}, "fill");
                   })});
  return cases;
}

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

class HostileModelTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileModelTest, IsRefusedAtUploadNamingTheNodeAndTheLimit) {
  const HostileCase& c = GetParam();
  const int64_t rss_before = PeakRssKb();
  const auto start = std::chrono::steady_clock::now();
  const absl::StatusOr<ModelSummary> summary = InspectModel(c.model);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(summary.ok());
  std::printf("%s: %s\n", c.name.c_str(), summary.status().ToString().c_str());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument) << summary.status();
  EXPECT_THAT(summary.status().message(), HasSubstr("node '" + c.node + "'"));
  EXPECT_THAT(summary.status().message(),
              HasSubstr(std::to_string(constant_evaluation::kMaxEvaluatedElements)));
  EXPECT_LT(seconds, 1.0);
  EXPECT_LT(PeakRssKb() - rss_before, 200 * 1024) << "KB of peak RSS added";
}

INSTANTIATE_TEST_SUITE_P(Models, HostileModelTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

// A Reshape target whose product overflows is refused when the model's
// shapes are inferred at upload (the runtime tensor is never allocated).
TEST(HostileModelTest, ReshapeToAnOverflowingShapeIsRefusedAtUpload) {
  onnx::ModelProto model = MakeOnnxModel(13);
  AddGraphInput(model, "x", {1, 3, 8, 8});
  AddInt64Initializer(model, "target", {3}, {kTwoTo33, kTwoTo33, kTwoTo33});
  AddNode(model, "Reshape", {"x", "target"}, {"y"}, "reshape");
  AddGraphOutput(model, "y", {});
  const absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument) << summary.status();
  EXPECT_THAT(summary.status().message(), HasSubstr("node 'reshape' (Reshape)"));
}

}  // namespace
}  // namespace quantd::engine
