#ifndef QUANTD_SERVER_API_GRPC_STATUS_H_
#define QUANTD_SERVER_API_GRPC_STATUS_H_

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"

namespace quantd::server {

// The one place where an absl::Status crosses into gRPC. Both use the same
// canonical code numbers, so the code is carried over unchanged.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Runs an RPC's body (returning absl::Status) and converts its status. Parsing
// and allocation failures surface as exceptions; a client must get an error,
// not a crashed server, so none escapes to gRPC.
template <typename Body>
grpc::Status Guarded(const std::string& rpc, Body&& body) {
  absl::Status status;
  try {
    status = body();
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat(rpc, " failed unexpectedly: ", e.what()));
  } catch (...) {
    status = absl::InternalError(absl::StrCat(rpc, " failed unexpectedly"));
  }
  return ToGrpcStatus(status);
}

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_GRPC_STATUS_H_
