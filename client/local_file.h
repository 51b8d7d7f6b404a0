#ifndef QUANTD_CLIENT_LOCAL_FILE_H_
#define QUANTD_CLIENT_LOCAL_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace quantd::client {

// Reads a whole file into memory; NOT_FOUND / INTERNAL name the path.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_LOCAL_FILE_H_
