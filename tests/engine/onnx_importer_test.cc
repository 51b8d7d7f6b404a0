#include "engine/graph/onnx_importer.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "onnx_model_builder.h"

namespace quantd::engine {
namespace {

using ::quantd::engine::testing::AddGraphInput;
using ::quantd::engine::testing::AddGraphOutput;
using ::quantd::engine::testing::AddIntAttr;
using ::quantd::engine::testing::AddIntsAttr;
using ::quantd::engine::testing::AddNode;
using ::quantd::engine::testing::kSymbolicBatchDim;
using ::quantd::engine::testing::kUnknownDim;
using ::quantd::engine::testing::MakeOnnxModel;
using ::quantd::engine::testing::Serialize;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// `raw` stores the values as raw_data bytes instead of float_data.
onnx::TensorProto* AddFloatInitializer(onnx::ModelProto& model, const std::string& name,
                                       const std::vector<int64_t>& dims,
                                       const std::vector<float>& values, bool raw) {
  onnx::TensorProto* t = model.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  if (raw) {
    std::string bytes(values.size() * sizeof(float), '\0');
    std::memcpy(bytes.data(), values.data(), bytes.size());
    t->set_raw_data(bytes);
  } else {
    for (float v : values) t->add_float_data(v);
  }
  return t;
}

// x[N,1,4,4] -> Conv(w, b) -> y
onnx::ModelProto MakeConvModel() {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {-1, 1, 4, 4});
  AddFloatInitializer(model, "w", {2, 1, 3, 3}, std::vector<float>(18, 0.5f),
                      /*raw=*/true);
  AddFloatInitializer(model, "b", {2}, {1.0f, -1.0f}, /*raw=*/false);
  onnx::NodeProto* conv = AddNode(model, "Conv", {"x", "w", "b"}, {"y"}, "conv0");
  AddIntsAttr(conv, "kernel_shape", {3, 3});
  AddIntsAttr(conv, "pads", {1, 1, 1, 1});
  AddIntAttr(conv, "group", 1);
  AddGraphOutput(model, "y", {-1, 2, 4, 4});
  return model;
}

TEST(OnnxImporterTest, ImportsConvWithInitializersAndAttributes) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(MakeConvModel()));
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ(graph->name, "test_graph");
  EXPECT_EQ(graph->opset_version, 13);
  ASSERT_EQ(graph->inputs.size(), 1u);
  EXPECT_EQ(graph->inputs[0].name, "x");
  EXPECT_THAT(graph->inputs[0].shape, ElementsAre(-1, 1, 4, 4));
  ASSERT_EQ(graph->outputs.size(), 1u);
  EXPECT_THAT(graph->outputs[0].shape, ElementsAre(-1, 2, 4, 4));

  ASSERT_EQ(graph->nodes.size(), 1u);
  const Node& conv = graph->nodes[0];
  EXPECT_EQ(conv.name, "conv0");
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_THAT(conv.inputs, ElementsAre("x", "w", "b"));
  EXPECT_THAT(conv.outputs, ElementsAre("y"));
  EXPECT_EQ(std::get<std::vector<int64_t>>(conv.attributes.at("pads")),
            (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(std::get<int64_t>(conv.attributes.at("group")), 1);

  const Constant& w = graph->constants.at("w");
  EXPECT_EQ(w.type, Constant::Type::kFloat32);
  EXPECT_THAT(w.dims, ElementsAre(2, 1, 3, 3));
  EXPECT_EQ(w.floats, std::vector<float>(18, 0.5f));
  EXPECT_THAT(graph->constants.at("b").floats, ElementsAre(1.0f, -1.0f));
}

TEST(OnnxImporterTest, ImportsFloatStringAndFloatsAttributes) {
  // Opset 8 Upsample carries `scales` as FLOATS and `mode` as STRING.
  onnx::ModelProto model = MakeOnnxModel(/*opset=*/8);
  AddGraphInput(model, "x", {1, 1, 2, 2});
  onnx::NodeProto* up = AddNode(model, "Upsample", {"x"}, {"u"}, "up");
  onnx::AttributeProto* mode = up->add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("nearest");
  onnx::AttributeProto* scales = up->add_attribute();
  scales->set_name("scales");
  scales->set_type(onnx::AttributeProto::FLOATS);
  for (float s : {1.0f, 1.0f, 2.0f, 2.0f}) scales->add_floats(s);
  onnx::NodeProto* leaky = AddNode(model, "LeakyRelu", {"u"}, {"y"}, "leaky");
  onnx::AttributeProto* alpha = leaky->add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(onnx::AttributeProto::FLOAT);
  alpha->set_f(0.25f);
  AddGraphOutput(model, "y", {1, 1, 4, 4});

  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->nodes.size(), 2u);
  const auto& up_attrs = graph->nodes[0].attributes;
  EXPECT_EQ(std::get<std::string>(up_attrs.at("mode")), "nearest");
  EXPECT_THAT(std::get<std::vector<float>>(up_attrs.at("scales")),
              ElementsAre(1.0f, 1.0f, 2.0f, 2.0f));
  EXPECT_EQ(std::get<float>(graph->nodes[1].attributes.at("alpha")), 0.25f);
}

