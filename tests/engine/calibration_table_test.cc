#include "engine/quant/calibration_table.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

TEST(CalibrationTableTest, SerializesOneSortedLinePerValue) {
  CalibrationTable table;
  table.ranges["conv1"] = {-1.5f, 2.25f};
  table.ranges["input"] = {0.0f, 1.0f};
  EXPECT_EQ(table.Serialize(), "conv1\t-1.5\t2.25\ninput\t0\t1\n");
}

TEST(CalibrationTableTest, EmptyTableRoundTrips) {
  EXPECT_EQ(CalibrationTable{}.Serialize(), "");
  absl::StatusOr<CalibrationTable> parsed = CalibrationTable::Parse("");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->ranges.empty());
}

TEST(CalibrationTableTest, RoundTripIsBitExact) {
  CalibrationTable table;
  // Values whose shortest decimal form needs all 9 significant digits, plus
  // extremes of the float range.
  table.ranges["a"] = {-0.1f, 1.0f / 3.0f};
  table.ranges["b"] = {std::nextafter(1.0f, 0.0f), std::nextafter(1.0f, 2.0f)};
  table.ranges["c"] = {-std::numeric_limits<float>::max(), std::numeric_limits<float>::max()};
  table.ranges["d"] = {std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min()};
  table.ranges["e"] = {-0.0f, 0.0f};
  table.ranges["relu/output:0 with spaces"] = {16777217.0f, 3.4e10f};
  uint32_t bits = 0x3f800001u;
  for (int i = 0; i < 200; ++i) {  // a sweep of awkward mantissas
    bits = bits * 2654435761u + 1;
    float v = std::bit_cast<float>(bits & 0x7f7fffffu);  // positive and finite
    table.ranges["sweep" + std::to_string(i)] = {-v, v};
  }

  absl::StatusOr<CalibrationTable> parsed = CalibrationTable::Parse(table.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->ranges.size(), table.ranges.size());
  for (const auto& [name, range] : table.ranges) {
    ASSERT_TRUE(parsed->ranges.count(name)) << name;
    const TensorRange& got = parsed->ranges.at(name);
    EXPECT_EQ(std::bit_cast<uint32_t>(got.min), std::bit_cast<uint32_t>(range.min)) << name;
    EXPECT_EQ(std::bit_cast<uint32_t>(got.max), std::bit_cast<uint32_t>(range.max)) << name;
  }
}

TEST(CalibrationTableTest, ParseToleratesCrlfAndBlankLines) {
  absl::StatusOr<CalibrationTable> parsed = CalibrationTable::Parse("x\t-1\t1\r\n\r\n\ny\t0\t0.5");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->ranges.size(), 2u);
  EXPECT_EQ(parsed->ranges.at("x").min, -1.0f);
  EXPECT_EQ(parsed->ranges.at("y").max, 0.5f);
}

absl::Status ParseError(const std::string& text) { return CalibrationTable::Parse(text).status(); }

TEST(CalibrationTableTest, WrongFieldCountNamesLine) {
  const absl::Status status = ParseError("a\t0\t1\nb\t0\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("line 2"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("expected 3 tab-separated fields"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("got 2"));
  EXPECT_THAT(std::string(ParseError("a\t0\t1\t2\n").message()), HasSubstr("got 4"));
  // Spaces are not separators: names may contain them.
  EXPECT_THAT(std::string(ParseError("a 0 1\n").message()), HasSubstr("got 1"));
}

TEST(CalibrationTableTest, UnparseableNumberNamesLineAndField) {
  absl::Status status = ParseError("a\t0\t1\nb\t0\t1\nc\tzero\t1\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("line 3"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("min 'zero'"));
  status = ParseError("a\t0\t1.5x\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("max '1.5x'"));
  EXPECT_EQ(ParseError("a\t\t1\n").code(), absl::StatusCode::kInvalidArgument);
}

TEST(CalibrationTableTest, NonFiniteBoundsAreRejected) {
  EXPECT_THAT(std::string(ParseError("a\tnan\t1\n").message()), HasSubstr("not a finite number"));
  EXPECT_THAT(std::string(ParseError("a\t0\tinf\n").message()), HasSubstr("not a finite number"));
  EXPECT_THAT(std::string(ParseError("a\t-1e39\t0\n").message()), HasSubstr("not a finite number"));
}

TEST(CalibrationTableTest, MinAboveMaxIsRejected) {
  const absl::Status status = ParseError("a\t2\t1\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("line 1"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("'a' has min 2 greater than max 1"));
  EXPECT_TRUE(CalibrationTable::Parse("a\t1\t1\n").ok());  // a constant is a valid range
}

TEST(CalibrationTableTest, DuplicateNameIsRejected) {
  const absl::Status status = ParseError("a\t0\t1\nb\t0\t1\na\t0\t2\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("line 3"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("duplicate value name 'a'"));
}

TEST(CalibrationTableTest, EmptyNameIsRejected) {
  const absl::Status status = ParseError("\t0\t1\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("value name is empty"));
}

}  // namespace
}  // namespace quantd::engine
