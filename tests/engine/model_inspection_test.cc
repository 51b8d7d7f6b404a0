#include "engine/runtime/model_inspection.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"
#include "onnx_model_builder.h"

namespace quantd::engine {
namespace {

using ::quantd::engine::testing::AddGraphInput;
using ::quantd::engine::testing::AddGraphOutput;
using ::quantd::engine::testing::AddIntsAttr;
using ::quantd::engine::testing::AddNode;
using ::quantd::engine::testing::MakeOnnxModel;
using ::quantd::engine::testing::Serialize;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(InspectModelTest, SummarizesSupportedModel) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "image", {-1, 1, 8, 8});
  AddNode(model, "Relu", {"image"}, {"a"}, "relu1");
  AddNode(model, "MaxPool", {"a"}, {"b"}, "pool1");
  AddNode(model, "Relu", {"b"}, {"c"}, "relu2");
  AddGraphOutput(model, "c", {-1, 1, 4, 4});
  // MaxPool needs kernel_shape.
  AddIntsAttr(model.mutable_graph()->mutable_node(1), "kernel_shape", {2, 2});

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
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Relu", {"x"}, {"a"}, "relu");
  // Ops quantd has no plans to run, so the test survives new runtime ops.
  AddNode(model, "Multinomial", {"a"}, {"b"}, "draw1");
  AddNode(model, "LpNormalization", {"b"}, {"c"});  // unnamed: becomes LpNormalization_2
  AddNode(model, "Multinomial", {"c"}, {"d"}, "draw2");
  AddGraphOutput(model, "d", {1, 1, 2, 2});

  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(summary.status().message(),
            "unsupported operators: op 'Multinomial' (first node 'draw1'), "
            "op 'LpNormalization' (first node 'LpNormalization_2')");
}

TEST(InspectModelTest, RejectsTrainingModeDropout) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  onnx::TensorProto* training = model.mutable_graph()->add_initializer();
  training->set_name("training");
  training->set_data_type(onnx::TensorProto::BOOL);
  training->add_int32_data(1);
  AddNode(model, "Dropout", {"x", "", "training"}, {"y"}, "drop");
  AddGraphOutput(model, "y", {1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(summary.status().message(), HasSubstr("node 'drop' (Dropout) runs in training mode"));
}

TEST(InspectModelTest, AcceptsInferenceDropout) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "x", {1, 1, 2, 2});
  AddNode(model, "Relu", {"x"}, {"r"}, "relu");
  AddNode(model, "Dropout", {"r"}, {"y"}, "drop");
  AddGraphOutput(model, "y", {1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(summary->op_counts, ElementsAre(Pair("Dropout", 1), Pair("Relu", 1)));
}

TEST(InspectModelTest, ReportsEveryInput) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "a", {-1, 1, 2, 2});
  AddGraphInput(model, "b", {-1, 1, 2, 2});
  AddNode(model, "Add", {"a", "b"}, {"y"}, "sum");
  AddGraphOutput(model, "y", {-1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->inputs.size(), 2u);
  EXPECT_EQ(summary->inputs[0].name, "a");
  EXPECT_EQ(summary->inputs[1].name, "b");
  EXPECT_THAT(summary->inputs[1].shape, ElementsAre(-1, 1, 2, 2));
}

TEST(InspectModelTest, ChecksEveryInput) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "a", {-1, 1, 2, 2});
  AddGraphInput(model, "b", {-1, -1, 2, 2});
  AddNode(model, "Relu", {"a"}, {"y"});
  AddNode(model, "Relu", {"b"}, {"z"});
  AddGraphOutput(model, "y", {-1, 1, 2, 2});
  AddGraphOutput(model, "z", {-1, -1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("graph input 'b'"));
  EXPECT_THAT(summary.status().message(), HasSubstr("channel dimension"));
}

// Shapes are inferred with every input bound: [1,1,2,2] + [1,1,3,3] does not
// broadcast, which only the second input's shape reveals.
TEST(InspectModelTest, InfersShapesFromEveryInput) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "a", {1, 1, 2, 2});
  AddGraphInput(model, "b", {1, 1, 3, 3});
  AddNode(model, "Add", {"a", "b"}, {"y"}, "sum");
  AddGraphOutput(model, "y", {1, 1, 2, 2});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("sum"));
}

// Inputs need not be images: feature vectors and sequences are accepted;
// a scalar input is not.
TEST(InspectModelTest, AcceptsInputsOfAnyRankButScalars) {
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{-1, 784}, std::vector<int64_t>{-1, -1, 64}}) {
    onnx::ModelProto model = MakeOnnxModel();
    AddGraphInput(model, "x", shape);
    AddNode(model, "Relu", {"x"}, {"y"});
    AddGraphOutput(model, "y", shape);
    absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
    EXPECT_TRUE(summary.ok()) << summary.status();
  }
  onnx::ModelProto scalar = MakeOnnxModel();
  AddGraphInput(scalar, "x", {});
  AddNode(scalar, "Relu", {"x"}, {"y"});
  AddGraphOutput(scalar, "y", {});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(scalar));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("graph input 'x' is a scalar"));
}

// Detectors take any image size: the runtime compiles a Plan per input shape.
TEST(InspectModelTest, AcceptsDynamicHeightAndWidth) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "image", {-1, 3, -1, -1});
  AddNode(model, "Relu", {"image"}, {"y"});
  AddGraphOutput(model, "y", {-1, 3, -1, -1});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(summary->inputs[0].shape, ElementsAre(-1, 3, -1, -1));
}

TEST(InspectModelTest, RequiresFixedChannelCount) {
  onnx::ModelProto model = MakeOnnxModel();
  AddGraphInput(model, "image", {-1, -1, 8, 8});
  AddNode(model, "Relu", {"image"}, {"y"});
  AddGraphOutput(model, "y", {-1, -1, 8, 8});
  absl::StatusOr<ModelSummary> summary = InspectModel(Serialize(model));
  ASSERT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("channel dimension (C) must be fixed"));
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
  if (models == 0) FAIL() << "no fixtures/*.onnx found; they are committed in fixtures/";
}

}  // namespace
}  // namespace quantd::engine
