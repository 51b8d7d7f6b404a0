#ifndef QUANTD_SERVER_API_PAGINATION_H_
#define QUANTD_SERVER_API_PAGINATION_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quantd::server {

// Page sizes of the List RPCs: 0 asks for the default; larger than the
// maximum is served as the maximum (AIP-158).
inline constexpr int32_t kDefaultPageSize = 100;
inline constexpr int32_t kMaxPageSize = 1000;

// One page of `items` (models, datasets or jobs: anything with id() and
// created_unix_ms(), listed oldest first). The page token names the last
// item served, as "<created_unix_ms>:<id>": the next page starts after that
// item, or, if it was deleted meanwhile, after the items created no later
// than it. INVALID_ARGUMENT for a token this server did not issue or a
// negative page size. `next_token` is empty after the last page.
template <typename T>
absl::StatusOr<std::vector<T>> Page(std::vector<T> items, int32_t page_size,
                                    const std::string& token, std::string& next_token) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page_size must be >= 0, got ", page_size));
  }
  const size_t size =
      page_size == 0 ? kDefaultPageSize : static_cast<size_t>(std::min(page_size, kMaxPageSize));
  size_t start = 0;
  if (!token.empty()) {
    const std::pair<std::string, std::string> parts =
        absl::StrSplit(token, absl::MaxSplits(':', 1));
    int64_t created = 0;
    if (parts.second.empty() || !absl::SimpleAtoi(parts.first, &created)) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_token '", token, "' is not one this server issued"));
    }
    start = items.size();
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].id() == parts.second) {
        start = i + 1;
        break;
      }
      if (items[i].created_unix_ms() > created) {
        start = i;
        break;
      }
    }
  }
  const size_t end = std::min(items.size(), start + size);
  next_token = end < items.size()
                   ? absl::StrCat(items[end - 1].created_unix_ms(), ":", items[end - 1].id())
                   : "";
  return std::vector<T>(std::make_move_iterator(items.begin() + static_cast<ptrdiff_t>(start)),
                        std::make_move_iterator(items.begin() + static_cast<ptrdiff_t>(end)));
}

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_PAGINATION_H_
