#ifndef QUANTD_SERVER_API_KSERVE_MODEL_INFO_H_
#define QUANTD_SERVER_API_KSERVE_MODEL_INFO_H_

#include <cstdint>
#include <string>

#include "inference/grpc_service.pb.h"
#include "inference/model_config.pb.h"
#include "quantd/v1/quantd.pb.h"
#include "server/metrics/infer_statistics.h"

namespace quantd::server {

// What KServe's metadata, config and statistics RPCs report of a quantd model.

// The platform quantd reports for its models (ModelMetadata, ModelConfig).
inline constexpr char kKServePlatform[] = "quantd_onnx";

// Name (`name`: see KServeName), every version, and FP32 inputs and outputs
// with -1 for their dynamic dimensions.
inference::ModelMetadataResponse ToKServeMetadata(const v1::Model& model, const std::string& name);

// How the server runs the model, as Triton states it: with a dynamic
// dimension 0 on every input and output the model batches (max_batch_size
// `max_batch`, dims without the batch dimension, dynamic batching with
// `max_queue_delay_us`), else max_batch_size 0 and complete dims; one CPU
// instance group of `executors`.
inference::ModelConfig ToKServeConfig(const v1::Model& model, const std::string& name,
                                      int64_t max_batch, int64_t max_queue_delay_us, int executors);

// One version's statistics; zeros for a version never run.
inference::ModelStatistics ToKServeStatistics(const std::string& name, int32_t version,
                                              const VersionStatistics* statistics);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_KSERVE_MODEL_INFO_H_
