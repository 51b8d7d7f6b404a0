#ifndef QUANTD_ENGINE_DATA_IDX_FILE_H_
#define QUANTD_ENGINE_DATA_IDX_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace quantd::engine {

// One array in the IDX format of MNIST and Fashion-MNIST: a magic number
// {0, 0, element type, rank}, `rank` big-endian 32-bit dimensions, then the
// elements in row-major order. quantd only needs unsigned bytes (type 0x08).
struct IdxUbyteArray {
  std::vector<int64_t> dims;
  std::string values;  // prod(dims) bytes, row-major
};

// Parses the (already inflated) contents of an IDX file that must hold a
// ubyte array of rank `expected_rank`, e.g. magic 0x00000803 for images and
// 0x00000801 for labels. The file size must match the dimensions exactly.
// `what` names the file in errors ("images file 'x.idx'"); all errors are
// INVALID_ARGUMENT.
absl::StatusOr<IdxUbyteArray> ParseIdxUbyte(std::string contents, int expected_rank,
                                            const std::string& what);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_DATA_IDX_FILE_H_
