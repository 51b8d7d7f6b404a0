// InferenceSession on models with several graph inputs: a two-input model
// against the reference interpreter, inputs matched by name or position, the
// errors that name a bad input, batch splitting across inputs, observation
// and an int8 session.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/graph/onnx_importer.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/batch_split_tuner.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/session_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx_model_builder.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;
using testing::kSymbolicBatchDim;
using testing::RandomTensor;

// y = Relu(Conv3x3(a) + b) with a [N,3,8,8] and b [N,4,8,8]. The standard
// passes fuse the Add into the Conv as a residual sum whose addend is graph
// input b.
onnx::ModelProto TwoInputModel() {
  std::mt19937 rng(7);
  onnx::ModelProto model = testing::MakeOnnxModel();
  testing::AddGraphInput(model, "a", {kSymbolicBatchDim, 3, 8, 8});
  testing::AddGraphInput(model, "b", {kSymbolicBatchDim, 4, 8, 8});
  testing::AddFloatInitializer(model, "w", {4, 3, 3, 3},
                               testing::RandomFloats(108, rng, -0.5f, 0.5f));
  testing::AddFloatInitializer(model, "bias", {4}, testing::RandomFloats(4, rng, -0.2f, 0.2f));
  onnx::NodeProto* conv = testing::AddNode(model, "Conv", {"a", "w", "bias"}, {"c"}, "conv");
  testing::AddIntsAttr(conv, "kernel_shape", {3, 3});
  testing::AddIntsAttr(conv, "pads", {1, 1, 1, 1});
  testing::AddNode(model, "Add", {"c", "b"}, {"s"}, "add");
  testing::AddNode(model, "Relu", {"s"}, {"y"}, "relu");
  testing::AddGraphOutput(model, "y", {kSymbolicBatchDim, 4, 8, 8});
  return model;
}

// The graph the session runs, for the reference interpreter.
Graph PassedGraph(const onnx::ModelProto& model) {
  absl::StatusOr<Graph> graph = ImportOnnxModel(testing::Serialize(model));
  EXPECT_TRUE(graph.ok()) << graph.status();
  if (!graph.ok()) return Graph{};
  EXPECT_TRUE(RunStandardPasses(*graph).ok());
  return *std::move(graph);
}

std::unique_ptr<InferenceSession> Session(const onnx::ModelProto& model,
                                          const SessionOptions& options = {}) {
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      InferenceSession::Create(testing::Serialize(model), options);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? std::move(*session) : nullptr;
}

Tensor Named(std::string name, Tensor tensor) {
  tensor.name = std::move(name);
  return tensor;
}

void ExpectNear(const Tensor& actual, const Tensor& expected, double rtol) {
  ASSERT_EQ(actual.shape, expected.shape);
  ASSERT_EQ(actual.data.size(), expected.data.size());
  for (size_t i = 0; i < expected.data.size(); ++i) {
    ASSERT_NEAR(actual.data[i], expected.data[i], rtol * (1 + std::fabs(expected.data[i])))
        << "element " << i;
  }
}

TEST(RuntimeMultiInputTest, TwoInputModelMatchesReference) {
  const onnx::ModelProto model = TwoInputModel();
  const Graph graph = PassedGraph(model);
  // The interesting path: a graph input is the Conv's fused residual.
  ASSERT_EQ(graph.nodes.size(), 1u);
  ASSERT_EQ(graph.nodes[0].post_ops.size(), 2u);
  EXPECT_EQ(graph.nodes[0].post_ops[0].sum_input, "b");
  auto session = Session(model);
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(session->summary().inputs.size(), 2u);
  std::mt19937 rng(3);
  for (int64_t batch : {1, 3}) {
    SCOPED_TRACE(batch);
    const Tensor a = RandomTensor({batch, 3, 8, 8}, rng);
    const Tensor b = RandomTensor({batch, 4, 8, 8}, rng);
    absl::StatusOr<std::vector<Tensor>> out = session->Run({Named("a", a), Named("b", b)});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 1u);
    ExpectNear((*out)[0], testing::reference::Run(graph, {a, b}), 1e-4);
  }
}

