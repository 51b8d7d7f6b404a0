#include "server/wire/tensor_checks.h"

#include "absl/strings/str_cat.h"
#include "server/wire/proto_conversion.h"

namespace quantd::server {

absl::StatusOr<int64_t> CountValues(const std::string& what, absl::Span<const int64_t> shape) {
  if (shape.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no shape; expected e.g. [N,C,H,W]"));
  }
  int64_t values = 1;
  for (const int64_t d : shape) {
    if (d <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " shape ", ShapeToString(shape), " has a non-positive dimension"));
    }
    if (__builtin_mul_overflow(values, d, &values)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " shape ", ShapeToString(shape), " holds more than 2^63 values"));
    }
  }
  return values;
}

absl::Status CheckFitsModelTensor(const std::string& what, absl::Span<const int64_t> shape,
                                  const v1::TensorInfo& expected) {
  bool fits = expected.shape_size() == static_cast<int>(shape.size());
  for (int i = 0; fits && i < expected.shape_size(); ++i) {
    fits = expected.shape(i) <= 0 || expected.shape(i) == shape[static_cast<size_t>(i)];
  }
  if (fits) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " shape ", ShapeToString(shape),
                                                 " does not fit model input '", expected.name(),
                                                 "' ", ShapeToString(expected.shape())));
}

}  // namespace quantd::server
