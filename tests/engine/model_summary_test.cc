#include "engine/graph/model_summary.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

onnx::ModelProto MakeModel() {
  onnx::ModelProto model;
  model.set_ir_version(7);
  onnx::OperatorSetIdProto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(13);
  model.mutable_graph()->set_name("summary_test");
  return model;
}

// -1 in `dims` becomes a symbolic batch dimension.
void SetFloatTensor(onnx::ValueInfoProto* info, const std::string& name,
                    const std::vector<int64_t>& dims) {
  info->set_name(name);
  onnx::TypeProto::Tensor* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    onnx::TensorShapeProto::Dimension* dim = tensor->mutable_shape()->add_dim();
    if (d < 0) {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(d);
    }
  }
}

void AddNode(onnx::ModelProto& model, const std::string& op, const std::vector<std::string>& inputs,
             const std::string& output, const std::string& name = "") {
  onnx::NodeProto* node = model.mutable_graph()->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const std::string& in : inputs) node->add_input(in);
  node->add_output(output);
}

std::string Serialize(const onnx::ModelProto& model) {
  std::string bytes;
  EXPECT_TRUE(model.SerializeToString(&bytes));
  return bytes;
}

TEST(InspectModelTest, SummarizesSupportedModel) {
  onnx::ModelProto model = MakeModel();
  SetFloatTensor(model.mutable_graph()->add_input(), "image", {-1, 1, 8, 8});
  AddNode(model, "Relu", {"image"}, "a", "relu1");
  AddNode(model, "MaxPool", {"a"}, "b", "pool1");
  AddNode(model, "Relu", {"b"}, "c", "relu2");
  SetFloatTensor(model.mutable_graph()->add_output(), "c", {-1, 1, 4, 4});
  // MaxPool needs kernel_shape.
  onnx::AttributeProto* kernel = model.mutable_graph()->mutable_node(1)->add_attribute();
  kernel->set_name("kernel_shape");
  kernel->set_type(onnx::AttributeProto::INTS);
  kernel->add_ints(2);
  kernel->add_ints(2);

  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->inputs.size(), 1u);
  EXPECT_EQ(summary->inputs[0].name, "image");
  EXPECT_THAT(summary->inputs[0].shape, ElementsAre(-1, 1, 8, 8));
  ASSERT_EQ(summary->outputs.size(), 1u);
  EXPECT_EQ(summary->outputs[0].name, "c");
  EXPECT_EQ(summary->opset_version, 13);
  EXPECT_THAT(summary->op_counts, ElementsAre(Pair("MaxPool", 1), Pair("Relu", 2)));
}

TEST(InspectModelTest, ListsEveryUnsupportedOpWithItsFirstNode) {
  onnx::ModelProto model = MakeModel();
  SetFloatTensor(model.mutable_graph()->add_input(), "x", {1, 1, 2, 2});
  AddNode(model, "Relu", {"x"}, "a", "relu");
  // Ops quantd has no plans to run, so the test survives new runtime ops.
  AddNode(model, "Hardmax", {"a"}, "b", "hard1");
  AddNode(model, "LpNormalization", {"b"}, "c");  // unnamed: becomes LpNormalization_2
  AddNode(model, "Hardmax", {"c"}, "d", "hard2");
  SetFloatTensor(model.mutable_graph()->add_output(), "d", {1, 1, 2, 2});

  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(summary.status().message(),
            "unsupported operators: op 'Hardmax' (first node 'hard1'), "
            "op 'LpNormalization' (first node 'LpNormalization_2')");
}

TEST(InspectModelTest, RejectsTrainingModeDropout) {
  onnx::ModelProto model = MakeModel();
  SetFloatTensor(model.mutable_graph()->add_input(), "x", {1, 1, 2, 2});
  onnx::TensorProto* training = model.mutable_graph()->add_initializer();
  training->set_name("training");
  training->set_data_type(onnx::TensorProto::BOOL);
  training->add_int32_data(1);
  AddNode(model, "Dropout", {"x", "", "training"}, "y", "drop");
  SetFloatTensor(model.mutable_graph()->add_output(), "y", {1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(summary.status().message(), HasSubstr("node 'drop' (Dropout) runs in training mode"));
}

TEST(InspectModelTest, AcceptsInferenceDropout) {
  onnx::ModelProto model = MakeModel();
  SetFloatTensor(model.mutable_graph()->add_input(), "x", {1, 1, 2, 2});
  AddNode(model, "Relu", {"x"}, "r", "relu");
  AddNode(model, "Dropout", {"r"}, "y", "drop");
  SetFloatTensor(model.mutable_graph()->add_output(), "y", {1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(summary->op_counts, ElementsAre(Pair("Dropout", 1), Pair("Relu", 1)));
}

TEST(InspectModelTest, RequiresExactlyOneInput) {
  onnx::ModelProto model = MakeModel();
  SetFloatTensor(model.mutable_graph()->add_input(), "a", {1, 1, 2, 2});
  SetFloatTensor(model.mutable_graph()->add_input(), "b", {1, 1, 2, 2});
  AddNode(model, "Add", {"a", "b"}, "y", "sum");
  SetFloatTensor(model.mutable_graph()->add_output(), "y", {1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("2 graph inputs"));
}

TEST(InspectModelTest, RequiresRank4Input) {
  onnx::ModelProto model = MakeModel();
  SetFloatTensor(model.mutable_graph()->add_input(), "x", {-1, 784});
  AddNode(model, "Relu", {"x"}, "y");
  SetFloatTensor(model.mutable_graph()->add_output(), "y", {-1, 784});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("graph input 'x'"));
  EXPECT_THAT(summary.status().message(), HasSubstr("rank-4"));
}

TEST(InspectModelTest, GarbageIsInvalidArgument) {
  EXPECT_EQ(InspectModel("definitely not protobuf").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Fixture models trained by scripts/ (may be absent in a fresh checkout).
TEST(InspectModelTest, AcceptsFixtureModels) {
  const std::filesystem::path dir = std::filesystem::path(QUANTD_SOURCE_DIR) / "fixtures";
  int models = 0;
  if (std::filesystem::is_directory(dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".onnx") continue;
      ++models;
      std::ifstream file(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(file)),
                              std::istreambuf_iterator<char>());
      absl::StatusOr<ModelSummary> summary = InspectModel(bytes);
      ASSERT_TRUE(summary.ok()) << entry.path() << ": " << summary.status();
      ASSERT_EQ(summary->inputs.size(), 1u);
      EXPECT_EQ(summary->inputs[0].shape.size(), 4u);
      EXPECT_GT(summary->op_counts.at("Conv"), 0);
    }
  }
  if (models == 0) GTEST_SKIP() << "no fixtures/*.onnx yet";
}

}  // namespace
}  // namespace quantd::engine
