// quantctl new-token and health: making a bearer token, and the check that
// needs none.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/rpc_error.h"
#include "common/access_tokens.h"
#include "inference/grpc_service.grpc.pb.h"

namespace quantd::client {

int NewTokenCommand(const std::vector<std::string>& args, const std::string& token_out) {
  if (args.empty() || args.size() > 2) {
    return ReportUsageError("usage: quantctl new-token ROLE [NAME] --token_out=FILE");
  }
  const std::string& role = args[0];
  if (std::find(kRoleNames.begin(), kRoleNames.end(), role) == kRoleNames.end()) {
    return ReportUsageError(
        absl::StrCat("unknown role '", role, "'; roles are admin, build, infer, read"));
  }
  if (token_out.empty()) return ReportUsageError("new-token needs --token_out=FILE");
  // The server's token file splits lines at whitespace.
  if (args.size() == 2 && args[1].find_first_of(" \t\r\n") != std::string::npos) {
    return ReportUsageError("the token's NAME may not contain whitespace");
  }
  const absl::StatusOr<std::string> token = GenerateToken();
  if (!token.ok()) {
    std::fprintf(stderr, "quantctl: %s\n", std::string(token.status().message()).c_str());
    return kExitFailure;
  }
  // Readable by its owner only, and never over an existing file (which may
  // hold another token someone relies on).
  const int fd = open(token_out.c_str(), O_WRONLY | O_CREAT | O_EXCL, S_IRUSR | S_IWUSR);
  if (fd < 0) {
    std::fprintf(stderr, "quantctl: cannot create %s (it must not exist yet)\n", token_out.c_str());
    return kExitFailure;
  }
  const std::string contents = *token + "\n";
  const bool written =
      write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size());
  if (close(fd) != 0 || !written) {
    unlink(token_out.c_str());  // a partial file would block the retry (O_EXCL)
    std::fprintf(stderr, "quantctl: writing %s failed\n", token_out.c_str());
    return kExitFailure;
  }
  std::printf("%s\n", TokenFileLine(*token, role, args.size() == 2 ? args[1] : "").c_str());
  return kExitOk;
}

int HealthCommand(grpc::Channel& channel, const ClientOptions& options) {
  auto stub = inference::GRPCInferenceService::NewStub(
      std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  SetUnaryDeadline(context, options);
  inference::ServerReadyResponse ready;
  const grpc::Status status = stub->ServerReady(&context, {}, &ready);
  if (!status.ok()) return ReportRpcError("health check", status, options.server);
  if (!ready.ready()) {
    std::fprintf(stderr, "quantctl: %s is not ready\n", options.server.c_str());
    return kExitFailure;
  }
  std::printf("ready\n");
  return kExitOk;
}

}  // namespace quantd::client
