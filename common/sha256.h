#ifndef QUANTD_COMMON_SHA256_H_
#define QUANTD_COMMON_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace quantd {

// SHA-256 (FIPS 180-4), streaming. Uploads are hashed chunk by chunk as they
// arrive, so the whole file never needs a second pass.
class Sha256 {
 public:
  Sha256();

  void Update(std::string_view bytes);
  // Finishes the digest and returns it as 64 lowercase hex characters. The
  // object must not be updated afterwards.
  std::string FinalHex();

 private:
  void ProcessBlock(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// One-shot convenience: the lowercase hex digest of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// True if `digest` is 64 lowercase hex characters.
bool IsSha256Hex(std::string_view digest);

}  // namespace quantd

#endif  // QUANTD_COMMON_SHA256_H_
