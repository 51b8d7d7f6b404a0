#ifndef QUANTD_CLIENT_RPC_ERROR_H_
#define QUANTD_CLIENT_RPC_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace quantd::client {

// Prints "quantctl: <action> failed: CODE: message" and a hint on what to do
// next to stderr; returns the failure exit code.
int ReportRpcError(absl::string_view action, const grpc::Status& status, absl::string_view server);

// The same for errors found on this side of the wire (files, arguments).
int ReportLocalError(absl::string_view action, const absl::Status& status);

// Prints "quantctl: <message>" and a pointer to `quantctl help`; returns the
// usage exit code.
int ReportUsageError(absl::string_view message);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_RPC_ERROR_H_
