#ifndef QUANTD_SERVER_API_QUANTIZE_REQUEST_VALIDATOR_H_
#define QUANTD_SERVER_API_QUANTIZE_REQUEST_VALIDATOR_H_

#include "absl/status/status.h"
#include "quantd/v1/quantd.pb.h"
#include "server/storage/repository.h"

namespace quantd::server {

// Checks a QuantizeModel request before a job is queued, so a bad request
// fails at once instead of minutes later in a worker: the model and datasets
// exist (NOT_FOUND), the datasets' samples fit the model input and the
// evaluation set has labels, and the calibration and quantization knobs are
// valid (INVALID_ARGUMENT naming the field, see ValidateKnobs).
absl::Status ValidateQuantizeRequest(const v1::QuantizeModelRequest& request,
                                     const Repository& repository);

// The model has exactly one input, and its shape without the batch dimension
// equals the dataset's sample shape wherever the model's dimension is static.
absl::Status CheckDatasetFitsModel(const v1::Dataset& dataset, const v1::Model& model);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_QUANTIZE_REQUEST_VALIDATOR_H_
