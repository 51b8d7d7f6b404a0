#include "server/api/kserve_model_info.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/wire/kserve_tensors.h"

namespace quantd::server {
namespace {

using TensorMetadata = inference::ModelMetadataResponse::TensorMetadata;

void SetTensorMetadata(const v1::TensorInfo& info, TensorMetadata& tensor) {
  tensor.set_name(info.name());
  tensor.set_datatype(kKServeFp32);
  tensor.mutable_shape()->Add(info.shape().begin(), info.shape().end());
}

bool BatchesOnDim0(const v1::TensorInfo& info) {
  return info.shape_size() > 0 && info.shape(0) <= 0;
}

// Triton writes a dynamic dimension as -1.
template <typename Message>
void SetDims(const v1::TensorInfo& info, bool drop_batch, Message& tensor) {
  for (int i = drop_batch ? 1 : 0; i < info.shape_size(); ++i) {
    tensor.add_dims(info.shape(i) > 0 ? info.shape(i) : -1);
  }
}

void SetDuration(const DurationStat& stat, inference::StatisticDuration& out) {
  out.set_count(stat.count);
  out.set_ns(static_cast<uint64_t>(absl::ToInt64Nanoseconds(stat.total)));
}

}  // namespace

inference::ModelMetadataResponse ToKServeMetadata(const v1::Model& model, const std::string& name) {
  inference::ModelMetadataResponse metadata;
  metadata.set_name(name);
  for (const v1::ModelVersion& version : model.versions()) {
    metadata.add_versions(absl::StrCat(version.version()));
  }
  metadata.set_platform(kKServePlatform);
  for (const v1::TensorInfo& input : model.inputs())
    SetTensorMetadata(input, *metadata.add_inputs());
  for (const v1::TensorInfo& output : model.outputs()) {
    SetTensorMetadata(output, *metadata.add_outputs());
  }
  return metadata;
}

inference::ModelConfig ToKServeConfig(const v1::Model& model, const std::string& name,
                                      int64_t max_batch, int64_t max_queue_delay_us,
                                      int executors) {
  const bool batches = std::all_of(model.inputs().begin(), model.inputs().end(), BatchesOnDim0) &&
                       std::all_of(model.outputs().begin(), model.outputs().end(), BatchesOnDim0);
  inference::ModelConfig config;
  config.set_name(name);
  config.set_platform(kKServePlatform);
  config.set_backend("quantd");
  config.set_max_batch_size(batches ? static_cast<int32_t>(max_batch) : 0);
  for (const v1::TensorInfo& input : model.inputs()) {
    inference::ModelInput& in = *config.add_input();
    in.set_name(input.name());
    in.set_data_type(inference::TYPE_FP32);
    SetDims(input, batches, in);
  }
  for (const v1::TensorInfo& output : model.outputs()) {
    inference::ModelOutput& out = *config.add_output();
    out.set_name(output.name());
    out.set_data_type(inference::TYPE_FP32);
    SetDims(output, batches, out);
  }
  if (batches && max_batch > 1) {
    config.mutable_dynamic_batching()->set_max_queue_delay_microseconds(
        static_cast<uint64_t>(max_queue_delay_us));
  }
  inference::ModelInstanceGroup& group = *config.add_instance_group();
  group.set_name(absl::StrCat(name, "_cpu"));
  group.set_kind(inference::ModelInstanceGroup::KIND_CPU);
  group.set_count(executors);
  return config;
}

inference::ModelStatistics ToKServeStatistics(const std::string& name, int32_t version,
                                              const VersionStatistics* statistics) {
  inference::ModelStatistics out;
  out.set_name(name);
  out.set_version(absl::StrCat(version));
  if (statistics == nullptr) return out;
  out.set_last_inference(static_cast<uint64_t>(absl::ToUnixMillis(statistics->last_inference)));
  out.set_inference_count(statistics->inference_count);
  out.set_execution_count(statistics->execution_count);
  inference::InferStatistics& stats = *out.mutable_inference_stats();
  SetDuration(statistics->success, *stats.mutable_success());
  SetDuration(statistics->fail, *stats.mutable_fail());
  SetDuration(statistics->queue, *stats.mutable_queue());
  SetDuration(statistics->compute_input, *stats.mutable_compute_input());
  SetDuration(statistics->compute_infer, *stats.mutable_compute_infer());
  SetDuration(statistics->compute_output, *stats.mutable_compute_output());
  for (const auto& [rows, batch] : statistics->batches) {
    inference::InferBatchStatistics& out_batch = *out.add_batch_stats();
    out_batch.set_batch_size(static_cast<uint64_t>(rows));
    SetDuration(batch.compute_input, *out_batch.mutable_compute_input());
    SetDuration(batch.compute_infer, *out_batch.mutable_compute_infer());
    SetDuration(batch.compute_output, *out_batch.mutable_compute_output());
  }
  return out;
}

}  // namespace quantd::server
