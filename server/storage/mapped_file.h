#ifndef QUANTD_SERVER_STORAGE_MAPPED_FILE_H_
#define QUANTD_SERVER_STORAGE_MAPPED_FILE_H_

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"

namespace quantd::server {

// A file's bytes mapped read-only into memory. The pages belong to the page
// cache, not to the process's heap: a model upload is inspected from the file
// it streamed into without a second copy of its bytes. Move-only.
class MappedFile {
 public:
  // NOT_FOUND / INTERNAL naming the path when the file cannot be mapped.
  static absl::StatusOr<MappedFile> Open(const std::filesystem::path& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void Unmap();

  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_MAPPED_FILE_H_
