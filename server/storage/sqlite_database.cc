#include "server/storage/sqlite_database.h"

#include <sqlite3.h>

#include "absl/strings/str_cat.h"

namespace quantd::server {
namespace {

constexpr int kBusyTimeoutMs = 5000;

}  // namespace

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

absl::Status SqliteStatement::Check(int rc, const std::string& what) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("sqlite ", what, " of '", sqlite3_sql(stmt_),
                                          "' failed: ", sqlite3_errmsg(db_)));
}

absl::Status SqliteStatement::BindInt64(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), "bind");
}

absl::Status SqliteStatement::BindText(int index, std::string_view value) {
  return Check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      "bind");
}

absl::Status SqliteStatement::BindBlob(int index, std::string_view value) {
  // A null pointer would bind SQL NULL; an empty blob must stay a blob.
  static constexpr char kEmpty = 0;
  return Check(sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(),
                                   value.size(), SQLITE_TRANSIENT),
               "bind");
}

absl::StatusOr<bool> SqliteStatement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Check(rc, "step");
}

absl::Status SqliteStatement::Execute() {
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  return absl::OkStatus();
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string SqliteStatement::ColumnText(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string SqliteStatement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return "";
  return std::string(static_cast<const char*>(blob),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

absl::StatusOr<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return absl::UnavailableError(absl::StrCat("cannot open database '", path, "': ", message));
  }
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw));
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // WAL lets a crash lose at most the last commit's tail, never corrupt the
  // file; synchronous=FULL makes every commit durable before it returns.
  // The pragma answers with the mode it got: a filesystem without the shared
  // memory WAL needs keeps the old mode, without an error.
  absl::StatusOr<SqliteStatement*> wal = db->Prepare("PRAGMA journal_mode=WAL");
  if (!wal.ok()) return wal.status();
  absl::StatusOr<bool> row = (*wal)->Step();
  if (!row.ok()) return row.status();
  const std::string mode = *row ? (*wal)->ColumnText(0) : std::string();
  (*wal)->Reset();  // no read left open on the cached statement
  if (mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("database '", path, "' cannot use write-ahead logging (journal mode '", mode,
                     "'); put --data_dir on a local filesystem"));
  }
  absl::Status status = db->Exec("PRAGMA synchronous=FULL;");
  if (!status.ok()) return status;
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  statements_.clear();
  sqlite3_close(db_);
}

absl::Status SqliteDatabase::Exec(const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat("sqlite '", sql, "' failed: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<SqliteStatement*> SqliteDatabase::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return absl::InternalError(
          absl::StrCat("sqlite cannot prepare '", sql, "': ", sqlite3_errmsg(db_)));
    }
    it = statements_.emplace(sql, std::make_unique<SqliteStatement>(db_, stmt)).first;
  }
  it->second->Reset();
  return it->second.get();
}

absl::StatusOr<SqliteTransaction> SqliteTransaction::Begin(SqliteDatabase* db) {
  absl::Status status = db->Exec("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  return SqliteTransaction(db);
}

SqliteTransaction::~SqliteTransaction() {
  if (db_ != nullptr) db_->Exec("ROLLBACK").IgnoreError();
}

absl::Status SqliteTransaction::Commit() {
  absl::Status status = db_->Exec("COMMIT");
  if (status.ok()) db_ = nullptr;
  return status;
}

}  // namespace quantd::server
