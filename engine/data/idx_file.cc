#include "engine/data/idx_file.h"

#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace quantd::engine {
namespace {

constexpr unsigned char kIdxTypeUbyte = 0x08;

uint32_t ReadBigEndian32(std::string_view bytes, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return v;
}

}  // namespace

absl::StatusOr<IdxUbyteArray> ParseIdxUbyte(std::string contents, int expected_rank,
                                            const std::string& what) {
  const uint32_t expected_magic = (uint32_t{kIdxTypeUbyte} << 8) | uint32_t(expected_rank);
  if (contents.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", contents.size(), " bytes is too short for an IDX magic number"));
  }
  const uint32_t magic = ReadBigEndian32(contents, 0);
  if ((magic >> 16) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not an IDX file: magic 0x%08X, expected 0x%08X", what, magic, expected_magic));
  }
  const unsigned type = (magic >> 8) & 0xff;
  const int rank = static_cast<int>(magic & 0xff);
  if (type != kIdxTypeUbyte) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: IDX element type 0x%02X is not supported, expected 0x08 (unsigned byte)", what, type));
  }
  if (rank != expected_rank) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: IDX array has rank %d (magic 0x%08X), expected rank %d (magic 0x%08X)",
                        what, rank, magic, expected_rank, expected_magic));
  }
  const size_t header_bytes = 4 + 4 * size_t(rank);
  if (contents.size() < header_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": IDX header is truncated: ", contents.size(), " bytes, a rank-", rank,
                     " header needs ", header_bytes));
  }

  IdxUbyteArray array;
  const uint64_t data_bytes = contents.size() - header_bytes;
  // Absurd headers (a product beyond 64 bits) must not wrap around into a
  // plausible size; nothing is allocated before the size check.
  uint64_t expected_bytes = 1;
  bool overflowed = false;
  for (int i = 0; i < rank; ++i) {
    const uint32_t dim = ReadBigEndian32(contents, 4 + 4 * size_t(i));
    // The IDX format stores dimensions as signed 32-bit integers.
    if (dim == 0 || dim > uint32_t{std::numeric_limits<int32_t>::max()}) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": IDX dimension ", i, " is ", dim, ", expected 1..2147483647"));
    }
    array.dims.push_back(dim);
    if (!overflowed && __builtin_mul_overflow(expected_bytes, uint64_t{dim}, &expected_bytes)) {
      overflowed = true;
    }
  }
  if (overflowed || expected_bytes != data_bytes) {
    const std::string need =
        overflowed ? absl::StrCat("more than ", data_bytes) : absl::StrCat(expected_bytes);
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": IDX dimensions [", absl::StrJoin(array.dims, ", "), "] need ", need,
        " data bytes after the ", header_bytes, "-byte header, but the file has ", data_bytes,
        data_bytes < expected_bytes || overflowed ? " (truncated?)" : " (trailing bytes?)"));
  }
  contents.erase(0, header_bytes);
  array.values = std::move(contents);
  return array;
}

}  // namespace quantd::engine
