#ifndef QUANTD_SERVER_STORAGE_SQLITE_DATABASE_H_
#define QUANTD_SERVER_STORAGE_SQLITE_DATABASE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace quantd::server {

// A prepared statement, reset and re-bound for each use. Owned by its
// SqliteDatabase. Parameters and columns are numbered as in SQLite: bind
// indices start at 1, column indices at 0.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Clears the previous execution's bindings and state.
  void Reset();
  absl::Status BindInt64(int index, int64_t value);
  absl::Status BindText(int index, std::string_view value);
  absl::Status BindBlob(int index, std::string_view value);

  // Advances to the next row: true if there is one, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Execute();

  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;

 private:
  absl::Status Check(int rc, const std::string& what) const;

  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// One SQLite connection in WAL mode with a busy timeout. Not thread-safe: the
// owner serializes all access (the Repository holds a mutex around it).
class SqliteDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDatabase>> Open(const std::string& path);
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  ~SqliteDatabase();

  // Runs one or more statements that return no rows (schema, pragmas, BEGIN).
  absl::Status Exec(const std::string& sql);
  // Returns the cached prepared statement for `sql`, reset and ready to bind.
  absl::StatusOr<SqliteStatement*> Prepare(const std::string& sql);

 private:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  // Declared after db_ so statements are finalized before the connection closes.
  std::map<std::string, std::unique_ptr<SqliteStatement>> statements_;
};

// Commits on Commit(), rolls back if destroyed before that.
class SqliteTransaction {
 public:
  static absl::StatusOr<SqliteTransaction> Begin(SqliteDatabase* db);
  SqliteTransaction(SqliteTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  ~SqliteTransaction();

  absl::Status Commit();

 private:
  explicit SqliteTransaction(SqliteDatabase* db) : db_(db) {}
  SqliteDatabase* db_;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_SQLITE_DATABASE_H_
