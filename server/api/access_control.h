#ifndef QUANTD_SERVER_API_ACCESS_CONTROL_H_
#define QUANTD_SERVER_API_ACCESS_CONTROL_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "server/api/grpc_status.h"

namespace quantd::server {

// What an RPC needs of its caller.
enum class Permission {
  kReadModels,  // model metadata: ListModels, GetModel, KServe metadata/config/statistics/index
  kReadAll,     // datasets and jobs: List/Get/Watch
  kInfer,       // Infer, ModelInfer
  kBuild,       // uploads, QuantizeModel, CancelJob, DownloadVersion
  kAdmin,       // deletes
};

// Who a token belongs to; each role grants a fixed set of permissions:
//   admin: everything
//   build: read models and all, build (a build system: upload, quantize, download)
//   infer: read models, infer (a production service)
//   read:  read models and all (dashboards, auditors)
// In the order of kRoleNames (common/access_tokens.h).
enum class Role { kAdmin, kBuild, kInfer, kRead };

absl::StatusOr<Role> ParseRole(absl::string_view name);
bool RoleGrants(Role role, Permission permission);

// Bearer-token authentication and role-based authorization of gRPC calls.
// Clients send `authorization: Bearer <token>`; the token file holds only
// SHA-256 digests of tokens, one per line with its role and a name for the
// holder:
//
//   # sha256-of-token                                                   role   name
//   9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08   admin  ops
//
// (`quantctl new-token ROLE NAME` makes a token and prints its line.) Tokens
// themselves are never stored or logged by the server.
class AccessControl {
 public:
  // Reads the token file. INVALID_ARGUMENT naming the line for a malformed
  // line or unknown role; NOT_FOUND if the file cannot be read; an empty
  // file is an error (nobody could call anything).
  static absl::StatusOr<AccessControl> FromTokenFile(const std::filesystem::path& path);
  // Everyone may do everything (--insecure_no_auth).
  static AccessControl AllowAll();

  // OK if the call's token has a role granting `permission`;
  // UNAUTHENTICATED without a bearer token or with an unknown one,
  // PERMISSION_DENIED naming the role and the permission otherwise.
  absl::Status Authorize(const grpc::ServerContext& context, Permission permission) const;

  bool enabled() const { return enabled_; }

  // Reads the token file again (SIGHUP): calls authorized from then on use
  // the new tokens, calls in progress finish with the old. A file that
  // FromTokenFile would refuse keeps the tokens in use and returns why; so
  // does an AccessControl without a file. Returns how many tokens it holds.
  absl::StatusOr<int> ReloadTokenFile();

 private:
  struct Entry {
    std::string sha256;  // lowercase hex
    Role role;
    std::string name;
  };
  using Entries = std::vector<Entry>;

  static absl::StatusOr<Entries> ReadTokenFile(const std::filesystem::path& path);
  std::shared_ptr<const Entries> entries() const;

  bool enabled_ = true;
  std::filesystem::path token_file_;
  // Swapped whole on reload; a pointer, so that AccessControl stays movable.
  std::unique_ptr<absl::Mutex> mu_ = std::make_unique<absl::Mutex>();
  std::shared_ptr<const Entries> entries_ ABSL_GUARDED_BY(*mu_) = std::make_shared<Entries>();
};

// Guarded (grpc_status.h) for an RPC that needs `permission`: the caller is
// authorized first, and refused without running `body` otherwise.
template <typename Body>
grpc::Status Authorized(const AccessControl& access, const grpc::ServerContext* context,
                        Permission permission, const std::string& rpc, Body&& body) {
  return Guarded(rpc, [&]() -> absl::Status {
    if (absl::Status status = access.Authorize(*context, permission); !status.ok()) return status;
    return body();
  });
}

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_ACCESS_CONTROL_H_
