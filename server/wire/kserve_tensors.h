#ifndef QUANTD_SERVER_WIRE_KSERVE_TENSORS_H_
#define QUANTD_SERVER_WIRE_KSERVE_TENSORS_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "inference/grpc_service.pb.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// KServe v2 ModelInfer tensors <-> engine tensors.

// The datatype quantd's models take and return: KServe's name for float32.
inline constexpr char kKServeFp32[] = "FP32";

// The request's inputs as engine tensors named after the model's inputs.
// Every model input must be given once, as FP32, with a shape that fits the
// model's, and its values either in `contents.fp32_contents` or, for every
// input at once, in `raw_input_contents` (little-endian float32).
// INVALID_ARGUMENT names the input and what is wrong.
absl::StatusOr<std::vector<engine::Tensor>> InputsFromModelInfer(
    const inference::ModelInferRequest& request, const v1::Model& model);

// The outputs the request asks for (all when it names none), in the model's
// order, as FP32 tensors with their values in `raw_output_contents`, as
// Triton answers. INVALID_ARGUMENT for a requested output the model lacks.
absl::Status SetModelInferOutputs(const std::vector<engine::Tensor>& outputs,
                                  const inference::ModelInferRequest& request,
                                  inference::ModelInferResponse& response);

// An upper bound of the response's outputs in bytes, to check against the
// send limit before building it.
int64_t ModelInferOutputBytes(const std::vector<engine::Tensor>& outputs);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_WIRE_KSERVE_TENSORS_H_
