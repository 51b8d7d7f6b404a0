#ifndef QUANTD_SERVER_STORAGE_SCRATCH_FILE_H_
#define QUANTD_SERVER_STORAGE_SCRATCH_FILE_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace quantd::server {

// A short-lived file in the repository's scratch directory: an upload's
// bytes on their way to the engine's readers, so they need not sit in
// memory as well. Named as a temp file, so a crash leaves no debris that
// survives the next start; removed when the object is destroyed.
class ScratchFile {
 public:
  // `part` starts the file name ("samples", "labels"), for whoever lists
  // the directory while an upload runs.
  ScratchFile(const std::filesystem::path& dir, const std::string& part);
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  ~ScratchFile();

  // Appends `bytes` (the file is created on the first call).
  // FAILED_PRECONDITION after Close().
  absl::Status Append(std::string_view bytes);
  // Flushes and closes the file; call before anything reads it. Once closed
  // the file is never opened for writing again: it may have become a stored
  // model's file (Repository::AddModelFile links it into place).
  absl::Status Close();

  const std::filesystem::path& path() const { return path_; }
  int64_t size() const { return size_; }

 private:
  absl::Status WriteError() const;

  std::filesystem::path path_;
  std::ofstream out_;
  int64_t size_ = 0;
  bool closed_ = false;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_SCRATCH_FILE_H_
