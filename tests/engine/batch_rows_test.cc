#include "engine/runtime/batch_rows.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;

// 3 rows of [2, 2]: row r holds 10r .. 10r + 3.
Tensor ThreeRows() {
  Tensor t{"x", {3, 2, 2}, {}};
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 4; ++i) t.data.push_back(static_cast<float>(10 * r + i));
  }
  return t;
}

TEST(BatchRowsTest, SliceRowsTakesWholeRows) {
  const Tensor slice = SliceRows(ThreeRows(), 1, 2);
  EXPECT_EQ(slice.name, "x");
  EXPECT_THAT(slice.shape, ElementsAre(2, 2, 2));
  EXPECT_THAT(slice.data, ElementsAre(10, 11, 12, 13, 20, 21, 22, 23));
}

TEST(BatchRowsTest, AppendRowsStacksPartsInOrder) {
  const Tensor all = ThreeRows();
  Tensor stacked;
  AppendRows(stacked, SliceRows(all, 0, 1), 3);
  EXPECT_GE(stacked.data.capacity(), 12u);
  AppendRows(stacked, SliceRows(all, 1, 2));
  EXPECT_EQ(stacked.name, "x");
  EXPECT_EQ(stacked.shape, all.shape);
  EXPECT_EQ(stacked.data, all.data);
}

}  // namespace
}  // namespace quantd::engine
