#ifndef QUANTD_TESTS_SERVER_BREAK_JOB_SAVES_H_
#define QUANTD_TESTS_SERVER_BREAK_JOB_SAVES_H_

#include <sqlite3.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace quantd::server::testing {

// Makes every later update of a stored job row fail, as a full disk would: a
// trigger added through a second connection to the repository's database.
// New rows can still be inserted.
inline void BreakJobSaves(const std::filesystem::path& data_dir) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_dir / "quantd.db").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db,
                              "CREATE TRIGGER no_job_saves BEFORE UPDATE ON jobs "
                              "BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                              nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

}  // namespace quantd::server::testing

#endif  // QUANTD_TESTS_SERVER_BREAK_JOB_SAVES_H_
