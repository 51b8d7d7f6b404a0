#ifndef QUANTD_CLIENT_FILE_DIGEST_H_
#define QUANTD_CLIENT_FILE_DIGEST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace quantd::client {

// Incremental SHA-256 (FIPS 180-4). The server checks every upload against the
// digest in its header; the client keeps its own copy so it stays independent
// of the server library.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view bytes);
  // Lowercase hex digest; the object must not be updated afterwards.
  std::string HexDigest();

 private:
  void Compress(const uint8_t block[64]);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffer_size_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string Sha256Hex(std::string_view bytes);

// Reads a whole file into memory; NOT_FOUND / INTERNAL name the path.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_FILE_DIGEST_H_