// Names pick the graph input whatever the order; unnamed tensors take the
// graph input at their position. All four runs use one Plan: equal bits.
TEST(RuntimeMultiInputTest, InputsMatchByNameInAnyOrderOrByPosition) {
  auto session = Session(TwoInputModel());
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(4);
  const Tensor a = RandomTensor({2, 3, 8, 8}, rng);
  const Tensor b = RandomTensor({2, 4, 8, 8}, rng);
  absl::StatusOr<std::vector<Tensor>> in_order = session->Run({Named("a", a), Named("b", b)});
  absl::StatusOr<std::vector<Tensor>> reversed = session->Run({Named("b", b), Named("a", a)});
  absl::StatusOr<std::vector<Tensor>> by_position = session->Run({a, b});
  absl::StatusOr<std::vector<Tensor>> mixed = session->Run({a, Named("b", b)});
  ASSERT_TRUE(in_order.ok()) << in_order.status();
  ASSERT_TRUE(reversed.ok()) << reversed.status();
  ASSERT_TRUE(by_position.ok()) << by_position.status();
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ((*reversed)[0].data, (*in_order)[0].data);
  EXPECT_EQ((*by_position)[0].data, (*in_order)[0].data);
  EXPECT_EQ((*mixed)[0].data, (*in_order)[0].data);
}

void ExpectInvalid(const absl::StatusOr<std::vector<Tensor>>& result,
                   const std::vector<std::string>& message_parts) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  for (const std::string& part : message_parts) {
    EXPECT_THAT(result.status().message(), HasSubstr(part));
  }
}

TEST(RuntimeMultiInputTest, BadInputsAreInvalidArgumentNamingTheInput) {
  auto session = Session(TwoInputModel());
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(5);
  const Tensor a = Named("a", RandomTensor({2, 3, 8, 8}, rng));
  const Tensor b = Named("b", RandomTensor({2, 4, 8, 8}, rng));

  // Missing.
  ExpectInvalid(session->Run({a}), {"missing model input 'b' [-1,4,8,8]"});
  ExpectInvalid(session->Run(a), {"missing model input 'b'"});  // the one-tensor form
  // Unknown.
  ExpectInvalid(session->Run({a, b, Named("c", b)}),
                {"input 'c' is not a model input", "'a' [-1,3,8,8], 'b' [-1,4,8,8]"});
  // Unnamed, past the last input.
  ExpectInvalid(session->Run({a, b, Tensor{"", b.shape, b.data}}),
                {"input #2 has no name", "'a' [-1,3,8,8], 'b' [-1,4,8,8]"});
  // Given twice, by name or by position and name.
  ExpectInvalid(session->Run({a, b, a}), {"model input 'a' is given twice"});
  ExpectInvalid(session->Run({Tensor{"", a.shape, a.data}, a}), {"model input 'a' is given twice"});
  // Wrong rank.
  ExpectInvalid(session->Run({a, Named("b", RandomTensor({2, 4, 64}, rng))}),
                {"input shape [2,4,64] does not match model input 'b' [-1,4,8,8]"});
  // Wrong fixed dim.
  ExpectInvalid(session->Run({a, Named("b", RandomTensor({2, 5, 8, 8}, rng))}),
                {"input shape [2,5,8,8] does not match model input 'b' [-1,4,8,8]"});
  // Too few values for the shape.
  Tensor short_b = b;
  short_b.data.pop_back();
  ExpectInvalid(session->Run({a, short_b}),
                {"input 'b' has 511 values but shape [2,4,8,8] needs 512"});
}

