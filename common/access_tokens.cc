#include "common/access_tokens.h"

#include <sys/random.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "common/sha256.h"

namespace quantd {

absl::StatusOr<std::string> GenerateToken() {
  unsigned char bytes[32];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0) return absl::InternalError("getrandom failed; no token was made");
    filled += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

std::string TokenFileLine(const std::string& token, const std::string& role,
                          const std::string& name) {
  std::string line = Sha256Hex(token);
  line.append(" ").append(role);
  if (!name.empty()) line.append(" ").append(name);
  return line;
}

}  // namespace quantd
