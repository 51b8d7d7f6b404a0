#include "engine/data/idx_file.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string IdxBytes(uint32_t magic, const std::vector<uint32_t>& dims,
                     const std::string& payload) {
  std::string bytes = BigEndian32(magic);
  for (uint32_t d : dims) bytes += BigEndian32(d);
  return bytes + payload;
}

absl::Status ParseError(const std::string& contents, int rank) {
  return ParseIdxUbyte(contents, rank, "images file 'x.idx'").status();
}

TEST(IdxFileTest, ParsesRank3Ubyte) {
  const std::string payload = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  absl::StatusOr<IdxUbyteArray> array =
      ParseIdxUbyte(IdxBytes(0x803, {2, 2, 3}, payload), 3, "images");
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->dims, ElementsAre(2, 2, 3));
  EXPECT_EQ(array->values, payload);
}

TEST(IdxFileTest, ParsesRank1Ubyte) {
  absl::StatusOr<IdxUbyteArray> array =
      ParseIdxUbyte(IdxBytes(0x801, {3}, std::string("\x07\x00\xff", 3)), 1, "labels");
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_THAT(array->dims, ElementsAre(3));
  EXPECT_EQ(array->values, std::string("\x07\x00\xff", 3));
}

TEST(IdxFileTest, RejectsShortMagic) {
  const absl::Status status = ParseError(std::string("\x00\x00\x08", 3), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("images file 'x.idx'"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("too short"));
}

TEST(IdxFileTest, RejectsNonIdxMagic) {
  const absl::Status status = ParseError(IdxBytes(0x1f8b0803, {1, 1, 1}, "x"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not an IDX file"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("0x00000803"));
}

TEST(IdxFileTest, RejectsNonUbyteElementType) {
  // 0x0D is float32 in the IDX format.
  const absl::Status status = ParseError(IdxBytes(0x0D03, {1, 1, 1}, "abcd"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("element type 0x0D"));
}

TEST(IdxFileTest, RejectsWrongRank) {
  // A labels file passed where images are expected.
  const absl::Status status = ParseError(IdxBytes(0x801, {2}, "\x01\x02"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("rank 1"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("expected rank 3"));
}

TEST(IdxFileTest, RejectsTruncatedHeader) {
  const std::string bytes = IdxBytes(0x803, {10, 28}, "");  // third dimension missing
  const absl::Status status = ParseError(bytes, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("header is truncated"));
}

TEST(IdxFileTest, RejectsTruncatedData) {
  const absl::Status status = ParseError(IdxBytes(0x803, {2, 2, 2}, "1234567"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("[2, 2, 2] need 8 data bytes"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("has 7"));
}

TEST(IdxFileTest, RejectsTrailingBytes) {
  const absl::Status status = ParseError(IdxBytes(0x803, {1, 2, 2}, "12345"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("trailing"));
}

TEST(IdxFileTest, RejectsZeroDimension) {
  const absl::Status status = ParseError(IdxBytes(0x803, {0, 28, 28}, ""), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("dimension 0 is 0"));
}

TEST(IdxFileTest, RejectsNegativeDimension) {
  const absl::Status status = ParseError(IdxBytes(0x803, {1, 0x80000000u, 1}, "x"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("dimension 1 is 2147483648"));
}

TEST(IdxFileTest, RejectsAbsurdDimensionsWithoutOverflow) {
  // The product 0x7fffffff^3 overflows 64 bits; it must still be reported as
  // not matching the file rather than wrapping around to a small number.
  const absl::Status status =
      ParseError(IdxBytes(0x803, {0x7fffffffu, 0x7fffffffu, 0x7fffffffu}, "abc"), 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("need more than 3 data bytes"));
}

}  // namespace
}  // namespace quantd::engine
