#ifndef QUANTD_TESTS_ENGINE_ONNX_MODEL_BUILDER_H_
#define QUANTD_TESTS_ENGINE_ONNX_MODEL_BUILDER_H_

// Builders for small hand-made ONNX models (onnx::ModelProto) in engine tests,
// so that each test reads as the graph it builds. IR graphs have their own
// builder, GraphBuilder in runtime_reference.h.

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"

namespace quantd::engine::testing {

// Dimension values understood by SetTensorType and AddGraphInput/Output.
inline constexpr int64_t kSymbolicBatchDim = -1;  // dim_param "N"
inline constexpr int64_t kUnknownDim = -2;        // neither dim_value nor dim_param

// An empty model importing the default ONNX domain at `opset`.
inline onnx::ModelProto MakeOnnxModel(int64_t opset = 13,
                                      const std::string& graph_name = "test_graph") {
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.set_producer_name("quantd-test");
  onnx::OperatorSetIdProto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model.mutable_graph()->set_name(graph_name);
  return model;
}

// `dims` may hold kSymbolicBatchDim and kUnknownDim besides sizes.
inline void SetTensorType(onnx::ValueInfoProto* info, const std::string& name,
                          const std::vector<int64_t>& dims,
                          int32_t elem_type = onnx::TensorProto::FLOAT) {
  info->set_name(name);
  onnx::TypeProto::Tensor* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(elem_type);
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  for (int64_t d : dims) {
    onnx::TensorShapeProto::Dimension* dim = shape->add_dim();
    if (d >= 0) dim->set_dim_value(d);
    if (d == kSymbolicBatchDim) dim->set_dim_param("N");
  }
}

inline void AddGraphInput(onnx::ModelProto& model, const std::string& name,
                          const std::vector<int64_t>& dims,
                          int32_t elem_type = onnx::TensorProto::FLOAT) {
  SetTensorType(model.mutable_graph()->add_input(), name, dims, elem_type);
}

inline void AddGraphOutput(onnx::ModelProto& model, const std::string& name,
                           const std::vector<int64_t>& dims,
                           int32_t elem_type = onnx::TensorProto::FLOAT) {
  SetTensorType(model.mutable_graph()->add_output(), name, dims, elem_type);
}

// An empty `name` leaves the node unnamed, as some exporters do.
inline onnx::NodeProto* AddNode(onnx::ModelProto& model, const std::string& op,
                                const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs,
                                const std::string& name = "") {
  onnx::NodeProto* node = model.mutable_graph()->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const std::string& in : inputs) node->add_input(in);
  for (const std::string& out : outputs) node->add_output(out);
  return node;
}

inline void AddIntAttr(onnx::NodeProto* node, const std::string& name, int64_t value) {
  onnx::AttributeProto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(onnx::AttributeProto::INT);
  attr->set_i(value);
}

inline void AddIntsAttr(onnx::NodeProto* node, const std::string& name,
                        const std::vector<int64_t>& values) {
  onnx::AttributeProto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) attr->add_ints(v);
}

inline void AddInt64Initializer(onnx::ModelProto& model, const std::string& name,
                                const std::vector<int64_t>& dims,
                                const std::vector<int64_t>& values) {
  onnx::TensorProto* tensor = model.mutable_graph()->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) tensor->add_dims(d);
  for (int64_t v : values) tensor->add_int64_data(v);
}

inline void AddFloatInitializer(onnx::ModelProto& model, const std::string& name,
                                const std::vector<int64_t>& dims,
                                const std::vector<float>& values) {
  onnx::TensorProto* tensor = model.mutable_graph()->add_initializer();
  tensor->set_name(name);
  tensor->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tensor->add_dims(d);
  for (float v : values) tensor->add_float_data(v);
}

// The model's wire bytes, as ImportOnnxModel and InspectModel take them.
inline std::string Serialize(const onnx::ModelProto& model) {
  std::string bytes;
  EXPECT_TRUE(model.SerializeToString(&bytes));
  return bytes;
}

}  // namespace quantd::engine::testing

#endif  // QUANTD_TESTS_ENGINE_ONNX_MODEL_BUILDER_H_
