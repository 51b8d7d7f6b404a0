// FoldConstants: load-time evaluation of exporters' shape arithmetic. The
// torch patterns are built as ONNX models, exactly as the exporter writes
// them, and imported; the rest are small IR graphs.

#include "engine/passes/fold_constants.h"

#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph/graph.h"
#include "engine/runtime/model_inspection.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/session_factory.h"
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
using ::quantd::engine::testing::MakeOnnxModel;
using ::quantd::engine::testing::Serialize;
using ::testing::ElementsAre;
using ::testing::Pair;

// --- ONNX builders -------------------------------------------------------

// A Constant node holding an int64 tensor (scalar when `dims` is empty).
void AddInt64Constant(onnx::ModelProto& model, const std::string& name,
                      const std::vector<int64_t>& dims, const std::vector<int64_t>& values) {
  onnx::NodeProto* node = AddNode(model, "Constant", {}, {name}, name);
  onnx::AttributeProto* attr = node->add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  onnx::TensorProto* t = attr->mutable_t();
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
}

// What torch.onnx.export (1.13) writes for
// `p = max_pool2d(relu(x), 1); p.view(p.size(0), -1)` on a [N,2,3,3] input:
// Shape -> Gather(0) -> Unsqueeze -> Concat(_, [-1]) -> Reshape. Unsqueeze
// takes `axes` as an attribute before opset 13 and as an input from 13 on.
// The 1x1 pool keeps values, so the expected output is relu(x) flattened.
onnx::ModelProto MakeTorchViewModel(int64_t opset, int64_t batch) {
  onnx::ModelProto model = MakeOnnxModel(opset);
  AddGraphInput(model, "x", {batch, 2, 3, 3});
  AddNode(model, "Relu", {"x"}, {"r"}, "r");
  AddIntsAttr(AddNode(model, "MaxPool", {"r"}, {"p"}, "p"), "kernel_shape", {1, 1});
  AddNode(model, "Shape", {"p"}, {"shape"}, "shape");
  AddInt64Constant(model, "zero", {}, {0});
  AddIntAttr(AddNode(model, "Gather", {"shape", "zero"}, {"batch"}, "batch"), "axis", 0);
  if (opset >= 13) {
    AddInt64Constant(model, "axes", {1}, {0});
    AddNode(model, "Unsqueeze", {"batch", "axes"}, {"batch_1d"}, "batch_1d");
  } else {
    AddIntsAttr(AddNode(model, "Unsqueeze", {"batch"}, {"batch_1d"}, "batch_1d"), "axes", {0});
  }
  AddInt64Constant(model, "minus_one", {1}, {-1});
  AddIntAttr(AddNode(model, "Concat", {"batch_1d", "minus_one"}, {"target"}, "target"), "axis", 0);
  AddNode(model, "Reshape", {"p", "target"}, {"y"}, "y");
  AddGraphOutput(model, "y", {batch, 18});
  return model;
}

std::vector<std::string> OpTypes(const Graph& graph) {
  std::vector<std::string> ops;
  for (const Node& node : graph.nodes) ops.push_back(node.op_type);
  return ops;
}

// --- IR builders ----------------------------------------------------------

Node MakeNode(const std::string& op, std::vector<std::string> inputs, const std::string& output) {
  Node node;
  node.op_type = op;
  node.name = output;
  node.inputs = std::move(inputs);
  node.outputs = {output};
  return node;
}

Constant Ints(std::vector<int64_t> dims, std::vector<int64_t> values) {
  return Constant{.type = Constant::Type::kInt64,
                  .dims = std::move(dims),
                  .floats = {},
                  .ints = std::move(values)};
}

Constant Floats(std::vector<int64_t> dims, std::vector<float> values) {
  return Constant{.type = Constant::Type::kFloat32,
                  .dims = std::move(dims),
                  .floats = std::move(values),
                  .ints = {}};
}

// x[N,2,3,3] -> Relu -> "r"; tests append nodes reading "r".
Graph MakeGraph() {
  Graph graph;
  graph.opset_version = 13;
  graph.inputs.push_back(ValueInfo{.name = "x", .shape = {-1, 2, 3, 3}});
  graph.nodes.push_back(MakeNode("Relu", {"x"}, "r"));
  return graph;
}

class TorchViewTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(TorchViewTest, DynamicBatchBecomesCopyDimension) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(MakeTorchViewModel(GetParam(), -1)));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_TRUE(FoldConstants(*graph).ok());
  ASSERT_THAT(OpTypes(*graph), ElementsAre("Relu", "MaxPool", "Reshape"));
  const Node& reshape = graph->nodes[2];
  EXPECT_EQ(reshape.inputs[0], "p");
  const Constant& target = graph->constants.at(reshape.inputs[1]);
  EXPECT_EQ(target.type, Constant::Type::kInt64);
  EXPECT_THAT(target.ints, ElementsAre(0, -1));
}

TEST_P(TorchViewTest, StaticBatchFoldsToLiteralTarget) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(MakeTorchViewModel(GetParam(), 4)));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_TRUE(FoldConstants(*graph).ok());
  ASSERT_THAT(OpTypes(*graph), ElementsAre("Relu", "MaxPool", "Reshape"));
  EXPECT_THAT(graph->constants.at(graph->nodes[2].inputs[1]).ints, ElementsAre(4, -1));
}

TEST_P(TorchViewTest, InspectModelAcceptsItAndCountsOriginalOps) {
  absl::StatusOr<ModelSummary> summary =
      InspectModel(Serialize(MakeTorchViewModel(GetParam(), -1)));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(summary->op_counts,
              ElementsAre(Pair("Concat", 1), Pair("Gather", 1), Pair("MaxPool", 1), Pair("Relu", 1),
                          Pair("Reshape", 1), Pair("Shape", 1), Pair("Unsqueeze", 1)));
}

TEST_P(TorchViewTest, RunsForSeveralBatchSizes) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(Serialize(MakeTorchViewModel(GetParam(), -1)));
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_TRUE(RunStandardPasses(*graph).ok());
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(*std::move(graph), SessionOptions{});
  ASSERT_TRUE(session.ok()) << session.status();
  for (int64_t batch : {1, 3}) {
    Tensor input{.name = "x", .shape = {batch, 2, 3, 3}, .data = {}};
    for (int64_t i = 0; i < input.NumElements(); ++i) {
      input.data.push_back(static_cast<float>(i % 7) - 3.0f);
    }
    absl::StatusOr<std::vector<Tensor>> out = (*session)->Run(input);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_THAT((*out)[0].shape, ElementsAre(batch, 18));
    for (int64_t i = 0; i < input.NumElements(); ++i) {
      EXPECT_EQ((*out)[0].data[i], std::max(input.data[i], 0.0f)) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Opsets, TorchViewTest, ::testing::Values(9, 11, 13));

TEST(FoldConstantsTest, SymbolAtAnotherPositionIsLeftAlone) {
  // Reshape(r, [-1, N]): the batch moves to position 1, which 0 cannot say.
  Graph graph = MakeGraph();
  graph.constants["zero"] = Ints({1}, {0});
  graph.constants["minus_one"] = Ints({1}, {-1});
  graph.nodes.push_back(MakeNode("Shape", {"r"}, "shape"));
  graph.nodes.push_back(MakeNode("Gather", {"shape", "zero"}, "batch"));
  graph.nodes.push_back(MakeNode("Concat", {"minus_one", "batch"}, "target"));
  graph.nodes.back().attributes["axis"] = int64_t{0};
  graph.nodes.push_back(MakeNode("Reshape", {"r", "target"}, "y"));
  graph.outputs.push_back(ValueInfo{.name = "y", .shape = {-1, -1}});
  ASSERT_TRUE(FoldConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "Shape", "Gather", "Concat", "Reshape"));
  EXPECT_EQ(graph.nodes[4].inputs[1], "target");
}

