#ifndef QUANTD_SERVER_API_GRPC_STATUS_H_
#define QUANTD_SERVER_API_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace quantd::server {

// The one place where an absl::Status crosses into gRPC. Both use the same
// canonical code numbers, so the code is carried over unchanged.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_GRPC_STATUS_H_
