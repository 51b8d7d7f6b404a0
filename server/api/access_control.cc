#include "server/api/access_control.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/access_tokens.h"
#include "common/sha256.h"
#include "engine/status_macros.h"

namespace quantd::server {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

const char* PermissionName(Permission permission) {
  switch (permission) {
    case Permission::kReadModels:
      return "read models";
    case Permission::kReadAll:
      return "read datasets and jobs";
    case Permission::kInfer:
      return "infer";
    case Permission::kBuild:
      return "upload, quantize and download";
    case Permission::kAdmin:
      return "delete";
  }
  return "?";
}

// kRoleNames lists the roles in the order of the enum.
const char* RoleName(Role role) { return kRoleNames[static_cast<size_t>(role)]; }

// Compares every byte, so the time taken does not tell how much matched.
bool ConstantTimeEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// The bearer token of the call, or "" when it sent none.
std::string BearerToken(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  const absl::string_view value(it->second.data(), it->second.size());
  // The scheme name is case-insensitive (RFC 6750, RFC 7235).
  if (!absl::StartsWithIgnoreCase(value, kBearer)) return "";
  return std::string(absl::StripAsciiWhitespace(value.substr(kBearer.size())));
}

}  // namespace

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (size_t i = 0; i < kRoleNames.size(); ++i) {
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "'; roles are admin, build, infer, read"));
}

bool RoleGrants(Role role, Permission permission) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kBuild:
      return permission != Permission::kAdmin && permission != Permission::kInfer;
    case Role::kInfer:
      return permission == Permission::kReadModels || permission == Permission::kInfer;
    case Role::kRead:
      return permission == Permission::kReadModels || permission == Permission::kReadAll;
  }
  return false;
}

absl::StatusOr<AccessControl::Entries> AccessControl::ReadTokenFile(
    const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(absl::StrCat("cannot read --token_file '", path.string(), "'"));
  Entries entries;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text.front() == '#') continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const std::string where = absl::StrCat("--token_file '", path.string(), "' line ", number);
    if (fields.size() < 2 || fields.size() > 3 ||
        !IsSha256Hex(std::string_view(fields[0].data(), fields[0].size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected '<sha256 of the token, 64 hex digits> <role> [name]'"));
    }
    absl::StatusOr<Role> role = ParseRole(fields[1]);
    if (!role.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", role.status().message()));
    entries.push_back(
        Entry{std::string(fields[0]), *role, fields.size() == 3 ? std::string(fields[2]) : ""});
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file '", path.string(),
                                                   "' holds no token; add one with quantctl "
                                                   "new-token"));
  }
  return entries;
}

absl::StatusOr<AccessControl> AccessControl::FromTokenFile(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(Entries entries, ReadTokenFile(path));
  AccessControl access;
  access.token_file_ = path;
  {
    absl::MutexLock lock(access.mu_.get());
    access.entries_ = std::make_shared<const Entries>(std::move(entries));
  }
  return access;
}

absl::StatusOr<int> AccessControl::ReloadTokenFile() {
  if (token_file_.empty()) {
    return absl::FailedPreconditionError("no --token_file to reload (--insecure_no_auth)");
  }
  ASSIGN_OR_RETURN(Entries entries, ReadTokenFile(token_file_));
  const int count = static_cast<int>(entries.size());
  auto fresh = std::make_shared<const Entries>(std::move(entries));
  absl::MutexLock lock(mu_.get());
  entries_ = std::move(fresh);
  return count;
}

std::shared_ptr<const AccessControl::Entries> AccessControl::entries() const {
  absl::MutexLock lock(mu_.get());
  return entries_;
}

AccessControl AccessControl::AllowAll() {
  AccessControl access;
  access.enabled_ = false;
  return access;
}

absl::Status AccessControl::Authorize(const grpc::ServerContext& context,
                                      Permission permission) const {
  if (!enabled_) return absl::OkStatus();
  const std::string token = BearerToken(context);
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "this call needs a bearer token (metadata 'authorization: Bearer <token>'; quantctl "
        "--token_file)");
  }
  const std::string digest = Sha256Hex(token);
  const std::shared_ptr<const Entries> entries = this->entries();
  const Entry* match = nullptr;
  for (const Entry& entry : *entries) {
    if (ConstantTimeEqual(entry.sha256, digest)) match = &entry;
  }
  if (match == nullptr) return absl::UnauthenticatedError("the bearer token is not known");
  if (!RoleGrants(match->role, permission)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role '", RoleName(match->role), "' may not ", PermissionName(permission)));
  }
  return absl::OkStatus();
}

}  // namespace quantd::server
