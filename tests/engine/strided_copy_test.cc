// quantd's own copies between strided layouts, against a naive element by
// element copy through the same memory descriptors.

#include "engine/runtime/strided_copy.h"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <optional>
#include <vector>

#include "engine/runtime/strided_layout.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using dnnl::memory;
using Dims = memory::dims;

// Offset in elements of `index` in `desc`.
int64_t OffsetOf(const memory::desc& desc, const Dims& index) {
  int64_t offset = desc.data.offset0;
  for (size_t d = 0; d < index.size(); ++d) {
    offset += index[d] * desc.data.format_desc.blocking.strides[d];
  }
  return offset;
}

// Every element of `from` copied to its place in `to`, one at a time.
template <typename T>
void NaiveCopy(const memory::desc& from, const T* src, const memory::desc& to, T* dst) {
  const Dims dims = from.dims();
  Dims index(dims.size(), 0);
  const int64_t count = std::accumulate(dims.begin(), dims.end(), int64_t{1},
                                        [](int64_t a, int64_t b) { return a * b; });
  for (int64_t i = 0; i < count; ++i) {
    dst[OffsetOf(to, index)] = src[OffsetOf(from, index)];
    for (size_t d = dims.size(); d-- > 0;) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

// Runs the planned copy and the naive one over buffers of `buffer_elements`
// (distinct values; destinations prefilled alike) and expects equal bytes.
template <typename T>
void ExpectCopiesLikeNaive(const memory::desc& from, const memory::desc& to, StridedCopy::Form form,
                           size_t buffer_elements) {
  const std::optional<StridedCopy> copy = PlanStridedCopy(from, to);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->form, form);
  std::vector<T> src(buffer_elements);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<T>(i * 7 + 3);
  std::vector<T> expected(buffer_elements, T{0}), actual(buffer_elements, T{0});
  NaiveCopy(from, src.data(), to, expected.data());
  RunStridedCopy(*copy, src.data(), actual.data());
  EXPECT_EQ(actual, expected);
}

memory::desc Tagged(const Dims& dims, memory::data_type type, memory::format_tag tag) {
  return memory::desc(dims, type, tag);
}

TEST(StridedCopyTest, ChannelWindowOfChannelsLastIsRows) {
  // Channels [24, 48) of [4, 48, 5, 5] channels-last, as Slice reads them.
  for (const memory::data_type type : {memory::data_type::u8, memory::data_type::f32}) {
    const memory::desc whole = Tagged({4, 48, 5, 5}, type, memory::format_tag::acdb);
    const memory::desc window = whole.submemory_desc({4, 24, 5, 5}, {0, 24, 0, 0});
    const memory::desc dense = Tagged({4, 24, 5, 5}, type, memory::format_tag::acdb);
    if (type == memory::data_type::u8) {
      ExpectCopiesLikeNaive<uint8_t>(window, dense, StridedCopy::Form::kRows, 4 * 48 * 25);
    } else {
      ExpectCopiesLikeNaive<float>(window, dense, StridedCopy::Form::kRows, 4 * 48 * 25);
    }
  }
}

TEST(StridedCopyTest, ChannelShuffleOfTwoGroupsIsPairs) {
  // ShuffleNet's transpose on channels-last values, 58 channels per group,
  // over enough pixels that the copy is split between threads.
  for (const int64_t batch : {1, 9}) {
    const memory::desc split =
        *ReshapedView(Tagged({batch, 116, 12, 12}, memory::data_type::u8, memory::format_tag::acdb),
                      {batch, 2, 58, 12, 12});
    const memory::desc permuted = PermutedView(split, {0, 2, 1, 3, 4});
    const memory::desc shuffled = DenseInOrderOf(split, permuted.dims());
    ExpectCopiesLikeNaive<uint8_t>(permuted, shuffled, StridedCopy::Form::kPairs,
                                   static_cast<size_t>(batch * 116 * 144));
    memory::desc permuted_f32 = permuted, shuffled_f32 = shuffled;
    permuted_f32.data.data_type = dnnl_f32;
    shuffled_f32.data.data_type = dnnl_f32;
    ExpectCopiesLikeNaive<uint32_t>(permuted_f32, shuffled_f32, StridedCopy::Form::kPairs,
                                    static_cast<size_t>(batch * 116 * 144));
  }
}

TEST(StridedCopyTest, SameLayoutIsOneRowSplitBetweenThreads) {
  // 1 MiB of floats: more than the slice one thread copies alone.
  const memory::desc plain = Tagged({4, 256, 256}, memory::data_type::f32, memory::format_tag::abc);
  ExpectCopiesLikeNaive<float>(plain, plain, StridedCopy::Form::kRows, 4 * 256 * 256);
}

TEST(StridedCopyTest, LeavesOtherCopiesToOneDnn) {
  const Dims dims = {2, 3, 8, 8};
  // A real transpose (plain to channels-last): rows of one element.
  EXPECT_FALSE(PlanStridedCopy(Tagged(dims, memory::data_type::f32, memory::format_tag::abcd),
                               Tagged(dims, memory::data_type::f32, memory::format_tag::acdb)));
  // A type conversion, and a blocked layout.
  EXPECT_FALSE(PlanStridedCopy(Tagged(dims, memory::data_type::f32, memory::format_tag::abcd),
                               Tagged(dims, memory::data_type::s8, memory::format_tag::abcd)));
  EXPECT_FALSE(PlanStridedCopy(Tagged(dims, memory::data_type::f32, memory::format_tag::abcd),
                               Tagged(dims, memory::data_type::f32, memory::format_tag::aBcd16b)));
  // Rows of 8 bytes (a window of 2 of 3 float channels): too short.
  const memory::desc whole = Tagged({2, 3, 8, 8}, memory::data_type::f32, memory::format_tag::acdb);
  EXPECT_FALSE(
      PlanStridedCopy(whole.submemory_desc({2, 2, 8, 8}, {0, 1, 0, 0}),
                      Tagged({2, 2, 8, 8}, memory::data_type::f32, memory::format_tag::acdb)));
}

}  // namespace
}  // namespace quantd::engine
