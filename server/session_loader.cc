#include "server/session_loader.h"

#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace quantd::server {
namespace {

struct SessionWithTable {
  engine::CalibrationTable table;
  std::unique_ptr<engine::InferenceSession> session;
};

}  // namespace

absl::StatusOr<std::shared_ptr<engine::InferenceSession>> CreateSession(
    std::string_view onnx_bytes, std::optional<engine::CalibrationTable> int8_calibration,
    const std::string& what) {
  auto holder = std::make_shared<SessionWithTable>();
  engine::SessionOptions options;
  if (int8_calibration.has_value()) {
    holder->table = std::move(*int8_calibration);
    options.precision = engine::Precision::kInt8;
    options.calibration = &holder->table;
  }
  absl::StatusOr<std::unique_ptr<engine::InferenceSession>> session;
  try {
    session = engine::InferenceSession::Create(onnx_bytes, options);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot load ", what, ": ", e.what()));
  }
  if (!session.ok()) return session.status();
  holder->session = std::move(*session);
  engine::InferenceSession* raw = holder->session.get();
  // Aliasing constructor: the returned pointer keeps the table alive too.
  return std::shared_ptr<engine::InferenceSession>(std::move(holder), raw);
}

absl::StatusOr<std::shared_ptr<engine::InferenceSession>> LoadModelVersion(
    const Repository& repository, const std::string& model_id, int32_t version, bool int8) {
  ASSIGN_OR_RETURN(const std::string onnx, repository.ReadModelFile(model_id, version));
  const std::string what = absl::StrCat("model '", model_id, "' version ", version);
  if (!int8) return CreateSession(onnx, std::nullopt, what);
  ASSIGN_OR_RETURN(const std::string text, repository.ReadCalibrationTable(model_id, version));
  absl::StatusOr<engine::CalibrationTable> table = engine::CalibrationTable::Parse(text);
  if (!table.ok()) {
    return absl::DataLossError(
        absl::StrCat("calibration table of ", what, " is corrupt: ", table.status().message()));
  }
  return CreateSession(onnx, std::move(*table), what);
}

}  // namespace quantd::server
