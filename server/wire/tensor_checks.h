#ifndef QUANTD_SERVER_WIRE_TENSOR_CHECKS_H_
#define QUANTD_SERVER_WIRE_TENSOR_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// Checks shared by both APIs' tensor inputs. `what` names the tensor in the
// message ("input tensor", "input 'x'").

// The number of values `shape` holds. INVALID_ARGUMENT for an empty shape, a
// dimension below 1, or a product beyond int64.
absl::StatusOr<int64_t> CountValues(const std::string& what, absl::Span<const int64_t> shape);

// `shape` has the rank of the model tensor `expected` and its static
// dimensions (those > 0); INVALID_ARGUMENT naming both shapes otherwise.
absl::Status CheckFitsModelTensor(const std::string& what, absl::Span<const int64_t> shape,
                                  const v1::TensorInfo& expected);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_WIRE_TENSOR_CHECKS_H_
