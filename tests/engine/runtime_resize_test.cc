// Differential tests of Resize and Upsample (fp32) against the spec-formula reference in
// runtime_reference.h on seeded random data; tolerance 1e-4 * (1 + |expected|).

#include <random>
#include <string>
#include <vector>

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

// Opset 13 form: X, roi (omitted), scales or sizes.
Graph ResizeGraph(const Ints& x, const Attrs& attrs, const std::vector<float>& scales,
                  const Ints& sizes = {}) {
  GraphBuilder b(x);
  std::vector<std::string> inputs = {"x", ""};
  if (!scales.empty()) {
    b.Floats("scales", {4}, scales);
    inputs.push_back("scales");
  } else {
    b.Ints("sizes", sizes);
    inputs.push_back("");
    inputs.push_back("sizes");
  }
  return b.Op("Resize", "resize", inputs, "y", attrs).Output("y").Build();
}

TEST(RuntimeResizeTest, LinearHalfPixelUpAndDown) {
  const Attrs linear = {{"mode", std::string("linear")}};
  ExpectPlanMatchesReference(ResizeGraph({2, 3, 4, 5}, linear, {1, 1, 2, 2}), {2, 3, 4, 5});
  ExpectPlanMatchesReference(ResizeGraph({2, 3, 4, 5}, linear, {1, 1, 1.5f, 3}), {2, 3, 4, 5});
  ExpectPlanMatchesReference(ResizeGraph({1, 2, 8, 6}, linear, {}, {1, 2, 4, 3}), {1, 2, 8, 6});
  ExpectPlanMatchesReference(ResizeGraph({1, 2, 4, 4}, linear, {}, {1, 2, 7, 9}), {1, 2, 4, 4});
  const Attrs pytorch = {{"mode", std::string("linear")},
                         {"coordinate_transformation_mode", std::string("pytorch_half_pixel")}};
  ExpectPlanMatchesReference(ResizeGraph({1, 2, 4, 4}, pytorch, {1, 1, 2, 2}), {1, 2, 4, 4});
}

TEST(RuntimeResizeTest, NearestIntegerUpscaleAndOpset10) {
  for (const std::string nearest_mode : {"round_prefer_floor", "round_prefer_ceil"}) {
    SCOPED_TRACE(nearest_mode);
    ExpectPlanMatchesReference(
        ResizeGraph({2, 3, 3, 4}, {{"nearest_mode", nearest_mode}}, {1, 1, 2, 3}), {2, 3, 3, 4});
  }
  ExpectPlanMatchesReference(
      ResizeGraph({2, 3, 3, 4},
                  {{"coordinate_transformation_mode", std::string("asymmetric")},
                   {"nearest_mode", std::string("floor")}},
                  {}, {2, 3, 9, 8}),
      {2, 3, 3, 4});
  std::mt19937 rng(50);
  Graph opset10 = GraphBuilder({1, 4, 3, 3})
                      .Const("w", {16, 4, 1, 1}, rng)
                      .Floats("scales", {4}, {1, 1, 2, 2})
                      .Op("Conv", "conv", {"x", "w"}, "a")
                      .Op("Resize", "up", {"a", "scales"}, "y")
                      .Output("y")
                      .Build();
  opset10.opset_version = 10;
  ExpectPlanMatchesReference(opset10, {1, 4, 3, 3});
}

TEST(RuntimeResizeTest, UpsampleNearestScalesInputAndAttribute) {
  Graph opset9 = GraphBuilder({1, 2, 3, 4})
                     .Floats("scales", {4}, {1, 1, 2, 3})
                     .Op("Upsample", "up", {"x", "scales"}, "y")
                     .Output("y")
                     .Build();
  opset9.opset_version = 9;
  ExpectPlanMatchesReference(opset9, {1, 2, 3, 4});
  Graph opset7 =
      GraphBuilder({1, 2, 3, 4})
          .Op("Upsample", "up", {"x"}, "y",
              {{"scales", std::vector<float>{1, 1, 3, 2}}, {"mode", std::string("nearest")}})
          .Output("y")
          .Build();
  opset7.opset_version = 7;
  ExpectPlanMatchesReference(opset7, {1, 2, 3, 4});
}

// Modes oneDNN does not compute as ONNX defines them run on quantd's own
// kernel: every transform the reference knows with every nearest mode and
// linear, shrinking and growing by sizes that are not whole factors. (Cubic,
// exclude_outside, tf_crop_and_resize and scales with a fractional length
// are checked against the ONNX test data, docs/CONFORMANCE.md.)
TEST(RuntimeResizeTest, EveryTransformAndModeByNonWholeSizes) {
  for (const std::string transform :
       {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"}) {
    for (const std::string nearest_mode :
         {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", ""}) {
      const bool linear = nearest_mode.empty();
      Attrs attrs = {{"coordinate_transformation_mode", transform},
                     {"mode", std::string(linear ? "linear" : "nearest")}};
      if (!linear) attrs["nearest_mode"] = nearest_mode;
      for (const Ints& sizes : {Ints{1, 2, 3, 4}, Ints{1, 2, 8, 11}, Ints{1, 2, 1, 1}}) {
        SCOPED_TRACE(transform + " " + (linear ? "linear" : nearest_mode) + " to " +
                     std::to_string(sizes[2]) + "x" + std::to_string(sizes[3]));
        ExpectPlanMatchesReference(ResizeGraph({1, 2, 5, 7}, attrs, {}, sizes), {1, 2, 5, 7});
      }
    }
  }
}

TEST(RuntimeResizeTest, RemainingModesAreRefusedAndNamed) {
  const std::vector<Attrs> unsupported = {
      {{"mode", std::string("area")}},
      {{"coordinate_transformation_mode", std::string("half_pixel_symmetric")}},
      {{"antialias", int64_t{1}}, {"mode", std::string("linear")}},
  };
  for (const Attrs& attrs : unsupported) {
    const absl::Status status =
        CompilePlan(ResizeGraph({1, 2, 4, 4}, attrs, {1, 1, 0.75f, 0.75f}), {1, 2, 4, 4}, {})
            .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << status;
    EXPECT_THAT(status.message(), HasSubstr("node 'resize' (Resize)"));
  }
  // A model's scales cannot make the Plan allocate without bound.
  const absl::Status huge =
      CompilePlan(ResizeGraph({1, 2, 4, 4}, {}, {1, 1, 1e6f, 1e6f}), {1, 2, 4, 4}, {}).status();
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument) << huge;
  EXPECT_THAT(huge.message(), HasSubstr("resizes 4 to 4000000"));
}

}  // namespace
}  // namespace quantd::engine
