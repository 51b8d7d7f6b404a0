#include "server/api/kserve_addressing.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace quantd::server {

absl::StatusOr<v1::Model> FindKServeModel(const Repository& repository, const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("model name is required");
  if (absl::StatusOr<v1::Model> by_id = repository.GetModel(name); by_id.ok()) return by_id;
  const std::vector<v1::Model> named = repository.FindModelsNamed(name);
  if (named.empty()) {
    return absl::NotFoundError(absl::StrCat("no model has the id or name '", name, "'"));
  }
  if (named.size() > 1) {
    std::vector<std::string> ids;
    for (const v1::Model& model : named) ids.push_back(model.id());
    return absl::InvalidArgumentError(absl::StrCat("models ", absl::StrJoin(ids, ", "),
                                                   " share the name '", name,
                                                   "'; address one by its id"));
  }
  return named.front();
}

absl::StatusOr<v1::Model> FindKServeModel(const Repository& repository, const std::string& name,
                                          const std::string& version) {
  absl::StatusOr<v1::Model> model = FindKServeModel(repository, name);
  if (!model.ok() || version.empty()) return model;
  if (absl::Status status = ResolveKServeVersion(*model, version).status(); !status.ok()) {
    return status;
  }
  return model;
}

std::string KServeName(const Repository& repository, const v1::Model& model) {
  return repository.FindModelsNamed(model.name()).size() == 1 ? model.name() : model.id();
}

absl::StatusOr<v1::ModelVersion> ResolveKServeVersion(const v1::Model& model,
                                                      const std::string& version) {
  if (version.empty()) {
    const v1::ModelVersion* chosen = nullptr;
    for (const v1::ModelVersion& v : model.versions()) {
      const bool better = chosen == nullptr ||
                          (v.precision() == v1::INT8) > (chosen->precision() == v1::INT8) ||
                          ((v.precision() == v1::INT8) == (chosen->precision() == v1::INT8) &&
                           v.version() > chosen->version());
      if (better) chosen = &v;
    }
    if (chosen == nullptr) {
      return absl::NotFoundError(absl::StrCat("model '", model.id(), "' has no version"));
    }
    return *chosen;
  }
  int32_t number = 0;
  // Digits only: SimpleAtoi alone would also take " 2" or "+2".
  const bool digits = std::all_of(version.begin(), version.end(), absl::ascii_isdigit);
  if (!digits || !absl::SimpleAtoi(version, &number) || number < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("model version '", version, "' is not a version number (\"1\", \"2\", ...)"));
  }
  for (const v1::ModelVersion& v : model.versions()) {
    if (v.version() == number) return v;
  }
  return absl::NotFoundError(absl::StrCat("model '", model.id(), "' has no version ", number));
}

}  // namespace quantd::server
