#include "server/api/pagination.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {
namespace {

using ::testing::ElementsAre;

std::vector<v1::Model> Models(const std::vector<std::pair<std::string, int64_t>>& items) {
  std::vector<v1::Model> models;
  for (const auto& [id, created] : items) {
    v1::Model& model = models.emplace_back();
    model.set_id(id);
    model.set_created_unix_ms(created);
  }
  return models;
}

std::vector<std::string> Ids(const std::vector<v1::Model>& models) {
  std::vector<std::string> ids;
  for (const v1::Model& m : models) ids.push_back(m.id());
  return ids;
}

TEST(PaginationTest, PagesFollowEachOtherToTheEnd) {
  // Two models of one millisecond, listed in creation order, not id order.
  const auto all = Models({{"m_c", 1}, {"m_a", 1}, {"m_b", 2}, {"m_d", 3}, {"m_e", 3}});
  std::string token;
  auto first = Page(all, 2, "", token);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(Ids(*first), ElementsAre("m_c", "m_a"));
  EXPECT_EQ(token, "1:m_a");
  auto second = Page(all, 2, token, token);
  EXPECT_THAT(Ids(*second), ElementsAre("m_b", "m_d"));
  auto last = Page(all, 2, token, token);
  EXPECT_THAT(Ids(*last), ElementsAre("m_e"));
  EXPECT_EQ(token, "");
}

TEST(PaginationTest, DeletionsAndAdditionsBetweenPagesLoseNothingElse) {
  std::string token;
  auto first = Page(Models({{"m_1", 1}, {"m_2", 2}, {"m_3", 3}, {"m_4", 4}}), 2, "", token);
  EXPECT_THAT(Ids(*first), ElementsAre("m_1", "m_2"));
  // m_2 (the page's last) deleted, m_5 added: the next page is m_3, m_4.
  auto next = Page(Models({{"m_1", 1}, {"m_3", 3}, {"m_4", 4}, {"m_5", 5}}), 2, token, token);
  EXPECT_THAT(Ids(*next), ElementsAre("m_3", "m_4"));
  auto rest = Page(Models({{"m_1", 1}, {"m_3", 3}, {"m_4", 4}, {"m_5", 5}}), 2, token, token);
  EXPECT_THAT(Ids(*rest), ElementsAre("m_5"));
}

TEST(PaginationTest, SizesAreDefaultedCappedAndChecked) {
  std::vector<std::pair<std::string, int64_t>> many;
  for (int i = 0; i < 1500; ++i) many.push_back({"m_" + std::to_string(i), i});
  std::string token;
  EXPECT_EQ(Page(Models(many), 0, "", token)->size(), static_cast<size_t>(kDefaultPageSize));
  EXPECT_EQ(Page(Models(many), 5000, "", token)->size(), static_cast<size_t>(kMaxPageSize));
  EXPECT_EQ(Page(Models(many), -1, "", token).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"garbage", "12", "x:m_1", ":m_1"}) {
    EXPECT_EQ(Page(Models(many), 10, bad, token).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

}  // namespace
}  // namespace quantd::server