TEST(FoldConstantsTest, ShapeOfStaticDimsThroughConvFolds) {
  // Conv 3x3 stride 2 pad 1 on [N,2,3,3] gives [N,4,2,2]; Shape()[1:] folds.
  Graph graph = MakeGraph();
  graph.constants["w"] = Floats({4, 2, 3, 3}, std::vector<float>(72, 0.1f));
  Node conv = MakeNode("Conv", {"r", "w"}, "c");
  conv.attributes["strides"] = std::vector<int64_t>{2, 2};
  conv.attributes["pads"] = std::vector<int64_t>{1, 1, 1, 1};
  graph.nodes.push_back(conv);
  graph.nodes.push_back(MakeNode("Shape", {"c"}, "shape"));
  graph.constants["starts"] = Ints({1}, {1});
  graph.constants["ends"] = Ints({1}, {INT64_MAX});
  graph.nodes.push_back(MakeNode("Slice", {"shape", "starts", "ends"}, "chw"));
  graph.nodes.push_back(MakeNode("ReduceProd", {"chw"}, "features"));
  graph.outputs.push_back(ValueInfo{.name = "features", .shape = {}});
  ASSERT_TRUE(FoldConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "Conv", "ReduceProd"));
  EXPECT_THAT(graph.constants.at("chw").ints, ElementsAre(4, 2, 2));
  EXPECT_THAT(graph.constants.at("chw").dims, ElementsAre(3));
}

TEST(FoldConstantsTest, EvaluatesIntegerArithmeticCastAndSqueeze) {
  Graph graph = MakeGraph();
  graph.constants["a"] = Ints({3}, {6, 8, 12});
  graph.constants["b"] = Ints({1}, {2});
  graph.nodes.push_back(MakeNode("Div", {"a", "b"}, "half"));         // 3,4,6
  graph.nodes.push_back(MakeNode("Mul", {"half", "b"}, "again"));     // 6,8,12
  graph.nodes.push_back(MakeNode("Sub", {"again", "half"}, "diff"));  // 3,4,6
  graph.nodes.push_back(MakeNode("Cast", {"diff"}, "diff_f"));        // to float
  graph.nodes.back().attributes["to"] = int64_t{1};
  graph.nodes.push_back(MakeNode("Unsqueeze", {"diff_f"}, "u"));  // [1,3]
  graph.nodes.back().attributes["axes"] = std::vector<int64_t>{0};
  graph.nodes.push_back(MakeNode("Squeeze", {"u"}, "s"));  // [3]
  graph.nodes.push_back(MakeNode("Add", {"r", "s"}, "y"));
  graph.outputs.push_back(ValueInfo{.name = "y", .shape = {-1, 2, 3, 3}});
  ASSERT_TRUE(FoldConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "Add"));
  const Constant& s = graph.constants.at("s");
  EXPECT_EQ(s.type, Constant::Type::kFloat32);
  EXPECT_THAT(s.dims, ElementsAre(3));
  EXPECT_THAT(s.floats, ElementsAre(3.0f, 4.0f, 6.0f));
}

TEST(FoldConstantsTest, EvaluatesRangeConstantOfShapeGatherAndSlice) {
  Graph graph = MakeGraph();
  graph.constants["start"] = Ints({}, {1});
  graph.constants["limit"] = Ints({}, {10});
  graph.constants["delta"] = Ints({}, {3});
  graph.nodes.push_back(MakeNode("Range", {"start", "limit", "delta"}, "range"));  // 1,4,7
  graph.constants["idx"] = Ints({2}, {-1, 0});
  graph.nodes.push_back(MakeNode("Gather", {"range", "idx"}, "picked"));  // 7,1
  graph.constants["two_three"] = Ints({2}, {2, 3});
  graph.nodes.push_back(MakeNode("ConstantOfShape", {"two_three"}, "fill"));
  graph.nodes.back().attributes["value"] = 0.5f;
  graph.constants["starts"] = Ints({2}, {-1, 2});
  graph.constants["ends"] = Ints({2}, {-2, -4});
  graph.constants["axes"] = Ints({2}, {0, 1});
  graph.constants["steps"] = Ints({2}, {-1, -2});
  graph.constants["m"] = Floats({2, 3}, {1, 2, 3, 4, 5, 6});
  graph.nodes.push_back(MakeNode("Slice", {"m", "starts", "ends", "axes", "steps"}, "rev"));
  // Keeps the results referenced by a runtime node.
  graph.nodes.push_back(MakeNode("Sum", {"r", "picked", "fill", "rev"}, "y"));
  graph.outputs.push_back(ValueInfo{.name = "y", .shape = {}});
  ASSERT_TRUE(FoldConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "Sum"));
  EXPECT_THAT(graph.constants.at("range").ints, ElementsAre(1, 4, 7));
  EXPECT_THAT(graph.constants.at("picked").ints, ElementsAre(7, 1));
  EXPECT_THAT(graph.constants.at("fill").floats, ElementsAre(0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f));
  // Row 1 (from -1 back to -2, exclusive); columns 2 and 0 (end -4 clamps
  // to "before the first").
  const Constant& rev = graph.constants.at("rev");
  EXPECT_THAT(rev.dims, ElementsAre(1, 2));
  EXPECT_THAT(rev.floats, ElementsAre(6.0f, 4.0f));
}

