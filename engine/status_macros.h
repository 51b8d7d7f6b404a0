#ifndef QUANTD_ENGINE_STATUS_MACROS_H_
#define QUANTD_ENGINE_STATUS_MACROS_H_

// Abseil 20220623 (Debian bookworm) ships no status_macros.h, so quantd defines
// the two macros it needs once, here.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QUANTD_CONCAT_INNER_(a, b) a##b
#define QUANTD_CONCAT_(a, b) QUANTD_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the caller if not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    const ::absl::Status quantd_status_ = (expr);    \
    if (!quantd_status_.ok()) return quantd_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());`
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(QUANTD_CONCAT_(quantd_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // QUANTD_ENGINE_STATUS_MACROS_H_
