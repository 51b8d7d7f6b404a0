#ifndef QUANTD_SERVER_SERVING_SESSION_LOADER_H_
#define QUANTD_SERVER_SERVING_SESSION_LOADER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"
#include "engine/runtime/inference_session.h"
#include "quantd/v1/quantd.pb.h"
#include "server/storage/repository.h"

namespace quantd::server {

// Creates a session that owns its calibration table: SessionOptions only
// points at the table, and Plans for new input shapes are compiled lazily, so
// the table must live exactly as long as the session. `quantization` applies
// to int8 sessions only; `fold_batch_norm` to both (see SessionOptions).
// `idle_memory`: the server's budget for activation buffers kept between runs
// (sessions that Infer serves), null for sessions used once.
// Engine exceptions become INTERNAL errors naming `what`.
absl::StatusOr<std::shared_ptr<engine::InferenceSession>> CreateSession(
    std::string_view onnx_bytes, std::optional<engine::CalibrationTable> int8_calibration,
    const std::string& what, const engine::QuantizationOptions& quantization = {},
    bool fold_batch_norm = true, std::shared_ptr<engine::IdleMemoryBudget> idle_memory = nullptr);

// Loads a stored model version: fp32 from its ONNX file, int8 from the ONNX
// file, its calibration table and the quantization options it was made with.
absl::StatusOr<std::shared_ptr<engine::InferenceSession>> LoadModelVersion(
    const Repository& repository, const std::string& model_id, const v1::ModelVersion& version,
    std::shared_ptr<engine::IdleMemoryBudget> idle_memory = nullptr);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SERVING_SESSION_LOADER_H_