TEST(OnnxImporterTest, DynamicAndMissingDimsBecomeMinusOne) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {kSymbolicBatchDim, 3, kUnknownDim, 8});
  AddNode(model, "Relu", {"x"}, {"y"});
  AddGraphOutput(model, "y", {kSymbolicBatchDim, 3, kUnknownDim, 8});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_THAT(graph->inputs[0].shape, ElementsAre(-1, 3, -1, 8));
  EXPECT_THAT(graph->outputs[0].shape, ElementsAre(-1, 3, -1, 8));
}

TEST(OnnxImporterTest, ConvertsIntegerInitializersAndConstantNodes) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 2, 3, 4});
  onnx::TensorProto* shape = model.mutable_graph()->add_initializer();
  shape->set_name("shape_raw");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  const int64_t shape_values[] = {1, -1};
  shape->set_raw_data(
      std::string(reinterpret_cast<const char*>(shape_values), sizeof(shape_values)));
  onnx::TensorProto* typed = model.mutable_graph()->add_initializer();
  typed->set_name("int64_typed");
  typed->set_data_type(onnx::TensorProto::INT64);
  typed->add_dims(3);
  for (int64_t v : {7, 8, 9}) typed->add_int64_data(v);
  onnx::TensorProto* int32 = model.mutable_graph()->add_initializer();
  int32->set_name("int32_typed");
  int32->set_data_type(onnx::TensorProto::INT32);
  int32->add_dims(2);
  int32->add_int32_data(-3);
  int32->add_int32_data(4);

  onnx::NodeProto* constant = AddNode(model, "Constant", {}, {"c"}, "const0");
  onnx::AttributeProto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  value->mutable_t()->add_dims(1);
  value->mutable_t()->add_float_data(2.5f);
  onnx::NodeProto* ints = AddNode(model, "Constant", {}, {"c_ints"});
  onnx::AttributeProto* ints_value = ints->add_attribute();
  ints_value->set_name("value_ints");
  ints_value->set_type(onnx::AttributeProto::INTS);
  ints_value->add_ints(5);
  ints_value->add_ints(6);

  AddNode(model, "Reshape", {"x", "shape_raw"}, {"r"}, "flat");
  AddNode(model, "Add", {"r", "c"}, {"y"}, "add");
  AddGraphOutput(model, "y", {1, 24});

  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  const Constant& raw = graph->constants.at("shape_raw");
  EXPECT_EQ(raw.type, Constant::Type::kInt64);
  EXPECT_THAT(raw.ints, ElementsAre(1, -1));
  EXPECT_THAT(graph->constants.at("int64_typed").ints, ElementsAre(7, 8, 9));
  EXPECT_EQ(graph->constants.at("int32_typed").type, Constant::Type::kInt64);
  EXPECT_THAT(graph->constants.at("int32_typed").ints, ElementsAre(-3, 4));
  EXPECT_THAT(graph->constants.at("c").floats, ElementsAre(2.5f));
  EXPECT_THAT(graph->constants.at("c_ints").ints, ElementsAre(5, 6));
  EXPECT_THAT(graph->constants.at("c_ints").dims, ElementsAre(2));
  // Constant nodes live on as constants only.
  ASSERT_EQ(graph->nodes.size(), 2u);
  EXPECT_EQ(graph->nodes[0].op_type, "Reshape");
  EXPECT_EQ(graph->nodes[1].op_type, "Add");
}

