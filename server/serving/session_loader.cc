#include "server/serving/session_loader.h"

#include <exception>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/storage/mapped_file.h"
#include "server/wire/quantization_settings.h"

namespace quantd::server {
namespace {

struct SessionWithTable {
  engine::CalibrationTable table;
  std::unique_ptr<engine::InferenceSession> session;
};

}  // namespace

absl::StatusOr<std::shared_ptr<engine::InferenceSession>> CreateSession(
    std::string_view onnx_bytes, std::optional<engine::CalibrationTable> int8_calibration,
    const std::string& what, const engine::QuantizationOptions& quantization, bool fold_batch_norm,
    std::shared_ptr<engine::IdleMemoryBudget> idle_memory) {
  auto holder = std::make_shared<SessionWithTable>();
  engine::SessionOptions options;
  options.fold_batch_norm = fold_batch_norm;
  options.idle_memory = std::move(idle_memory);
  // Dynamic batching runs merged batches of 1, 2, 4 ... 32 rows, besides the
  // callers' own sizes and the batch-split tuner's sub-batches: room for
  // them all, so that a steady load never recompiles a Plan.
  options.max_cached_plans = 16;
  if (int8_calibration.has_value()) {
    holder->table = std::move(*int8_calibration);
    options.precision = engine::Precision::kInt8;
    options.calibration = &holder->table;
    options.quantization = quantization;
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
    const Repository& repository, const std::string& model_id, const v1::ModelVersion& version,
    std::shared_ptr<engine::IdleMemoryBudget> idle_memory) {
  ASSIGN_OR_RETURN(const MappedFile model_file,
                   repository.ReadModelFile(model_id, version.version()));
  const std::string_view onnx = model_file.bytes();
  const std::string what = absl::StrCat("model '", model_id, "' version ", version.version());
  if (version.precision() != v1::INT8) {
    return CreateSession(onnx, std::nullopt, what, {}, true, std::move(idle_memory));
  }
  ASSIGN_OR_RETURN(const std::string text,
                   repository.ReadCalibrationTable(model_id, version.version()));
  absl::StatusOr<engine::CalibrationTable> table = engine::CalibrationTable::Parse(text);
  if (!table.ok()) {
    return absl::DataLossError(
        absl::StrCat("calibration table of ", what, " is corrupt: ", table.status().message()));
  }
  return CreateSession(onnx, std::move(*table), what,
                       ToQuantizationOptions(version.options().quantization()),
                       !version.options().quantization().keep_batchnorm(), std::move(idle_memory));
}

}  // namespace quantd::server
