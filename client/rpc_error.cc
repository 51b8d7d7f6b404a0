#include "client/rpc_error.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/client_options.h"

namespace quantd::client {
namespace {

std::string Hint(grpc::StatusCode code, absl::string_view server) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::StrCat("is quantd running and listening on ", server,
                          "? Pass --server=HOST:PORT to reach another address.");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "the server did not answer in time; raise --timeout or check its load.";
    case grpc::StatusCode::NOT_FOUND:
      return "check the id: `quantctl list-models`, `quantctl list-datasets` and "
             "`quantctl list-jobs` list what exists.";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "the server rejected the request or the file; fix what the message names "
             "and retry.";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "the upload is over a server limit; use a smaller file or restart quantd "
             "with a higher limit (e.g. --max_model_bytes).";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "the object is not in the needed state; the message says why (a job still "
             "uses it: `quantctl cancel JOB_ID` or wait for it; no int8 version yet: run "
             "`quantctl quantize` first; a job already ended: nothing to cancel).";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "the model uses something quantd does not support yet.";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "use the existing object or pick another name.";
    default:
      return "see the server's log for details.";
  }
}

}  // namespace

int ReportRpcError(absl::string_view action, const grpc::Status& status, absl::string_view server) {
  const auto code_name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::fprintf(stderr, "quantctl: %.*s failed: %s: %s\n  hint: %s\n",
               static_cast<int>(action.size()), action.data(), code_name.c_str(),
               status.error_message().c_str(), Hint(status.error_code(), server).c_str());
  return kExitFailure;
}

int ReportLocalError(absl::string_view action, const absl::Status& status) {
  const auto code_name = absl::StatusCodeToString(status.code());
  std::fprintf(stderr, "quantctl: %.*s failed: %s: %.*s\n", static_cast<int>(action.size()),
               action.data(), code_name.c_str(), static_cast<int>(status.message().size()),
               status.message().data());
  return kExitFailure;
}

int ReportUsageError(absl::string_view message) {
  std::fprintf(stderr, "quantctl: %.*s\nRun `quantctl help` for usage.\n",
               static_cast<int>(message.size()), message.data());
  return kExitUsage;
}

}  // namespace quantd::client
