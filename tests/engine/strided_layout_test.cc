// The stride arithmetic that lets reshapes and transposes keep a value's
// layout: each helper checked against layouts written out by hand and
// against oneDNN's own format tags.

#include "engine/runtime/strided_layout.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using dnnl::memory;
using Dims = memory::dims;

Dims Strides(const memory::desc& desc) {
  const auto& strides = desc.data.format_desc.blocking.strides;
  return Dims(strides, strides + desc.data.ndims);
}

memory::desc Tagged(const Dims& dims, memory::format_tag tag) {
  return memory::desc(dims, memory::data_type::u8, tag);
}

TEST(StridedLayoutTest, OneElementDimsDoNotDistinguishLayouts) {
  // [N,C,1,1]: channels-last and plain are the same bytes.
  EXPECT_TRUE(SameLayout(Tagged({8, 16, 1, 1}, memory::format_tag::acdb),
                         Tagged({8, 16, 1, 1}, memory::format_tag::abcd)));
  EXPECT_FALSE(SameLayout(Tagged({8, 16, 2, 1}, memory::format_tag::acdb),
                          Tagged({8, 16, 2, 1}, memory::format_tag::abcd)));
  // Another type, an offset or blocks are never the same layout.
  EXPECT_FALSE(
      SameLayout(Tagged({8, 16, 1, 1}, memory::format_tag::abcd),
                 memory::desc({8, 16, 1, 1}, memory::data_type::s8, memory::format_tag::abcd)));
  memory::desc offset = Tagged({8, 16, 1, 1}, memory::format_tag::abcd);
  offset.data.offset0 = 16;
  EXPECT_FALSE(SameLayout(offset, Tagged({8, 16, 1, 1}, memory::format_tag::abcd)));
  EXPECT_FALSE(IsStrided(Tagged({8, 16, 2, 2}, memory::format_tag::aBcd16b)));
}

TEST(StridedLayoutTest, SplittingChannelsOfChannelsLastIsAView) {
  // ShuffleNet's first reshape: [N, C, H, W] channels-last -> [N, 2, C/2, H, W].
  const std::optional<memory::desc> view =
      ReshapedView(Tagged({4, 6, 5, 7}, memory::format_tag::acdb), {4, 2, 3, 5, 7});
  ASSERT_TRUE(view.has_value());
  // Element (n, g, c, h, w) is channel g*3 + c of pixel (h, w).
  EXPECT_EQ(Strides(*view), (Dims{5 * 7 * 6, 3, 1, 7 * 6, 6}));
}

TEST(StridedLayoutTest, MergingDimsThatAreNotContiguousNeedsACopy) {
  // Flatten of channels-last [N, C, H, W] to [N, C*H*W]: C is innermost in
  // memory but outer in the row-major order.
  EXPECT_FALSE(ReshapedView(Tagged({4, 6, 5, 7}, memory::format_tag::acdb), {4, 210}));
  // ... unless H and W hold one element: then it is [N, C], plain.
  const std::optional<memory::desc> pooled =
      ReshapedView(Tagged({4, 6, 1, 1}, memory::format_tag::acdb), {4, 6});
  ASSERT_TRUE(pooled.has_value());
  EXPECT_EQ(*pooled, Tagged({4, 6}, memory::format_tag::ab));
  // Different element counts are no reshape.
  EXPECT_FALSE(ReshapedView(Tagged({4, 6}, memory::format_tag::ab), {4, 7}));
}

TEST(StridedLayoutTest, PlainReshapesStayPlain) {
  const std::optional<memory::desc> view =
      ReshapedView(Tagged({2, 3, 4, 5}, memory::format_tag::abcd), {2, 1, 12, 5, 1});
  ASSERT_TRUE(view.has_value());
  EXPECT_TRUE(SameLayout(*view, Tagged({2, 1, 12, 5, 1}, memory::format_tag::abcde)));
}

TEST(StridedLayoutTest, ChannelShuffleOfChannelsLastEndsChannelsLast) {
  const memory::desc split =
      *ReshapedView(Tagged({4, 6, 5, 7}, memory::format_tag::acdb), {4, 2, 3, 5, 7});
  const std::vector<int64_t> perm = {0, 2, 1, 3, 4};
  const memory::desc permuted = PermutedView(split, perm);
  EXPECT_EQ(permuted.dims(), (Dims{4, 3, 2, 5, 7}));
  EXPECT_EQ(Strides(permuted), (Dims{210, 1, 3, 42, 6}));
  // The copy keeps the input's order position by position: dim 2 innermost.
  const memory::desc shuffled = DenseInOrderOf(split, permuted.dims());
  EXPECT_EQ(Strides(shuffled), (Dims{210, 2, 1, 42, 6}));
  // So merging it back is a view, channels-last again.
  const std::optional<memory::desc> merged = ReshapedView(shuffled, {4, 6, 5, 7});
  ASSERT_TRUE(merged.has_value());
  EXPECT_EQ(*merged, Tagged({4, 6, 5, 7}, memory::format_tag::acdb));
}

TEST(StridedLayoutTest, TransposingChannelsLastToNhwcIsPlain) {
  const memory::desc nhwc =
      PermutedView(Tagged({4, 6, 5, 7}, memory::format_tag::acdb), {0, 2, 3, 1});
  EXPECT_EQ(nhwc, Tagged({4, 5, 7, 6}, memory::format_tag::abcd));
  // And a plain input keeps a plain copy.
  EXPECT_EQ(DenseInOrderOf(Tagged({4, 6, 5, 7}, memory::format_tag::abcd), {4, 5, 7, 6}),
            Tagged({4, 5, 7, 6}, memory::format_tag::abcd));
}

}  // namespace
}  // namespace quantd::engine
