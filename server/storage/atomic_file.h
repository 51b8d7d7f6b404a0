#ifndef QUANTD_SERVER_STORAGE_ATOMIC_FILE_H_
#define QUANTD_SERVER_STORAGE_ATOMIC_FILE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quantd::server {

// Marks temporary files, so that leftovers of a crash can be recognised and
// removed on the next start.
inline constexpr char kTempFileMarker[] = ".tmp-";

// Writes `contents` to `path` so that readers see either the old file or the
// complete new one, even across a crash: temp file in the same directory,
// fsync, rename over `path`, fsync the directory.
absl::Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

// Makes `path` a second name of `existing` (a hard link) atomically, falling
// back to an atomic copy where the file system does not support hard links.
// Flushes `existing` to disk first.
absl::Status LinkOrCopyFileAtomically(const std::filesystem::path& existing,
                                      const std::filesystem::path& path);

// Creates `dir` and any missing parents, fsyncing each parent whose entries
// changed so the new directories survive a crash.
absl::Status CreateDirectoriesDurably(const std::filesystem::path& dir);

absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path);

// Removes temp files left behind under `root` by an interrupted write.
void RemoveStaleTempFiles(const std::filesystem::path& root);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_ATOMIC_FILE_H_
