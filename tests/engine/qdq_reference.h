#ifndef QUANTD_TESTS_ENGINE_QDQ_REFERENCE_H_
#define QUANTD_TESTS_ENGINE_QDQ_REFERENCE_H_

// A naive interpreter of QDQ ONNX models for differential tests of the QDQ
// export: QuantizeLinear and DequantizeLinear as ONNX defines them (opset 13:
// round half to even, saturate; per-axis scales), every other node through
// the reference interpreter of runtime_reference.h as a one-node graph.
// Reads the tensor fields the exporter writes (typed data, no raw_data).

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/graph/graph.h"
#include "engine/tensor.h"
#include "onnx/onnx_pb.h"
#include "tests/engine/runtime_reference.h"

namespace quantd::engine::testing {

struct QdqValue {
  Tensor tensor;              // integers of quantized tensors held as floats
  bool is_int64 = false;      // int64 initializers (Reshape targets)
  std::vector<int64_t> ints;  // their values
  int32_t elem_type = onnx::TensorProto::FLOAT;
};

inline QdqValue FromInitializer(const onnx::TensorProto& t) {
  QdqValue v;
  v.elem_type = t.data_type();
  v.tensor.shape.assign(t.dims().begin(), t.dims().end());
  if (t.data_type() == onnx::TensorProto::FLOAT) {
    v.tensor.data.assign(t.float_data().begin(), t.float_data().end());
  } else if (t.data_type() == onnx::TensorProto::INT64) {
    v.is_int64 = true;
    v.ints.assign(t.int64_data().begin(), t.int64_data().end());
  } else {
    for (int32_t x : t.int32_data()) v.tensor.data.push_back(static_cast<float>(x));
  }
  return v;
}

inline AttributeValue FromAttribute(const onnx::AttributeProto& a) {
  switch (a.type()) {
    case onnx::AttributeProto::INT:
      return static_cast<int64_t>(a.i());
    case onnx::AttributeProto::FLOAT:
      return a.f();
    case onnx::AttributeProto::STRING:
      return a.s();
    case onnx::AttributeProto::INTS:
      return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    default:
      return std::vector<float>(a.floats().begin(), a.floats().end());
  }
}

// The per-element scale/zero-point index along `axis` of `shape` (0 for per-tensor).
inline int64_t AxisIndex(int64_t i, const std::vector<int64_t>& shape, int64_t axis, size_t n) {
  if (n <= 1) return 0;
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  return (i / inner) % shape[axis];
}

// Runs `model` on `input`; returns every value it computed, by name.
inline std::map<std::string, QdqValue> RunQdqReferenceAll(const onnx::ModelProto& model,
                                                          const Tensor& input) {
  std::map<std::string, QdqValue> env;
  for (const onnx::TensorProto& t : model.graph().initializer()) env[t.name()] = FromInitializer(t);
  env[model.graph().input(0).name()].tensor = input;
  int64_t opset = 13;
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty()) opset = o.version();
  }
  for (const onnx::NodeProto& proto : model.graph().node()) {
    const QdqValue& x = env.at(proto.input(0));
    QdqValue y;
    if (proto.op_type() == "QuantizeLinear" || proto.op_type() == "DequantizeLinear") {
      const QdqValue& scale = env.at(proto.input(1));
      const QdqValue& zero_point = env.at(proto.input(2));
      int64_t axis = 1;
      for (const auto& a : proto.attribute()) {
        if (a.name() == "axis") axis = a.i();
      }
      y.tensor.shape = x.tensor.shape;
      y.tensor.data.resize(x.tensor.data.size());
      const bool quantize = proto.op_type() == "QuantizeLinear";
      const bool is_signed = zero_point.elem_type == onnx::TensorProto::INT8;
      y.elem_type = quantize ? zero_point.elem_type : onnx::TensorProto::FLOAT;
      for (size_t i = 0; i < x.tensor.data.size(); ++i) {
        const int64_t c =
            AxisIndex(static_cast<int64_t>(i), x.tensor.shape, axis, scale.tensor.data.size());
        const float s = scale.tensor.data[c];
        const float zp = zero_point.tensor.data[c];
        if (quantize) {
          const float q = std::nearbyint(x.tensor.data[i] / s) + zp;
          y.tensor.data[i] = std::clamp(q, is_signed ? -128.0f : 0.0f, is_signed ? 127.0f : 255.0f);
        } else {
          y.tensor.data[i] = (x.tensor.data[i] - zp) * s;
        }
      }
    } else {
      Graph g;
      g.opset_version = opset;
      g.inputs = {ValueInfo{proto.input(0), x.tensor.shape}};
      Node node;
      node.name = proto.name();
      node.op_type = proto.op_type();
      node.inputs.assign(proto.input().begin(), proto.input().end());
      node.outputs = {proto.output(0)};
      for (const auto& a : proto.attribute()) node.attributes[a.name()] = FromAttribute(a);
      for (int i = 1; i < proto.input_size(); ++i) {
        if (proto.input(i).empty()) continue;
        const QdqValue& v = env.at(proto.input(i));
        Constant c;
        c.dims =
            v.is_int64 ? std::vector<int64_t>{static_cast<int64_t>(v.ints.size())} : v.tensor.shape;
        c.type = v.is_int64 ? Constant::Type::kInt64 : Constant::Type::kFloat32;
        c.floats = v.tensor.data;
        c.ints = v.ints;
        g.constants[proto.input(i)] = std::move(c);
      }
      g.nodes = {node};
      g.outputs = {ValueInfo{proto.output(0), {}}};
      y.tensor = reference::Run(g, x.tensor);
    }
    env[proto.output(0)] = std::move(y);
  }
  return env;
}

inline absl::StatusOr<Tensor> RunQdqReference(const onnx::ModelProto& model, const Tensor& input) {
  const std::map<std::string, QdqValue> env = RunQdqReferenceAll(model, input);
  const auto out = env.find(model.graph().output(0).name());
  if (out == env.end()) return absl::NotFoundError("graph output never produced");
  return out->second.tensor;
}

}  // namespace quantd::engine::testing

#endif  // QUANTD_TESTS_ENGINE_QDQ_REFERENCE_H_
