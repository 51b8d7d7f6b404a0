#ifndef QUANTD_ENGINE_DATA_GZIP_H_
#define QUANTD_ENGINE_DATA_GZIP_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace quantd::engine {

// True if `bytes` starts with the gzip magic number 1f 8b (RFC 1952).
bool IsGzip(std::string_view bytes);

// Inflates a complete gzip stream, including concatenated members (what
// `cat a.gz b.gz` produces). `what` names the source in error messages.
// INVALID_ARGUMENT for corrupt or truncated input, or when the inflated size
// would exceed `max_output_bytes` (a guard against decompression bombs).
absl::StatusOr<std::string> Gunzip(std::string_view compressed, const std::string& what,
                                   size_t max_output_bytes);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_DATA_GZIP_H_
