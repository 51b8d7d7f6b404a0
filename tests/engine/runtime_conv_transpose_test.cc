// Differential tests of ConvTranspose (fp32) against the scatter-form
// reference in runtime_reference.h on seeded random data; tolerance
// 1e-4 * (1 + |expected|).

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

Graph ConvTransposeGraph(const Ints& x, const Ints& w, const Attrs& attrs, bool bias = true) {
  std::mt19937 rng(40);
  GraphBuilder b(x);
  b.Const("w", w, rng);
  std::vector<std::string> inputs = {"x", "w"};
  if (bias) {
    const auto group = attrs.find("group");
    const int64_t groups = group == attrs.end() ? 1 : std::get<int64_t>(group->second);
    b.Const("b", {w[1] * groups}, rng);
    inputs.push_back("b");
  }
  return b.Op("ConvTranspose", "up", inputs, "y", attrs).Output("y").Build();
}

TEST(RuntimeConvTransposeTest, StridesPadsOutputPaddingAndGroups) {
  const std::vector<std::pair<Ints, Attrs>> cases = {
      {{4, 3, 3, 3}, {}},
      {{4, 3, 3, 3}, {{"strides", Ints{2, 2}}}},
      {{4, 3, 2, 2}, {{"strides", Ints{2, 2}}, {"pads", Ints{0, 1, 1, 0}}}},
      {{4, 3, 3, 3},
       {{"strides", Ints{2, 3}}, {"pads", Ints{1, 1, 1, 1}}, {"output_padding", Ints{1, 2}}}},
      {{4, 3, 3, 3}, {{"dilations", Ints{2, 2}}, {"strides", Ints{2, 2}}}},
      {{4, 2, 3, 3}, {{"group", int64_t{2}}, {"strides", Ints{2, 2}}}},
      {{4, 1, 4, 4}, {{"group", int64_t{4}}, {"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}}},
      {{4, 3, 3, 3}, {{"strides", Ints{2, 2}}, {"output_shape", Ints{10, 9}}}},
      // Larger than the natural size (11 x 9): extra rows hold only the bias.
      {{4, 3, 3, 3}, {{"strides", Ints{2, 2}}, {"output_shape", Ints{12, 10}}}},
      {{4, 3, 3, 3}, {{"strides", Ints{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}}},
      {{4, 3, 3, 3}, {{"strides", Ints{2, 2}}, {"auto_pad", std::string("SAME_LOWER")}}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectPlanMatchesReference(ConvTransposeGraph({2, 4, 5, 4}, cases[i].first, cases[i].second),
                               {2, 4, 5, 4});
  }
  ExpectPlanMatchesReference(ConvTransposeGraph({1, 4, 3, 3}, {4, 5, 2, 2}, {}, false),
                             {1, 4, 3, 3});
}

TEST(RuntimeConvTransposeTest, ChannelMismatchAndOneDAreRejected) {
  absl::Status status =
      CompilePlan(ConvTransposeGraph({1, 3, 4, 4}, {4, 2, 3, 3}, {}), {1, 3, 4, 4}, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("node 'up' (ConvTranspose)"));
  status = CompilePlan(ConvTransposeGraph({1, 4, 5}, {4, 2, 3}, {}), {1, 4, 5}, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace quantd::engine
