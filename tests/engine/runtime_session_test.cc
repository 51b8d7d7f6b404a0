// InferenceSession over hand-built graphs: a ResNet-like network against the
// reference interpreter, input validation, plan caching by shape, concurrent
// Run() and activation observation.

#include <omp.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "engine/runtime/batch_split_tuner.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/session_factory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime_reference.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;
using testing::RandomTensor;
using testing::TinyResNet;

std::unique_ptr<InferenceSession> Fp32Session(Graph graph) {
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(std::move(graph), SessionOptions{});
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? std::move(*session) : nullptr;
}

TEST(RuntimeSessionTest, TinyResNetMatchesReference) {
  const Graph graph = TinyResNet(21);
  auto session = Fp32Session(graph);
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(2);
  for (int64_t batch : {1, 3}) {
    const Tensor input = RandomTensor({batch, 3, 16, 16}, rng);
    absl::StatusOr<std::vector<Tensor>> out = session->Run(input);
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor expected = testing::reference::Run(graph, input);
    ASSERT_EQ((*out)[0].shape, expected.shape);
    for (size_t i = 0; i < expected.data.size(); ++i) {
      EXPECT_NEAR((*out)[0].data[i], expected.data[i], 1e-4 * (1 + std::fabs(expected.data[i])));
    }
  }
}

