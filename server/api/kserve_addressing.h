#ifndef QUANTD_SERVER_API_KSERVE_ADDRESSING_H_
#define QUANTD_SERVER_API_KSERVE_ADDRESSING_H_

#include <string>

#include "absl/status/statusor.h"
#include "quantd/v1/quantd.pb.h"
#include "server/storage/repository.h"

namespace quantd::server {

// How KServe requests name quantd's models and versions.

// The model `name` addresses: the model with that id, else the one model
// uploaded under that name. NOT_FOUND when none, INVALID_ARGUMENT naming the
// ids when several models share the name (then only an id is unambiguous).
absl::StatusOr<v1::Model> FindKServeModel(const Repository& repository, const std::string& name);

// The same, and when `version` is not empty, NOT_FOUND or INVALID_ARGUMENT
// unless the model has that version (see ResolveKServeVersion).
absl::StatusOr<v1::Model> FindKServeModel(const Repository& repository, const std::string& name,
                                          const std::string& version);

// The name quantd reports for `model` (model metadata, repository index,
// statistics): its name when no other model has it, else its id.
std::string KServeName(const Repository& repository, const v1::Model& model);

// The version `version` names: "1", "2", ... or "" for the one quantd serves
// by default, the newest INT8 version when there is one, else the newest.
// INVALID_ARGUMENT for a string that is not a version number, NOT_FOUND for
// a version the model lacks.
absl::StatusOr<v1::ModelVersion> ResolveKServeVersion(const v1::Model& model,
                                                      const std::string& version);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_KSERVE_ADDRESSING_H_
