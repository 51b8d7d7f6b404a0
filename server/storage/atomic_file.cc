#include "server/storage/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/storage/resource_id.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(const std::string& what, const fs::path& path, int error) {
  return absl::InternalError(absl::StrCat(what, " '", path.string(), "': ", std::strerror(error)));
}

// Closes the descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now so the caller can see close() errors (e.g. delayed write errors).
  int Close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

absl::Status SyncDirectory(const fs::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir, errno);
  return absl::OkStatus();
}

fs::path TempPathFor(const fs::path& path) {
  return fs::path(absl::StrCat(path.string(), kTempFileMarker, NewResourceId("w")));
}

}  // namespace

absl::Status WriteFileAtomically(const fs::path& path, std::string_view contents) {
  const fs::path temp = TempPathFor(path);
  {
    FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) return ErrnoError("cannot create", temp, errno);
    const char* data = contents.data();
    size_t remaining = contents.size();
    while (remaining > 0) {
      const ssize_t written = ::write(fd.get(), data, remaining);
      if (written < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        ::unlink(temp.c_str());
        return ErrnoError("cannot write", temp, error);
      }
      data += written;
      remaining -= static_cast<size_t>(written);
    }
    if (::fsync(fd.get()) != 0 || fd.Close() != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      return ErrnoError("cannot flush", temp, error);
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return ErrnoError("cannot rename temp file to", path, error);
  }
  return SyncDirectory(path.parent_path());
}

absl::Status LinkOrCopyFileAtomically(const fs::path& existing, const fs::path& path) {
  {
    // `existing` may be fresh (a streamed upload): its bytes reach the disk
    // before any name that outlives a crash points at them.
    FileDescriptor fd(::open(existing.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError("cannot open", existing, errno);
    if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync", existing, errno);
  }
  const fs::path temp = TempPathFor(path);
  if (::link(existing.c_str(), temp.c_str()) == 0) {
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      return ErrnoError("cannot rename temp link to", path, error);
    }
    return SyncDirectory(path.parent_path());
  }
  auto contents = ReadFileToString(existing);
  if (!contents.ok()) return contents.status();
  return WriteFileAtomically(path, *contents);
}

absl::Status CreateDirectoriesDurably(const fs::path& dir) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", *it, errno);
    }
    const fs::path parent = it->parent_path().empty() ? fs::path(".") : it->parent_path();
    if (absl::Status s = SyncDirectory(parent); !s.ok()) return s;
  }
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", dir.string(), "' exists but is not a directory"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileToString(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path.string(), "'"));
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  std::string contents;
  if (!ec) contents.resize(size);
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!in || in.peek() != std::char_traits<char>::eof()) {
    return absl::DataLossError(absl::StrCat("cannot read '", path.string(),
                                            "' completely (was it changed while reading?)"));
  }
  return contents;
}

void RemoveStaleTempFiles(const fs::path& root) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) &&
        it->path().filename().string().find(kTempFileMarker) != std::string::npos) {
      stale.push_back(it->path());
    }
  }
  for (const fs::path& p : stale) fs::remove(p, ec);
}

}  // namespace quantd::server
