#ifndef QUANTD_SERVER_WIRE_PROTO_CONVERSION_H_
#define QUANTD_SERVER_WIRE_PROTO_CONVERSION_H_

// Translations between engine types and their wire (proto) forms. The engine
// knows nothing about protobuf; this is the only place the two meet.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/eval/accuracy.h"
#include "engine/eval/layer_sqnr.h"
#include "engine/eval/output_agreement.h"
#include "engine/graph/model_summary.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/int8_coverage.h"
#include "engine/tensor.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

engine::Precision ToEnginePrecision(v1::Precision precision);
v1::Precision ToProtoPrecision(engine::Precision precision);
// "FP32", "INT8" or "PRECISION_UNSPECIFIED", as in messages to clients.
std::string PrecisionName(v1::Precision precision);

// Copies inputs, outputs, op counts and opset into `model`.
void SetModelSummary(const engine::ModelSummary& summary, v1::Model& model);

engine::Tensor ToEngineTensor(const v1::Tensor& tensor);
void ToProtoTensor(const engine::Tensor& tensor, v1::Tensor& proto);

v1::AccuracyReport ToProtoAccuracy(const engine::AccuracyReport& report,
                                   const std::string& dataset_id);
v1::OutputAgreement ToProtoAgreement(const engine::OutputAgreement& agreement,
                                     const std::string& dataset_id);
v1::LayerSqnr ToProtoLayerSqnr(const engine::LayerSqnr& layer);
// `coverage` of the Plan compiled for `input_shape` (batch 1, so its MACs and
// reorders are per sample); the nodes without int8 become the fp32 islands.
v1::Int8Coverage ToProtoInt8Coverage(const engine::Int8Coverage& coverage,
                                     const std::vector<int64_t>& input_shape);

// "[-1,1,28,28]": how shapes appear in error messages.
template <typename Dims>
std::string ShapeToString(const Dims& dims) {
  std::string out = "[";
  bool first = true;
  for (const auto d : dims) {
    if (!first) out += ",";
    out += std::to_string(d);
    first = false;
  }
  return out + "]";
}

}  // namespace quantd::server

#endif  // QUANTD_SERVER_WIRE_PROTO_CONVERSION_H_