TEST(RuntimeSessionTest, ShapeMismatchIsInvalidArgument) {
  auto session = Fp32Session(TinyResNet(21));
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(2);
  absl::StatusOr<std::vector<Tensor>> out = session->Run(RandomTensor({1, 1, 16, 16}, rng));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(),
              HasSubstr("input shape [1,1,16,16] does not match model input 'x' [-1,3,16,16]"));

  Tensor short_data = RandomTensor({1, 3, 16, 16}, rng);
  short_data.data.pop_back();
  EXPECT_EQ(session->Run(short_data).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(session->Run(Tensor{"", {0, 3, 16, 16}, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(session->Run(RandomTensor({3, 16, 16}, rng)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RuntimeSessionTest, BatchRowsMatchSingleImageRuns) {
  SessionOptions options;
  options.max_cached_plans = 1;  // forces recompilation between shapes
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(TinyResNet(21), options);
  ASSERT_TRUE(session.ok()) << session.status();
  std::mt19937 rng(4);
  const Tensor batch = RandomTensor({4, 3, 16, 16}, rng);
  absl::StatusOr<std::vector<Tensor>> all = (*session)->Run(batch);
  ASSERT_TRUE(all.ok()) << all.status();
  for (int64_t n = 0; n < 4; ++n) {
    const int64_t image = 3 * 16 * 16;
    Tensor one{
        "",
        {1, 3, 16, 16},
        std::vector<float>(batch.data.begin() + n * image, batch.data.begin() + (n + 1) * image)};
    absl::StatusOr<std::vector<Tensor>> single = (*session)->Run(one);
    ASSERT_TRUE(single.ok()) << single.status();
    for (int k = 0; k < 10; ++k) {
      EXPECT_NEAR((*single)[0].data[k], (*all)[0].data[n * 10 + k], 1e-4);
    }
  }
}

TEST(RuntimeSessionTest, ConcurrentRunsGiveIdenticalResults) {
  auto session = Fp32Session(TinyResNet(21));
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(6);
  const Tensor input = RandomTensor({2, 3, 16, 16}, rng);
  absl::StatusOr<std::vector<Tensor>> expected = session->Run(input);
  ASSERT_TRUE(expected.ok()) << expected.status();
  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        absl::StatusOr<std::vector<Tensor>> out = session->Run(input);
        if (!out.ok() || (*out)[0].data != (*expected)[0].data) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>({0, 0}));
}

TEST(RuntimeSessionTest, RunObservedReportsInputAndEveryNodeOutput) {
  const Graph graph = TinyResNet(21);
  auto session = Fp32Session(graph);
  ASSERT_NE(session, nullptr);
  std::mt19937 rng(8);
  const Tensor input = RandomTensor({2, 3, 16, 16}, rng);
  std::map<std::string, Tensor> seen;
  absl::StatusOr<std::vector<Tensor>> out = session->RunObserved(
      input, [&](const std::string& name, const Tensor& value) { seen[name] = value; });
  ASSERT_TRUE(out.ok()) << out.status();
  std::set<std::string> names;
  for (const auto& [name, value] : seen) names.insert(name);
  EXPECT_EQ(names,
            (std::set<std::string>{"x", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "logits"}));
  EXPECT_EQ(seen["x"].data, input.data);
  EXPECT_EQ(seen["a8"].shape, (std::vector<int64_t>{2, 8 * 0 + 16}));
  EXPECT_EQ(seen["a1"].shape, (std::vector<int64_t>{2, 8, 16, 16}));
  for (float v : seen["a4"].data) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 6.0f);
  }
  EXPECT_EQ(seen["logits"].data, (*out)[0].data);
}

TEST(RuntimeSessionTest, UnsupportedOpFailsAtCreate) {
  Graph graph =
      testing::GraphBuilder({1, 3, 4, 4}).Op("Einsum", "up1", {"x"}, "y").Output("y").Build();
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(std::move(graph), SessionOptions{});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(session.status().message(), HasSubstr("op 'Einsum' (node 'up1')"));
}

// 3x3 stride-1 convolutions with 32 channels: shapes oneDNN has Winograd
// kernels for on AVX-512 (smaller channel counts fall back to direct), with
// the fused sum and ReLU a ResNet block needs.
Graph WinogradEligibleBlock(unsigned seed) {
  std::mt19937 rng(seed);
  PostOp relu;
  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  sum.sum_input = "a1";
  const std::map<std::string, AttributeValue> pad1 = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  return testing::GraphBuilder({-1, 32, 14, 14})
      .Const("w1", {32, 32, 3, 3}, rng, -0.1f, 0.1f)
      .Const("b1", {32}, rng, -0.2f, 0.2f)
      .Const("w2", {32, 32, 3, 3}, rng, -0.1f, 0.1f)
      .Const("b2", {32}, rng, -0.2f, 0.2f)
      .Op("Conv", "c1", {"x", "w1", "b1"}, "a1", pad1, {relu})
      .Op("Conv", "c2", {"a1", "w2", "b2"}, "y", pad1, {sum, relu})
      .Output("y")
      .Build();
}

TEST(RuntimeSessionTest, WinogradAndDirectConvolutionBothMatchReference) {
  const Graph graph = WinogradEligibleBlock(5);
  std::mt19937 rng(6);
  const Tensor input = RandomTensor({2, 32, 14, 14}, rng);
  const Tensor expected = testing::reference::Run(graph, input);
  for (const bool winograd : {true, false}) {
    SCOPED_TRACE(winograd ? "winograd" : "direct");
    SessionOptions options;
    options.fp32_winograd = winograd;
    absl::StatusOr<std::unique_ptr<InferenceSession>> session =
        CreateSessionFromGraph(graph, options);
    ASSERT_TRUE(session.ok()) << session.status();
    absl::StatusOr<std::vector<Tensor>> out = (*session)->Run(input);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ((*out)[0].shape, expected.shape);
    for (size_t i = 0; i < expected.data.size(); ++i) {
      ASSERT_NEAR((*out)[0].data[i], expected.data[i], 1e-4 * (1 + std::fabs(expected.data[i])))
          << "element " << i;
    }
  }
}

// A classifier with dynamic height and width: one session serves several
// image sizes, each through its own Plan, and each matches the reference.
TEST(RuntimeSessionTest, DynamicHeightAndWidthRunAtAnySize) {
  std::mt19937 rng(11);
  PostOp relu;
  const Graph graph =
      testing::GraphBuilder({-1, 3, -1, -1})
          .Const("w", {8, 3, 3, 3}, rng, -0.4f, 0.4f)
          .Const("b", {8}, rng, -0.2f, 0.2f)
          .Const("fc_w", {5, 8}, rng, -0.5f, 0.5f)
          .Const("fc_b", {5}, rng, -0.1f, 0.1f)
          .Op("Conv", "conv", {"x", "w", "b"}, "a",
              {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}},
              {relu})
          .Op("GlobalAveragePool", "gap", {"a"}, "p")
          .Op("Flatten", "flat", {"p"}, "f")
          .Op("Gemm", "fc", {"f", "fc_w", "fc_b"}, "logits", {{"transB", int64_t{1}}})
          .Output("logits", {-1, 5})
          .Build();
  auto session = Fp32Session(graph);
  ASSERT_NE(session, nullptr);
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
           {1, 3, 16, 16}, {2, 3, 23, 37}, {1, 3, 64, 48}, {1, 3, 16, 16}}) {
    SCOPED_TRACE(::testing::PrintToString(shape));
    const Tensor input = RandomTensor(shape, rng);
    absl::StatusOr<std::vector<Tensor>> out = session->Run(input);
    ASSERT_TRUE(out.ok()) << out.status();
    const Tensor expected = testing::reference::Run(graph, input);
    ASSERT_EQ((*out)[0].shape, expected.shape);
    for (size_t i = 0; i < expected.data.size(); ++i) {
      EXPECT_NEAR((*out)[0].data[i], expected.data[i], 1e-4 * (1 + std::fabs(expected.data[i])));
    }
  }
  // The channel count stays fixed.
  EXPECT_EQ(session->Run(RandomTensor({1, 4, 16, 16}, rng)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Large batches may run as measured-faster sub-batches, or as shares side by
// side on one thread each, while the session tunes itself and afterwards; the
// outputs must not change (beyond float rounding) whichever split is in use.
TEST(RuntimeSessionTest, BatchSplittingKeepsOutputs) {
  // Two threads, so the side-by-side candidates are tried on any machine.
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(2);
  const Graph graph = TinyResNet(21);
  SessionOptions whole;
  whole.tune_batch_split = false;
  absl::StatusOr<std::unique_ptr<InferenceSession>> reference =
      CreateSessionFromGraph(graph, whole);
  ASSERT_TRUE(reference.ok()) << reference.status();
  auto tuned = Fp32Session(graph);
  ASSERT_NE(tuned, nullptr);
  std::mt19937 rng(17);
  const Tensor input = RandomTensor({16, 3, 16, 16}, rng);
  absl::StatusOr<std::vector<Tensor>> expected = (*reference)->Run(input);
  ASSERT_TRUE(expected.ok()) << expected.status();
  // Every candidate x 2 runs to tune, then the chosen split.
  const int runs = 2 * static_cast<int>(BatchSplitTuner::Candidates(16, 2).size()) + 3;
  ASSERT_EQ(runs, 2 * 5 + 3);  // 16, 8, 4 on two threads; 8, 4 per worker side by side
  for (int run = 0; run < runs; ++run) {
    SCOPED_TRACE(run);
    absl::StatusOr<std::vector<Tensor>> out = tuned->Run(input);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ((*out)[0].shape, (*expected)[0].shape);
    for (size_t i = 0; i < (*expected)[0].data.size(); ++i) {
      ASSERT_NEAR((*out)[0].data[i], (*expected)[0].data[i],
                  1e-5 * (1 + std::fabs((*expected)[0].data[i])));
    }
  }
  omp_set_num_threads(saved_threads);
}

// Training-mode nodes compute batch statistics or random masks; a graph built
// in code (not through the upload check) must be refused just the same.
TEST(RuntimeSessionTest, TrainingModeNodesAreUnimplemented) {
  std::mt19937 rng(3);
  const Graph batch_norm =
      testing::GraphBuilder({-1, 4, 5, 5})
          .Const("scale", {4}, rng)
          .Const("bias", {4}, rng)
          .Const("mean", {4}, rng)
          .Const("var", {4}, rng, 0.5f, 1.0f)
          .Op("BatchNormalization", "bn", {"x", "scale", "bias", "mean", "var"}, "y",
              {{"training_mode", int64_t{1}}})
          .Output("y")
          .Build();
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(batch_norm, SessionOptions{});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(session.status().message(),
              HasSubstr("node 'bn' (BatchNormalization) runs in training mode"));

  // The importer stores ONNX bools as int64.
  const Graph dropout = testing::GraphBuilder({-1, 4, 5, 5})
                            .Floats("ratio", {}, {0.5f})
                            .Ints("train", {1})
                            .Op("Dropout", "drop", {"x", "ratio", "train"}, "y")
                            .Output("y")
                            .Build();
  session = CreateSessionFromGraph(dropout, SessionOptions{});
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(session.status().message(), HasSubstr("node 'drop' (Dropout) runs in training mode"));
}

TEST(RuntimeSessionTest, Int8NeedsCalibrationAndObservesLikeFp32WithoutRanges) {
  SessionOptions options;
  options.precision = Precision::kInt8;
  EXPECT_EQ(CreateSessionFromGraph(TinyResNet(21), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  CalibrationTable table;
  options.calibration = &table;  // no ranges: everything stays fp32
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(TinyResNet(21), options);
  ASSERT_TRUE(session.ok()) << session.status();
  absl::StatusOr<std::unique_ptr<InferenceSession>> fp32 =
      CreateSessionFromGraph(TinyResNet(21), SessionOptions{});
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  std::mt19937 rng(8);
  const Tensor input = RandomTensor({1, 3, 16, 16}, rng);
  std::map<std::string, std::vector<float>> int8_values, fp32_values;
  ASSERT_TRUE((*session)
                  ->RunObserved(input, [&](const std::string& name,
                                           const Tensor& value) { int8_values[name] = value.data; })
                  .ok());
  ASSERT_TRUE((*fp32)
                  ->RunObserved(input, [&](const std::string& name,
                                           const Tensor& value) { fp32_values[name] = value.data; })
                  .ok());
  ASSERT_EQ(int8_values.size(), fp32_values.size());
  for (const auto& [name, values] : fp32_values) {
    ASSERT_EQ(int8_values[name].size(), values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_NEAR(int8_values[name][i], values[i], 1e-4f * (1 + std::fabs(values[i]))) << name;
    }
  }
}

}  // namespace
}  // namespace quantd::engine
