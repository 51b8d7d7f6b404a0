#ifndef QUANTD_SERVER_STORAGE_RESOURCE_ID_H_
#define QUANTD_SERVER_STORAGE_RESOURCE_ID_H_

#include <string>
#include <string_view>

namespace quantd::server {

// A fresh id such as "mdl_3f9c0a7e51b2d846": the prefix says what kind of
// resource it names, 64 random bits make collisions practically impossible.
std::string NewResourceId(const std::string& prefix);

inline constexpr char kModelIdPrefix[] = "mdl";
inline constexpr char kDatasetIdPrefix[] = "ds";
inline constexpr char kJobIdPrefix[] = "job";

}  // namespace quantd::server

#endif  // QUANTD_SERVER_STORAGE_RESOURCE_ID_H_
