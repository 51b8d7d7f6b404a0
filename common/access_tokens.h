#ifndef QUANTD_COMMON_ACCESS_TOKENS_H_
#define QUANTD_COMMON_ACCESS_TOKENS_H_

// Bearer tokens, as the server checks them (server/api/access_control.h) and
// quantctl makes and sends them.

#include <array>
#include <string>

#include "absl/status/statusor.h"

namespace quantd {

// The roles a token can have, as written in the server's token file.
inline constexpr std::array<const char*, 4> kRoleNames = {"admin", "build", "infer", "read"};

// A new token: 32 bytes from the kernel's random source, as 64 hex digits.
absl::StatusOr<std::string> GenerateToken();

// The token file line that grants `role` to `token` held by `name`: the
// token's SHA-256 (the file never holds the token itself), role and name.
std::string TokenFileLine(const std::string& token, const std::string& role,
                          const std::string& name);

}  // namespace quantd

#endif  // QUANTD_COMMON_ACCESS_TOKENS_H_
