#include "server/wire/proto_conversion.h"

#include <bit>
#include <cstring>

namespace quantd::server {

engine::Precision ToEnginePrecision(v1::Precision precision) {
  return precision == v1::INT8 ? engine::Precision::kInt8 : engine::Precision::kFp32;
}

v1::Precision ToProtoPrecision(engine::Precision precision) {
  return precision == engine::Precision::kInt8 ? v1::INT8 : v1::FP32;
}

std::string PrecisionName(v1::Precision precision) { return v1::Precision_Name(precision); }

void SetModelSummary(const engine::ModelSummary& summary, v1::Model& model) {
  model.set_opset_version(summary.opset_version);
  model.clear_inputs();
  for (const engine::ValueInfo& info : summary.inputs) {
    v1::TensorInfo* proto = model.add_inputs();
    proto->set_name(info.name);
    proto->mutable_shape()->Add(info.shape.begin(), info.shape.end());
  }
  model.clear_outputs();
  for (const engine::ValueInfo& info : summary.outputs) {
    v1::TensorInfo* proto = model.add_outputs();
    proto->set_name(info.name);
    proto->mutable_shape()->Add(info.shape.begin(), info.shape.end());
  }
  model.clear_op_counts();
  for (const auto& [op, count] : summary.op_counts) (*model.mutable_op_counts())[op] = count;
}

engine::Tensor ToEngineTensor(const v1::Tensor& tensor) {
  engine::Tensor out;
  out.name = tensor.name();
  out.shape.assign(tensor.shape().begin(), tensor.shape().end());
  if (!tensor.raw_data().empty()) {
    // Little-endian float32, as on every machine quantd builds for.
    static_assert(std::endian::native == std::endian::little);
    out.data.resize(tensor.raw_data().size() / sizeof(float));
    std::memcpy(out.data.data(), tensor.raw_data().data(), out.data.size() * sizeof(float));
  } else {
    out.data.assign(tensor.data().begin(), tensor.data().end());
  }
  return out;
}

void ToProtoTensor(const engine::Tensor& tensor, v1::Tensor& proto) {
  proto.set_name(tensor.name);
  proto.mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
  proto.mutable_data()->Add(tensor.data.begin(), tensor.data.end());
}

v1::AccuracyReport ToProtoAccuracy(const engine::AccuracyReport& report,
                                   const std::string& dataset_id) {
  v1::AccuracyReport proto;
  proto.set_dataset_id(std::string(dataset_id));
  proto.set_num_samples(report.num_samples);
  proto.set_top1(report.top1);
  proto.set_top5(report.top5);
  return proto;
}

v1::OutputAgreement ToProtoAgreement(const engine::OutputAgreement& agreement,
                                     const std::string& dataset_id) {
  v1::OutputAgreement proto;
  proto.set_dataset_id(dataset_id);
  proto.set_num_samples(agreement.num_samples);
  proto.set_top1_agreement(agreement.top1_agreement);
  proto.set_mean_cosine_similarity(agreement.mean_cosine_similarity);
  proto.set_min_cosine_similarity(agreement.min_cosine_similarity);
  return proto;
}

v1::LayerSqnr ToProtoLayerSqnr(const engine::LayerSqnr& layer) {
  v1::LayerSqnr proto;
  proto.set_node_name(layer.layer.node_name);
  proto.set_op_type(layer.layer.op_type);
  proto.set_output(layer.layer.output);
  proto.set_sqnr_db(layer.sqnr_db);
  return proto;
}

v1::Int8Coverage ToProtoInt8Coverage(const engine::Int8Coverage& coverage,
                                     const std::vector<int64_t>& input_shape) {
  v1::Int8Coverage proto;
  proto.set_mac_share(coverage.mac_share());
  proto.set_total_macs(coverage.total_macs());
  proto.set_int8_macs(coverage.int8_macs());
  proto.set_total_nodes(static_cast<int32_t>(coverage.nodes.size()));
  proto.set_int8_nodes(coverage.int8_nodes());
  for (const engine::NodeExecution& node : coverage.nodes) {
    if (node.int8) continue;
    v1::Fp32Island* island = proto.add_fp32_islands();
    island->set_node_name(node.node);
    island->set_op_type(node.op_type);
    island->set_macs(node.macs);
    island->set_reason(node.fp32_reason);
  }
  v1::ReorderCounts* reorders = proto.mutable_reorders();
  reorders->set_quantize(coverage.boundaries.quantize);
  reorders->set_dequantize(coverage.boundaries.dequantize);
  reorders->set_requantize(coverage.boundaries.requantize);
  reorders->set_relayout(coverage.boundaries.relayout);
  proto.mutable_input_shape()->Add(input_shape.begin(), input_shape.end());
  return proto;
}

}  // namespace quantd::server
