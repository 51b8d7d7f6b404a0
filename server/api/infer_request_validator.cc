#include "server/api/infer_request_validator.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/wire/proto_conversion.h"
#include "server/wire/tensor_checks.h"

namespace quantd::server {

absl::StatusOr<v1::ModelVersion> ResolveModelVersion(const v1::Model& model, int32_t version,
                                                     v1::Precision precision) {
  if (precision != v1::PRECISION_UNSPECIFIED && precision != v1::FP32 && precision != v1::INT8) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown precision ", static_cast<int>(precision)));
  }
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("version must be >= 0 (0: the newest), got ", version));
  }
  if (version != 0) {
    for (const v1::ModelVersion& v : model.versions()) {
      if (v.version() != version) continue;
      if (precision != v1::PRECISION_UNSPECIFIED && v.precision() != precision) {
        return absl::InvalidArgumentError(absl::StrCat(
            "model '", model.id(), "' version ", version, " is ", PrecisionName(v.precision()),
            ", but the request asks for ", PrecisionName(precision)));
      }
      return v;
    }
    return absl::NotFoundError(absl::StrCat("model '", model.id(), "' has no version ", version));
  }
  const v1::ModelVersion* newest = nullptr;
  for (const v1::ModelVersion& v : model.versions()) {
    if (precision != v1::PRECISION_UNSPECIFIED && v.precision() != precision) continue;
    if (newest == nullptr || v.version() > newest->version()) newest = &v;
  }
  if (newest != nullptr) return *newest;
  if (precision == v1::INT8) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", model.id(), "' has no INT8 version; run QuantizeModel first"));
  }
  return absl::NotFoundError(
      absl::StrCat("model '", model.id(), "' has no ", PrecisionName(precision), " version"));
}

absl::Status ValidateInferRequest(const v1::InferRequest& request, const v1::Model& model) {
  const bool has_images = request.images_size() > 0;
  const bool has_inputs = request.inputs_size() > 0;
  if (int{request.has_input()} + int{has_images} + int{has_inputs} != 1) {
    return absl::InvalidArgumentError(
        "an Infer request carries exactly one of `input` (a tensor), `images` (encoded "
        "images) and `inputs` (a tensor per graph input)");
  }
  if (request.top_k() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be >= 0 (0: no classifications), got ", request.top_k()));
  }
  if (has_inputs) return ValidateInferInputs(request, model);
  if (model.inputs_size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", model.id(), "' has ", model.inputs_size(),
        " inputs; send one tensor for each in `inputs`"));
  }
  if (!has_images) return ValidateInferInput(request.input(), model);
  if (request.images_size() > kMaxInferImages) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Infer takes at most ", kMaxInferImages, " images per request, got ",
                     request.images_size(), "; split them over several requests"));
  }
  if (!model.has_preprocessing()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", model.id(), "' has no preprocessing spec, so it cannot take images; send a "
        "tensor as `input`, or upload the model again with a preprocessing spec (quantctl "
        "upload-model --crop=HxW ...)"));
  }
  return absl::OkStatus();
}

namespace {

// The tensor's values match its shape: `what` names it in errors.
absl::Status CheckTensorValues(const std::string& what, const v1::Tensor& input) {
  ASSIGN_OR_RETURN(const int64_t values, CountValues(what, input.shape()));
  if (input.data_size() > 0 && !input.raw_data().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " sets both data and raw_data; send the values in one of them"));
  }
  if (input.raw_data().size() % sizeof(float) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " raw_data holds ", input.raw_data().size(),
                     " bytes, not a whole number of float32 values (4 bytes each)"));
  }
  const bool raw = !input.raw_data().empty();
  const int64_t data_size = raw ? static_cast<int64_t>(input.raw_data().size() / sizeof(float))
                                : input.data_size();
  if (values != data_size) {
    return absl::InvalidArgumentError(absl::StrCat(what, " shape ", ShapeToString(input.shape()),
                                                   " needs ", values, " values, but ",
                                                   raw ? "raw_data" : "data", " holds ",
                                                   data_size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateInferInput(const v1::Tensor& input, const v1::Model& model) {
  RETURN_IF_ERROR(CheckTensorValues("input tensor", input));
  if (model.inputs_size() == 0) return absl::OkStatus();
  return CheckFitsModelTensor("input tensor", input.shape(), model.inputs(0));
}

absl::Status ValidateInferInputs(const v1::InferRequest& request, const v1::Model& model) {
  if (request.inputs_size() != model.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`inputs` holds ", request.inputs_size(), " tensors for a model with ",
        model.inputs_size(), " inputs; send one for each"));
  }
  std::vector<bool> given(static_cast<size_t>(model.inputs_size()), false);
  for (int i = 0; i < request.inputs_size(); ++i) {
    const v1::Tensor& tensor = request.inputs(i);
    int index = i;  // an unnamed tensor takes the input at its position
    if (!tensor.name().empty()) {
      index = -1;
      for (int k = 0; k < model.inputs_size(); ++k) {
        if (model.inputs(k).name() == tensor.name()) index = k;
      }
      if (index < 0) {
        return absl::InvalidArgumentError(absl::StrCat("inputs[", i, "] names '", tensor.name(),
                                                       "', which is not an input of the model"));
      }
    }
    const v1::TensorInfo& expected = model.inputs(index);
    if (given[static_cast<size_t>(index)]) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", expected.name(), "' is given twice in `inputs`"));
    }
    given[static_cast<size_t>(index)] = true;
    const std::string what = absl::StrCat("input '", expected.name(), "'");
    RETURN_IF_ERROR(CheckTensorValues(what, tensor));
    RETURN_IF_ERROR(CheckFitsModelTensor(what, tensor.shape(), expected));
  }
  return absl::OkStatus();
}

}  // namespace quantd::server
