#ifndef QUANTD_TESTS_E2E_TEMP_DIR_H_
#define QUANTD_TESTS_E2E_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace quantd::e2e {

// A temporary directory removed with the object: a data directory that
// outlives one server process so the next one can be started on it.
class TempDir {
 public:
  TempDir() {
    std::string path = (std::filesystem::temp_directory_path() / "quantd-e2e-data-XXXXXX").string();
    if (mkdtemp(path.data()) != nullptr) path_ = path;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace quantd::e2e

#endif  // QUANTD_TESTS_E2E_TEMP_DIR_H_