TEST(FoldConstantsTest, TransposesConstantWeight) {
  // torch's Linear without bias: MatMul(x, Transpose(W)).
  Graph graph = MakeGraph();
  graph.constants["w"] = Floats({2, 3}, {1, 2, 3, 4, 5, 6});
  graph.nodes.push_back(MakeNode("Transpose", {"w"}, "wt"));
  graph.nodes.back().attributes["perm"] = std::vector<int64_t>{1, 0};
  graph.nodes.push_back(MakeNode("MatMul", {"r", "wt"}, "y"));
  graph.outputs.push_back(ValueInfo{.name = "y", .shape = {}});
  ASSERT_TRUE(FoldConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "MatMul"));
  EXPECT_THAT(graph.constants.at("wt").dims, ElementsAre(3, 2));
  EXPECT_THAT(graph.constants.at("wt").floats, ElementsAre(1, 4, 2, 5, 3, 6));
}

TEST(FoldConstantsTest, KeepsNodeProducingGraphOutput) {
  Graph graph = MakeGraph();
  graph.constants["a"] = Floats({1}, {1.0f});
  graph.nodes.push_back(MakeNode("Add", {"a", "a"}, "two"));
  graph.outputs.push_back(ValueInfo{.name = "r", .shape = {-1, 2, 3, 3}});
  graph.outputs.push_back(ValueInfo{.name = "two", .shape = {1}});
  ASSERT_TRUE(FoldConstants(graph).ok());
  EXPECT_THAT(OpTypes(graph), ElementsAre("Relu", "Add"));
  EXPECT_EQ(graph.constants.count("two"), 0u);
}

TEST(FoldConstantsTest, GatherIndexOutOfRangeIsInvalidArgument) {
  Graph graph = MakeGraph();
  graph.constants["v"] = Ints({2}, {1, 2});
  graph.constants["i"] = Ints({}, {5});
  graph.nodes.push_back(MakeNode("Gather", {"v", "i"}, "g"));
  graph.nodes.push_back(MakeNode("Reshape", {"r", "g"}, "y"));
  graph.outputs.push_back(ValueInfo{.name = "y", .shape = {}});
  const absl::Status status = FoldConstants(graph);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("node 'g' (Gather)"));
}

TEST(FoldConstantsTest, StandardPassesFoldFirst) {
  // A constant Clip bound computed by a Cast only fuses once folded.
  Graph graph;
  graph.opset_version = 13;
  graph.inputs.push_back(ValueInfo{.name = "x", .shape = {-1, 2, 3, 3}});
  graph.constants["w"] = Floats({2, 2, 1, 1}, {1, 0, 0, 1});
  graph.constants["six"] = Ints({}, {6});
  graph.constants["zero"] = Floats({}, {0.0f});
  graph.nodes.push_back(MakeNode("Conv", {"x", "w"}, "c"));
  graph.nodes.push_back(MakeNode("Cast", {"six"}, "six_f"));
  graph.nodes.back().attributes["to"] = int64_t{1};
  graph.nodes.push_back(MakeNode("Clip", {"c", "zero", "six_f"}, "y"));
  graph.outputs.push_back(ValueInfo{.name = "y", .shape = {-1, 2, 3, 3}});
  ASSERT_TRUE(RunStandardPasses(graph).ok());
  ASSERT_THAT(OpTypes(graph), ElementsAre("Conv"));
  ASSERT_EQ(graph.nodes[0].post_ops.size(), 1u);
  EXPECT_EQ(graph.nodes[0].post_ops[0].beta, 6.0f);
}

}  // namespace
}  // namespace quantd::engine
