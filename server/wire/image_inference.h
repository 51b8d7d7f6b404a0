#ifndef QUANTD_SERVER_WIRE_IMAGE_INFERENCE_H_
#define QUANTD_SERVER_WIRE_IMAGE_INFERENCE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// The input batch {N, C, H, W} made from an Infer request's encoded images by
// the model's preprocessing spec, named after the model's first input.
// INVALID_ARGUMENT naming the indices of every image that cannot be decoded.
absl::StatusOr<engine::Tensor> InputFromImages(const v1::InferRequest& request,
                                               const v1::Model& model);

// What an Infer call holds for its inputs while it runs, counted against
// --max_infer_inflight_bytes: the request message, its copy as tensors, and
// its images decoded and preprocessed (4 bytes per value of the model's
// preprocessed sample). Computed from sizes alone, before anything is decoded.
int64_t InferInputBytesHeld(const v1::InferRequest& request, const v1::Model& model);

// Per sample (row of `scores`, the first output flattened to [N, classes]),
// the `top_k` highest scores, highest first, clipped to the class count, with
// the model's labels where it has them.
void AddClassifications(const engine::Tensor& scores, const v1::Model& model, int32_t top_k,
                        v1::InferResponse& response);

// An upper bound of the wire size of an InferResponse carrying `outputs` and
// AddClassifications(outputs[0], model, top_k): checked before the response
// is built, so that a request cannot make the server build a message larger
// than it may send (protobuf aborts beyond 2 GiB).
int64_t InferResponseBytesBound(const std::vector<engine::Tensor>& outputs, const v1::Model& model,
                                int32_t top_k);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_WIRE_IMAGE_INFERENCE_H_
