#ifndef QUANTD_SERVER_API_INFER_REQUEST_VALIDATOR_H_
#define QUANTD_SERVER_API_INFER_REQUEST_VALIDATOR_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// Picks the model version an Infer request asks for (see InferRequest):
// version 0 means the newest version of `precision`, or the newest of all
// when precision is unspecified. NOT_FOUND for an unknown version,
// INVALID_ARGUMENT when an explicit version has another precision,
// FAILED_PRECONDITION when no INT8 version exists yet.
absl::StatusOr<v1::ModelVersion> ResolveModelVersion(const v1::Model& model, int32_t version,
                                                     v1::Precision precision);

// Encoded images one Infer request may carry; each becomes a full sample.
inline constexpr int kMaxInferImages = 256;

// The request's form, before any tensor or image is looked at: exactly one of
// `input`, `images` and `inputs` (INVALID_ARGUMENT; `inputs` for a model with
// several inputs, then checked by ValidateInferInputs), at most kMaxInferImages images
// (RESOURCE_EXHAUSTED), images only for a model with a preprocessing spec
// (FAILED_PRECONDITION), top_k >= 0 (INVALID_ARGUMENT); a tensor input is then
// checked by ValidateInferInput.
absl::Status ValidateInferRequest(const v1::InferRequest& request, const v1::Model& model);

// The input tensor is well formed (every dimension positive, as many values
// as the shape holds) and fits the model's first input where that is static.
absl::Status ValidateInferInput(const v1::Tensor& input, const v1::Model& model);

// `inputs` holds one well-formed tensor for each model input, matched by
// name (an unnamed tensor takes the input at its position), each fitting
// its input; INVALID_ARGUMENT names the tensor and what is wrong.
absl::Status ValidateInferInputs(const v1::InferRequest& request, const v1::Model& model);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_INFER_REQUEST_VALIDATOR_H_