TEST(OnnxImporterTest, ConstantOfShapeValueBecomesScalarAttribute) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 4});
  onnx::TensorProto* shape = model.mutable_graph()->add_initializer();
  shape->set_name("shape");
  shape->set_data_type(onnx::TensorProto::INT64);
  shape->add_dims(2);
  shape->add_int64_data(1);
  shape->add_int64_data(4);
  onnx::NodeProto* fill = AddNode(model, "ConstantOfShape", {"shape"}, {"ones"}, "fill");
  onnx::AttributeProto* value = fill->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::INT32);
  value->mutable_t()->add_dims(1);
  value->mutable_t()->add_int32_data(7);
  AddNode(model, "Identity", {"x"}, {"y"});
  AddGraphOutput(model, "y", {1, 4});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->nodes[0].op_type, "ConstantOfShape");
  EXPECT_EQ(std::get<int64_t>(graph->nodes[0].attributes.at("value")), 7);
}

TEST(OnnxImporterTest, InitializersListedAsInputsAreNotRuntimeInputs) {
  onnx::ModelProto model = MakeConvModel();
  // IR version 3 style: weights appear among the graph inputs as well.
  AddGraphInput(model, "w", {2, 1, 3, 3});
  AddGraphInput(model, "b", {2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->inputs.size(), 1u);
  EXPECT_EQ(graph->inputs[0].name, "x");
}

TEST(OnnxImporterTest, NamesUnnamedNodesAndDeduplicatesNames) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Relu", {"x"}, {"a"}, "act");
  AddNode(model, "Relu", {"a"}, {"b"});
  AddNode(model, "Relu", {"b"}, {"c"}, "act");
  AddGraphOutput(model, "c", {1, 1, 2, 2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->nodes.size(), 3u);
  EXPECT_EQ(graph->nodes[0].name, "act");
  EXPECT_EQ(graph->nodes[1].name, "Relu_1");
  EXPECT_EQ(graph->nodes[2].name, "act_1");
}

TEST(OnnxImporterTest, SortsNodesTopologically) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Relu", {"b"}, {"c"}, "third");
  AddNode(model, "Relu", {"x"}, {"a"}, "first");
  AddNode(model, "Relu", {"a"}, {"b"}, "second");
  AddGraphOutput(model, "c", {1, 1, 2, 2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_EQ(graph->nodes.size(), 3u);
  EXPECT_EQ(graph->nodes[0].name, "first");
  EXPECT_EQ(graph->nodes[1].name, "second");
  EXPECT_EQ(graph->nodes[2].name, "third");
}

TEST(OnnxImporterTest, RejectsCycles) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Add", {"x", "b"}, {"a"}, "loop_a");
  AddNode(model, "Relu", {"a"}, {"b"}, "loop_b");
  AddGraphOutput(model, "b", {1, 1, 2, 2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("cycle"));
  EXPECT_THAT(graph.status().message(), HasSubstr("loop_a"));
}

TEST(OnnxImporterTest, RejectsDanglingInputNamingNodeAndValue) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Add", {"x", "ghost"}, {"y"}, "add1");
  AddGraphOutput(model, "y", {1, 1, 2, 2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("'add1' (Add)"));
  EXPECT_THAT(graph.status().message(), HasSubstr("'ghost'"));
}

TEST(OnnxImporterTest, RejectsEmptyAndGarbageBytes) {
  EXPECT_EQ(ImportOnnxModel("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImportOnnxModel("this is not an onnx model").status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::string bytes = "\xff\xff\xff\xff\xff\x01\x02\x03";
  EXPECT_EQ(ImportOnnxModel(bytes).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(OnnxImporterTest, RejectsModelWithoutGraph) {
  onnx::ModelProto model;
  model.set_ir_version(7);
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("no graph"));
}

TEST(OnnxImporterTest, RejectsModelWithoutRuntimeInputs) {
  onnx::ModelProto model = MakeOnnxModel();
  AddFloatInitializer(model, "w", {2}, {1.0f, 2.0f}, /*raw=*/false);
  AddNode(model, "Relu", {"w"}, {"y"});
  AddGraphOutput(model, "y", {2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("no runtime inputs"));
}

TEST(OnnxImporterTest, RejectsCustomDomainNamingTheOp) {
  onnx::ModelProto model = MakeOnnxModel();
  onnx::OperatorSetIdProto* ms = model.add_opset_import();
  ms->set_domain("com.microsoft");
  ms->set_version(1);
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "FusedConv", {"x"}, {"y"}, "fc")->set_domain("com.microsoft");
  AddGraphOutput(model, "y", {1, 1, 2, 2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(graph.status().message(), HasSubstr("'FusedConv'"));
  EXPECT_THAT(graph.status().message(), HasSubstr("com.microsoft"));
}

TEST(OnnxImporterTest, CheckerFailureIsInvalidArgument) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Conv", {"x"}, {"y"}, "no_weight");  // Conv needs W
  AddGraphOutput(model, "y", {1, 1, 2, 2});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("checker"));
}

TEST(OnnxImporterTest, RejectsRawDataOfWrongSize) {
  onnx::ModelProto model = MakeConvModel();
  model.mutable_graph()->mutable_initializer(0)->set_raw_data("abc");
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(graph.status().message(), HasSubstr("tensor 'w'"));
}

TEST(OnnxImporterTest, RejectsHugeDimsWithoutAllocating) {
  onnx::ModelProto model = MakeConvModel();
  onnx::TensorProto* w = model.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(int64_t{1} << 20);
  w->add_dims(int64_t{1} << 20);
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(graph.status().message()), HasSubstr("tensor 'w'"));
}

TEST(OnnxImporterTest, RejectsNonFloatGraphInput) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "ids", {1, 4}, onnx::TensorProto::INT64);
  AddNode(model, "Identity", {"ids"}, {"y"});
  AddGraphOutput(model, "y", {1, 4});
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(model));
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(graph.status().message(), HasSubstr("graph input 'ids'"));
}

// Debian's ONNX conformance models (libonnx-testdata): every one must import
// or be refused as UNIMPLEMENTED (non-float I/O, custom domains); the
// float models of the operators quantd runs must import.
TEST(OnnxImporterTest, ImportsOnnxConformanceModels) {
  const std::filesystem::path root = "/usr/share/libonnx-testdata/data";
  if (!std::filesystem::is_directory(root / "node")) {
    FAIL() << "libonnx-testdata is missing (scripts/install_deps.sh installs it)";
  }
  const std::set<std::string> must_import = {"test_basic_conv_with_padding",
                                             "test_conv_with_strides_padding",
                                             "test_relu",
                                             "test_gemm_default_matrix_bias",
                                             "test_maxpool_2d_pads",
                                             "test_averagepool_2d_default",
                                             "test_globalaveragepool",
                                             "test_flatten_axis1",
                                             "test_matmul_2d",
                                             "test_identity",
                                             "test_dropout_default",
                                             "test_batchnorm_example",
                                             "test_clip",
                                             "test_add"};
  // The one conformance model without a runtime input: a bare Constant.
  const std::set<std::string> no_inputs = {"test_constant"};
  std::set<std::string> imported;
  int models = 0;
  for (const char* dir : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    for (const auto& entry : std::filesystem::directory_iterator(root / dir)) {
      std::ifstream file(entry.path() / "model.onnx", std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(file)),
                              std::istreambuf_iterator<char>());
      const std::string name = entry.path().filename().string();
      const absl::Status status = ImportOnnxModel(bytes).status();
      ++models;
      if (status.ok()) imported.insert(name);
      if (no_inputs.count(name) > 0) {
        EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
        continue;
      }
      EXPECT_TRUE(status.ok() || status.code() == absl::StatusCode::kUnimplemented)
          << name << ": " << status;
    }
  }
  EXPECT_GT(models, 500);
  for (const std::string& name : must_import) {
    EXPECT_EQ(imported.count(name), 1u) << name;
  }
}

}  // namespace
}  // namespace quantd::engine
