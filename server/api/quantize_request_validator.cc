#include "server/api/quantize_request_validator.h"

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/wire/proto_conversion.h"
#include "server/wire/quantization_settings.h"

namespace quantd::server {

absl::Status CheckDatasetFitsModel(const v1::Dataset& dataset, const v1::Model& model) {
  if (model.inputs_size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("model '", model.id(), "' has ",
                                                   model.inputs_size(),
                                                   " inputs; quantization needs exactly one"));
  }
  const v1::TensorInfo& input = model.inputs(0);
  bool fits = input.shape_size() == dataset.sample_shape_size() + 1;
  for (int i = 0; fits && i < dataset.sample_shape_size(); ++i) {
    const int64_t model_dim = input.shape(i + 1);
    // Dynamic dimensions (-1) accept any size.
    fits = model_dim <= 0 || model_dim == dataset.sample_shape(i);
  }
  if (!fits) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset '", dataset.id(), "' samples ", ShapeToString(dataset.sample_shape()),
        " do not fit model input '", input.name(), "' ", ShapeToString(input.shape())));
  }
  return absl::OkStatus();
}

absl::Status ValidateQuantizeRequest(const v1::QuantizeModelRequest& request,
                                     const Repository& repository) {
  if (request.model_id().empty()) return absl::InvalidArgumentError("model_id is required");
  if (request.calibration_dataset_id().empty()) {
    return absl::InvalidArgumentError("calibration_dataset_id is required");
  }
  RETURN_IF_ERROR(ValidateKnobs(request));
  ASSIGN_OR_RETURN(const v1::Model model, repository.GetModel(request.model_id()));
  ASSIGN_OR_RETURN(const v1::Dataset calibration,
                   repository.GetDataset(request.calibration_dataset_id()));
  RETURN_IF_ERROR(CheckDatasetFitsModel(calibration, model));
  if (!request.evaluation_dataset_id().empty()) {
    ASSIGN_OR_RETURN(const v1::Dataset evaluation,
                     repository.GetDataset(request.evaluation_dataset_id()));
    // Unlabelled evaluation sets are fine: the job then reports output
    // agreement and layer SQNR, but no top-1/top-5.
    RETURN_IF_ERROR(CheckDatasetFitsModel(evaluation, model));
  }
  return absl::OkStatus();
}

}  // namespace quantd::server
