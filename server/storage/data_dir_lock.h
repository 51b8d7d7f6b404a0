#ifndef QUANTD_SERVER_STORAGE_DATA_DIR_LOCK_H_
#define QUANTD_SERVER_STORAGE_DATA_DIR_LOCK_H_

#include <filesystem>

#include "absl/status/statusor.h"

namespace quantd::server {

// An exclusive lock on a data directory (flock on <dir>/quantd.lock) held for
// the life of the object. A second quantd on the same directory would delete
// the first one's in-flight uploads and versions as debris when it opens;
// with the lock it fails at start instead. The kernel drops the lock when the
// process dies, so a crash never leaves the directory locked.
class DataDirLock {
 public:
  // FAILED_PRECONDITION naming the directory when another process (or
  // another DataDirLock in this one) holds it.
  static absl::StatusOr<DataDirLock> Acquire(const std::filesystem::path& data_dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_DATA_DIR_LOCK_H_
