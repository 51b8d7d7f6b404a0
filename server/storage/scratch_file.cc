#include "server/storage/scratch_file.h"

#include <system_error>

#include "absl/strings/str_cat.h"
#include "server/storage/atomic_file.h"
#include "server/storage/resource_id.h"

namespace quantd::server {

ScratchFile::ScratchFile(const std::filesystem::path& dir, const std::string& part)
    : path_(dir / absl::StrCat(part, kTempFileMarker, NewResourceId("upload"))) {}

ScratchFile::~ScratchFile() {
  out_.close();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

absl::Status ScratchFile::Append(std::string_view bytes) {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("scratch file '", path_.string(), "' is closed"));
  }
  if (!out_.is_open()) {
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) return WriteError();
  }
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) return WriteError();
  size_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::Status ScratchFile::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  if (!out_.is_open()) {
    // Nothing appended: an empty file, so readers report "empty", not "missing".
    out_.open(path_, std::ios::binary | std::ios::trunc);
    if (!out_) return WriteError();
  }
  out_.close();
  if (!out_) return WriteError();
  return absl::OkStatus();
}

absl::Status ScratchFile::WriteError() const {
  return absl::InternalError(absl::StrCat("cannot write scratch file '", path_.string(), "'"));
}

}  // namespace quantd::server
