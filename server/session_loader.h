#ifndef QUANTD_SERVER_SESSION_LOADER_H_
#define QUANTD_SERVER_SESSION_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/quant/calibration_table.h"
#include "engine/runtime/inference_session.h"
#include "server/repository.h"

namespace quantd::server {

// Creates a session that owns its calibration table: SessionOptions only
// points at the table, and Plans for new input shapes are compiled lazily, so
// the table must live exactly as long as the session. Engine exceptions
// become INTERNAL errors naming `what`.
absl::StatusOr<std::shared_ptr<engine::InferenceSession>> CreateSession(
    std::string_view onnx_bytes, std::optional<engine::CalibrationTable> int8_calibration,
    const std::string& what);

// Loads a stored model version: fp32 from its ONNX file, int8 from the ONNX
// file plus its calibration table.
absl::StatusOr<std::shared_ptr<engine::InferenceSession>> LoadModelVersion(
    const Repository& repository, const std::string& model_id, int32_t version, bool int8);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SESSION_LOADER_H_
