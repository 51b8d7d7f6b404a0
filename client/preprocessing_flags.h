#ifndef QUANTD_CLIENT_PREPROCESSING_FLAGS_H_
#define QUANTD_CLIENT_PREPROCESSING_FLAGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/client_options.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::client {

// The PreprocessingSpec given by --crop=HxW, --resize_shorter_side, --scale,
// --mean, --std and --color; nullopt when none of them is set. INVALID_ARGUMENT
// with what to type when a flag is malformed or set without --crop. The
// server validates the combination.
absl::StatusOr<std::optional<v1::PreprocessingSpec>> PreprocessingFromFlags(
    const ClientOptions& options);

// "crop 28x28, resize 32, scale 0.00392, mean [..], std [..], RGB" for messages.
std::string FormatPreprocessing(const v1::PreprocessingSpec& spec);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_PREPROCESSING_FLAGS_H_