// The one-tensor Run feeds a one-input model whatever the tensor's name (as
// Infer always has); the vector form matches names strictly.
TEST(RuntimeMultiInputTest, OneInputModelsTakeTheOneTensorWhateverItsName) {
  onnx::ModelProto model = testing::MakeOnnxModel();
  testing::AddGraphInput(model, "x", {kSymbolicBatchDim, 1, 2, 2});
  testing::AddNode(model, "Relu", {"x"}, {"y"});
  testing::AddGraphOutput(model, "y", {kSymbolicBatchDim, 1, 2, 2});
  auto session = Session(model);
  ASSERT_NE(session, nullptr);
  const Tensor input{"images", {1, 1, 2, 2}, {-1, 2, -3, 4}};
  absl::StatusOr<std::vector<Tensor>> out = session->Run(input);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].data, (std::vector<float>{0, 2, 0, 4}));
  ExpectInvalid(session->Run(std::vector<Tensor>{input}), {"input 'images' is not a model input"});
}

// oneDNN has no rank-0 memory: a scalar graph input is refused as
// unimplemented when its Plan compiles, naming it.
TEST(RuntimeMultiInputTest, AScalarGraphInputIsUnimplemented) {
  const Graph graph =
      testing::GraphBuilder({2, 3}).Op("Mul", "scale", {"x", "s"}, "y").Output("y").Build();
  Graph with_scalar = graph;
  with_scalar.inputs.push_back(ValueInfo{"s", {}});
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(std::move(with_scalar), SessionOptions{});
  ASSERT_EQ(session.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(session.status().message(), HasSubstr("graph input 's' has rank 0"));
}

// An output that needs no runtime input (folded from constants) comes from
// the Plan itself, next to the computed ones.
TEST(RuntimeMultiInputTest, AnOutputComputedFromConstantsIsReturned) {
  const Graph graph = testing::GraphBuilder({2, 3})
                          .Floats("c", {2}, {1.5f, -2.0f})
                          .Op("Relu", "relu", {"x"}, "y")
                          .Output("y")
                          .Output("c")
                          .Build();
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(graph, SessionOptions{});
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<std::vector<Tensor>> out =
      (*session)->Run(Tensor{"x", {2, 3}, {1, -1, 2, -2, 3, -3}});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].data, (std::vector<float>{1, 0, 2, 0, 3, 0}));
  EXPECT_EQ((*out)[1].name, "c");
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{2}));
  EXPECT_EQ((*out)[1].data, (std::vector<float>{1.5f, -2.0f}));
}

// Splitting a batch is valid when every input holds the batch: each input is
// cut at the same rows. Whatever split the tuner tries or picks, the rows
// come out as when run one by one.
TEST(RuntimeMultiInputTest, BatchSplittingCutsEveryInputAtTheSameRows) {
  // Two threads, so the side-by-side candidates are tried on any machine.
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(2);
  auto session = Session(TwoInputModel());
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(6);
  const int64_t batch = 8;
  const Tensor a = Named("a", RandomTensor({batch, 3, 8, 8}, rng));
  const Tensor b = Named("b", RandomTensor({batch, 4, 8, 8}, rng));
  Tensor expected{"y", {0, 4, 8, 8}, {}};
  for (int64_t row = 0; row < batch; ++row) {
    const int64_t a_row = 3 * 8 * 8, b_row = 4 * 8 * 8;
    const Tensor a1{
        "a", {1, 3, 8, 8}, {a.data.begin() + row * a_row, a.data.begin() + (row + 1) * a_row}};
    const Tensor b1{
        "b", {1, 4, 8, 8}, {b.data.begin() + row * b_row, b.data.begin() + (row + 1) * b_row}};
    absl::StatusOr<std::vector<Tensor>> out = session->Run({a1, b1});
    ASSERT_TRUE(out.ok()) << out.status();
    expected.data.insert(expected.data.end(), (*out)[0].data.begin(), (*out)[0].data.end());
    ++expected.shape[0];
  }
  ASSERT_GT(session->TuningRunsLeft(batch), 0);
  // Every candidate x 2 runs to tune, then the chosen split.
  const int runs = 2 * static_cast<int>(BatchSplitTuner::Candidates(batch, 2).size()) + 3;
  for (int run = 0; run < runs; ++run) {
    SCOPED_TRACE(run);
    absl::StatusOr<std::vector<Tensor>> out = session->Run({a, b});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], expected, 1e-5);
  }
  EXPECT_EQ(session->TuningRunsLeft(batch), 0);
  omp_set_num_threads(saved_threads);
}

