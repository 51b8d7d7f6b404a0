#include "engine/export/calibration_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

CalibrationTable Table() {
  CalibrationTable table;
  table.ranges["relu_out"] = {0.0f, 2.55f};
  table.ranges["conv_out"] = {-1.27f, 0.5f};
  return table;
}

TEST(CalibrationJsonTest, ListsRangeScaleZeroPointAndTypeSortedByName) {
  const std::string json = CalibrationTableToJson(Table(), {});
  EXPECT_THAT(json, HasSubstr("\"format\": \"quantd.calibration.v1\""));
  EXPECT_THAT(json, HasSubstr("\"activation_bits\": 8"));
  EXPECT_THAT(json, HasSubstr("\"simulated\": false"));
  // s8 symmetric: scale = max|x| / 127; u8 after ReLU: scale = max / 255.
  EXPECT_THAT(json, HasSubstr("\"conv_out\": {\"min\": -1.26999998, \"max\": 0.5, "
                              "\"scale\": 0.00999999978, \"zero_point\": 0, \"type\": \"int8\"}"));
  EXPECT_THAT(json, HasSubstr("\"relu_out\": {\"min\": 0, \"max\": 2.54999995, "
                              "\"scale\": 0.00999999978, \"zero_point\": 0, \"type\": \"uint8\"}"));
  EXPECT_LT(json.find("\"conv_out\""), json.find("\"relu_out\""));
}

TEST(CalibrationJsonTest, SameTableGivesSameBytes) {
  EXPECT_EQ(CalibrationTableToJson(Table(), {}), CalibrationTableToJson(Table(), {}));
}

TEST(CalibrationJsonTest, FollowsTheOptionsGrid) {
  QuantizationOptions options;
  options.activation_bits = 4;
  options.symmetric_activations = false;
  const std::string json = CalibrationTableToJson(Table(), options);
  EXPECT_THAT(json, HasSubstr("\"simulated\": true"));
  EXPECT_THAT(json, HasSubstr("\"type\": \"uint4\""));
  // Asymmetric over [-1.27, 0.5]: 15 levels, zero point round(1.27 * 15 / 1.77) = 11.
  EXPECT_THAT(json, HasSubstr("\"zero_point\": 11"));
}

TEST(CalibrationJsonTest, EscapesNamesAndWritesAnEmptyTable) {
  CalibrationTable table;
  table.ranges["a\"b\\c"] = {0.0f, 1.0f};
  EXPECT_THAT(CalibrationTableToJson(table, {}), HasSubstr("\"a\\\"b\\\\c\": {"));
  EXPECT_THAT(CalibrationTableToJson(CalibrationTable{}, {}), HasSubstr("\"tensors\": {}}"));
}

}  // namespace
}  // namespace quantd::engine