// b's dimension 0 broadcasts (1 row against a's 8; the importer keeps no
// link between the two inputs' dynamic batch dims): the batch is not split,
// since b's rows are not a's. Splitting would cut rows b does not have.
TEST(RuntimeMultiInputTest, InputsOfDifferentBatchesRunWhole) {
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(2);
  const onnx::ModelProto model = TwoInputModel();
  const Graph graph = PassedGraph(model);
  auto session = Session(model);
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(8);
  const Tensor a = RandomTensor({8, 3, 8, 8}, rng);
  const Tensor b = RandomTensor({1, 4, 8, 8}, rng);
  const Tensor expected = testing::reference::Run(graph, {a, b});
  const int runs = 2 * static_cast<int>(BatchSplitTuner::Candidates(8, 2).size()) + 1;
  for (int run = 0; run < runs; ++run) {
    SCOPED_TRACE(run);
    absl::StatusOr<std::vector<Tensor>> out = session->Run({a, b});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], expected, 1e-4);
  }
  omp_set_num_threads(saved_threads);
}

TEST(RuntimeMultiInputTest, RunObservedReportsEveryInput) {
  auto session = Session(TwoInputModel());
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(9);
  const Tensor a = Named("a", RandomTensor({2, 3, 8, 8}, rng));
  const Tensor b = Named("b", RandomTensor({2, 4, 8, 8}, rng));
  std::map<std::string, Tensor> seen;
  absl::StatusOr<std::vector<Tensor>> out = session->RunObserved(
      {b, a}, [&](const std::string& name, const Tensor& value) { seen[name] = value; });
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(seen.count("a"), 1u);
  ASSERT_EQ(seen.count("b"), 1u);
  EXPECT_EQ(seen["a"].data, a.data);
  EXPECT_EQ(seen["b"].data, b.data);
  EXPECT_EQ(seen["y"].data, (*out)[0].data);
}

// An int8 session of a two-input model, with ranges for both inputs from one
// observed fp32 batch: it runs, close to fp32 (a few int8 steps).
TEST(RuntimeMultiInputTest, Int8SessionRunsWithRangesForEveryInput) {
  const onnx::ModelProto model = TwoInputModel();
  auto fp32 = Session(model);
  ASSERT_NE(fp32, nullptr);
  std::mt19937 rng(10);
  const std::vector<Tensor> inputs = {Named("a", RandomTensor({4, 3, 8, 8}, rng)),
                                      Named("b", RandomTensor({4, 4, 8, 8}, rng))};
  CalibrationTable table;
  absl::StatusOr<std::vector<Tensor>> expected =
      fp32->RunObserved(inputs, [&](const std::string& name, const Tensor& value) {
        const auto [lo, hi] = std::minmax_element(value.data.begin(), value.data.end());
        table.ranges[name] = TensorRange{*lo, *hi};
      });
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(table.ranges.count("b"), 1u);
  SessionOptions options;
  options.precision = Precision::kInt8;
  options.calibration = &table;
  auto int8 = Session(model, options);
  ASSERT_NE(int8, nullptr);
  absl::StatusOr<std::vector<Tensor>> out = int8->Run(inputs);
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& y = (*expected)[0];
  const float max_y = *std::max_element(y.data.begin(), y.data.end());
  ASSERT_EQ((*out)[0].shape, y.shape);
  EXPECT_NE((*out)[0].data, y.data);  // it really ran in int8
  for (size_t i = 0; i < y.data.size(); ++i) {
    ASSERT_NEAR((*out)[0].data[i], y.data[i], 0.05f * max_y) << "element " << i;
  }
}

}  // namespace
}  // namespace quantd::engine
