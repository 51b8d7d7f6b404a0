// Runs Debian's ONNX conformance data (libonnx-testdata) through the whole
// engine: import, standard passes, fp32 session, and compares every output
// with the expected one. The harness rules, skip groups, tolerances and known
// exceptions are documented in docs/CONFORMANCE.md; keep the two in step.
//
// tests/engine/conformance_pass.txt lists the cases that pass: the test fails
// when one of them no longer does (a FAIL or a SKIP), so conformance cannot
// shrink unnoticed. Passing cases missing from the list are printed as lines
// to add.
//
// Set QUANTD_CONFORMANCE_REPORT=<file> to also write the per-case outcomes,
// and QUANTD_CONFORMANCE_WRITE_PASS_LIST=<file> to write the passing cases in
// the format of conformance_pass.txt.

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/session_factory.h"
#include "gtest/gtest.h"
#include "onnx/onnx_pb.h"

namespace quantd::engine {
namespace {

namespace fs = std::filesystem;

fs::path PassListPath() {
  return fs::path(QUANTD_SOURCE_DIR) / "tests" / "engine" / "conformance_pass.txt";
}

constexpr char kPassListHeader[] =
    "# ONNX conformance cases that pass: the floor OnnxConformanceTest.DebianTestData\n"
    "# (tests/engine/onnx_conformance_test.cc) enforces. A listed case that fails or is\n"
    "# skipped fails the test; passing cases missing here are printed as lines to add.\n"
    "# Regenerate from the repository root (docs/CONFORMANCE.md):\n"
    "#   QUANTD_CONFORMANCE_WRITE_PASS_LIST=tests/engine/conformance_pass.txt \\\n"
    "#     build/tests/engine_tests --gtest_filter='OnnxConformance*'\n";

// Per element: |got - want| <= atol + rtol * |want| (NaN equals NaN).
struct Tolerance {
  double rtol;
  double atol;
};

// float32 carries ~6e-8 relative precision, so rtol 1e-5 leaves room for
// summation order (oneDNN's blocked reductions, Winograd's transforms) and
// oneDNN's vector exp/log approximations, not for a wrong formula. atol covers
// outputs that cancel to near zero, whose error is of the order of the inputs'
// ulp. docs/CONFORMANCE.md records how close the passing cases come.
constexpr Tolerance kDefaultTolerance{1e-5, 1e-6};

struct LooserTolerance {
  Tolerance tolerance;
  std::string reason;
};

// Cases compared more loosely than kDefaultTolerance, each with the reason
// the reference allows it; mirrored in docs/CONFORMANCE.md. A case that
// disagrees beyond a tolerance we can justify is a bug, not an entry here. A
// listed case that passes at the default tolerance is printed as a NOTE so
// the entry can go.
const std::map<std::string, LooserTolerance>& LooserTolerances() {
  // Empty today: every passing case agrees within kDefaultTolerance.
  static const auto* const kTolerances = new std::map<std::string, LooserTolerance>{};
  return *kTolerances;
}

// Cases that fail today for a diagnosed reason outside the importer and the
// passes; each is also listed, with its diagnosis, in docs/CONFORMANCE.md.
// A listed case that no longer fails is printed as a NOTE so the list can be
// pruned (not an error: the runtime changes underneath this test).
const std::map<std::string, std::string>& KnownExceptions() {
  // Empty today: every failing case so far was a bug and got fixed. A case
  // added here needs its diagnosis in docs/CONFORMANCE.md.
  static const auto* const kExceptions = new std::map<std::string, std::string>{};
  return *kExceptions;
}

struct Outcome {
  enum class Kind { kPassed, kFailed, kSkipped };
  Kind kind = Kind::kPassed;
  std::string reason;  // skip group or failure detail
  // Largest |got - want| / (atol + rtol * |want|) over the compared values, at
  // kDefaultTolerance: <= 1 passes there.
  double default_error_ratio = 0;
  // Inputs fed at run time (the fewest over the case's data sets); the
  // others were frozen into initializers.
  int fed_inputs = 0;
  // Why the run with every float input fed was skipped, when the case was
  // then run with only its first float input fed.
  std::string refused_fed = "";
};

Outcome Passed() { return Outcome{Outcome::Kind::kPassed, ""}; }
Outcome Failed(std::string why) { return Outcome{Outcome::Kind::kFailed, std::move(why)}; }
Outcome Skipped(std::string why) { return Outcome{Outcome::Kind::kSkipped, std::move(why)}; }

const char* KindName(Outcome::Kind kind) {
  switch (kind) {
    case Outcome::Kind::kPassed:
      return "PASS";
    case Outcome::Kind::kFailed:
      return "FAIL";
    case Outcome::Kind::kSkipped:
      return "SKIP";
  }
  return "?";
}

double ErrorRatio(float got, float want, const Tolerance& tolerance) {
  if ((std::isnan(got) && std::isnan(want)) || got == want) return 0;
  const double error = std::fabs(static_cast<double>(got) - static_cast<double>(want));
  if (!std::isfinite(error)) return INFINITY;  // also when only one of them is infinite
  return error / (tolerance.atol + tolerance.rtol * std::fabs(static_cast<double>(want)));
}

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// Error messages name nodes and values ('conv1'); dropping quoted names and
// numbers lets cases refused for the same reason share one skip group.
std::string GroupKey(const std::string& message) {
  std::string key;
  bool quoted = false;
  for (char c : message) {
    if (c == '\'') {
      quoted = !quoted;
      if (quoted) key += "_";
      continue;
    }
    if (quoted) continue;
    if (std::isdigit(static_cast<unsigned char>(c))) {
      if (key.empty() || key.back() != '#') key += '#';
      continue;
    }
    key += c;
  }
  return key;
}

bool ReadTensor(const fs::path& path, onnx::TensorProto& tensor) {
  const std::string bytes = ReadFile(path);
  return tensor.ParseFromString(bytes);
}

std::vector<float> FloatsOf(const onnx::TensorProto& tensor) {
  std::vector<float> values;
  if (tensor.has_raw_data()) {
    values.resize(tensor.raw_data().size() / sizeof(float));
    std::memcpy(values.data(), tensor.raw_data().data(), values.size() * sizeof(float));
  } else {
    values.assign(tensor.float_data().begin(), tensor.float_data().end());
  }
  return values;
}

// An integer or bool tensor's values as floats, when every one is exactly a
// float (|v| <= 2^24): quantd serves every output as float32, so an ArgMax
// index or a comparison's bool arrives as that number. nullopt otherwise, and
// for types other than integers and bool.
std::optional<std::vector<float>> IntegersAsFloats(const onnx::TensorProto& tensor) {
  std::vector<double> values;
  auto raw = [&](auto type_tag) {
    using T = decltype(type_tag);
    const std::string& bytes = tensor.raw_data();
    for (size_t at = 0; at + sizeof(T) <= bytes.size(); at += sizeof(T)) {
      T v;
      std::memcpy(&v, bytes.data() + at, sizeof(T));
      values.push_back(double(v));
    }
  };
  switch (tensor.data_type()) {
    case onnx::TensorProto::INT64:
      if (tensor.has_raw_data()) {
        raw(int64_t{});
      } else {
        values.assign(tensor.int64_data().begin(), tensor.int64_data().end());
      }
      break;
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      if (!tensor.has_raw_data()) {
        values.assign(tensor.int32_data().begin(), tensor.int32_data().end());
      } else if (tensor.data_type() == onnx::TensorProto::INT32) {
        raw(int32_t{});
      } else if (tensor.data_type() == onnx::TensorProto::INT16) {
        raw(int16_t{});
      } else if (tensor.data_type() == onnx::TensorProto::UINT16) {
        raw(uint16_t{});
      } else if (tensor.data_type() == onnx::TensorProto::INT8) {
        raw(int8_t{});
      } else {
        raw(uint8_t{});
      }
      break;
    default:
      return std::nullopt;
  }
  std::vector<float> floats;
  for (double v : values) {
    if (std::fabs(v) > double(1 << 24)) return std::nullopt;
    floats.push_back(float(v));
  }
  return floats;
}

std::vector<fs::path> SortedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) files.push_back(entry.path());
  }
  // input_10 sorts after input_9: compare by the number after the prefix.
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    return std::atoi(a.filename().string().c_str() + prefix.size()) <
           std::atoi(b.filename().string().c_str() + prefix.size());
  });
  return files;
}

std::string Shape(const std::vector<int64_t>& dims) {
  return absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

// A data set's runtime inputs (graph inputs that are no initializers), in
// graph order, with their values and the expected outputs.
struct DataSet {
  std::vector<std::string> names;
  std::vector<onnx::TensorProto> inputs;
  std::vector<onnx::TensorProto> expected;
};

// Compares `outputs` with the data set's, within `tolerance`; a pass records
// its largest error at the default tolerance.
Outcome CompareOutputs(const std::vector<Tensor>& outputs, const DataSet& data,
                       const Tolerance& tolerance, const std::vector<std::string>& ops) {
  if (outputs.size() != data.expected.size()) {
    return Failed(absl::StrCat(outputs.size(), " outputs, expected ", data.expected.size()));
  }
  double default_error_ratio = 0;
  for (size_t i = 0; i < data.expected.size(); ++i) {
    const Tensor& got = outputs[i];
    const std::vector<int64_t> want_shape(data.expected[i].dims().begin(),
                                          data.expected[i].dims().end());
    const bool integers = data.expected[i].data_type() != onnx::TensorProto::FLOAT;
    const std::vector<float> want =
        integers ? *IntegersAsFloats(data.expected[i]) : FloatsOf(data.expected[i]);
    if (got.shape != want_shape || got.data.size() != want.size()) {
      return Failed(absl::StrCat("output ", i, " has shape ", Shape(got.shape), ", expected ",
                                 Shape(want_shape)));
    }
    int mismatches = 0;
    size_t worst = 0;
    double worst_ratio = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      const float a = got.data[k], e = want[k];
      default_error_ratio = std::max(default_error_ratio, ErrorRatio(a, e, kDefaultTolerance));
      // Integers (indices, counts, bools) must come out exact.
      const double ratio = integers ? (a == e ? 0.0 : 2.0) : ErrorRatio(a, e, tolerance);
      if (ratio > 1) ++mismatches;
      if (ratio > worst_ratio) worst = k, worst_ratio = ratio;
    }
    if (mismatches > 0) {
      return Failed(absl::StrFormat(
          "output %d %s: %d of %d values off by more than %g + %g * |expected| (worst: element "
          "%d is %.9g, expected %.9g, %.3g times the tolerance); ops %s",
          i, Shape(want_shape), mismatches, want.size(), tolerance.atol, tolerance.rtol, worst,
          got.data[worst], want[worst], worst_ratio, absl::StrJoin(ops, ",")));
    }
  }
  Outcome passed = Passed();
  passed.default_error_ratio = default_error_ratio;
  return passed;
}

// Runs the data set with the runtime inputs at `fed` (indices into
// data.names) fed at run time, by name; the others become initializers
// holding the data set's values.
Outcome RunFed(const onnx::ModelProto& original, const DataSet& data,
               const std::vector<size_t>& fed, const Tolerance& tolerance) {
  onnx::ModelProto model = original;
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < data.names.size(); ++i) {
    if (std::find(fed.begin(), fed.end(), i) != fed.end()) {
      inputs.push_back(Tensor{.name = data.names[i],
                              .shape = {data.inputs[i].dims().begin(), data.inputs[i].dims().end()},
                              .data = FloatsOf(data.inputs[i])});
      continue;
    }
    onnx::TensorProto* init = model.mutable_graph()->add_initializer();
    *init = data.inputs[i];
    init->set_name(data.names[i]);
  }
  std::string bytes;
  model.SerializeToString(&bytes);

  absl::StatusOr<Graph> graph = ImportOnnxModel(bytes);
  if (!graph.ok()) {
    if (graph.status().code() == absl::StatusCode::kUnimplemented) {
      return Skipped(
          absl::StrCat("import refused: ", GroupKey(std::string(graph.status().message()))));
    }
    return Failed(absl::StrCat("import: ", graph.status().ToString()));
  }
  if (const absl::Status status = RunStandardPasses(*graph); !status.ok()) {
    return Failed(absl::StrCat("passes: ", status.ToString()));
  }
  std::set<std::string> unsupported;
  std::vector<std::string> ops;
  for (const Node& node : graph->nodes) {
    if (FindOp(node.op_type) == nullptr) unsupported.insert(node.op_type);
    ops.push_back(node.op_type);
  }
  if (!unsupported.empty()) {
    return Skipped(absl::StrCat("unsupported op: ", absl::StrJoin(unsupported, " + ")));
  }
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      CreateSessionFromGraph(*std::move(graph), SessionOptions{});
  absl::StatusOr<std::vector<Tensor>> outputs =
      session.ok() ? (*session)->Run(inputs) : session.status();
  if (!outputs.ok()) {
    if (outputs.status().code() == absl::StatusCode::kUnimplemented) {
      return Skipped(
          absl::StrCat("runtime refused: ", GroupKey(std::string(outputs.status().message()))));
    }
    std::vector<std::string> shapes;
    for (const Tensor& input : inputs) shapes.push_back(Shape(input.shape));
    return Failed(absl::StrCat("runtime (", absl::StrJoin(ops, ","), ") ",
                               absl::StrJoin(shapes, " "), ": ", outputs.status().ToString()));
  }
  Outcome outcome = CompareOutputs(*outputs, data, tolerance, ops);
  outcome.fed_inputs = static_cast<int>(fed.size());
  return outcome;
}

const onnx::ValueInfoProto& InputInfo(const onnx::GraphProto& graph, const std::string& name) {
  return *std::find_if(graph.input().begin(), graph.input().end(),
                       [&](const onnx::ValueInfoProto& input) { return input.name() == name; });
}

// Whether data of `dims` fits the input's declared shape (its rank and every
// fixed dimension; a shape-less declaration fits anything).
bool MatchesDeclaredShape(const std::vector<int64_t>& dims, const onnx::ValueInfoProto& input) {
  const onnx::TypeProto::Tensor& tensor = input.type().tensor_type();
  if (!tensor.has_shape()) return true;
  if (tensor.shape().dim_size() != static_cast<int>(dims.size())) return false;
  for (size_t i = 0; i < dims.size(); ++i) {
    const onnx::TensorShapeProto::Dimension& dim = tensor.shape().dim(static_cast<int>(i));
    if (dim.has_dim_value() && dim.dim_value() != dims[i]) return false;
  }
  return true;
}

// One test_data_set_*: runs it with every float input fed at run time; when
// the runtime (or the importer) refuses that, with only the first float
// input fed and the others frozen (quantd's models carry their weights as
// initializers: a Conv's W must be one). Non-float inputs are always frozen,
// and so are float inputs of zero size or whose data contradicts the shape
// the model declares for them (InferenceSession::Run refuses both).
Outcome RunDataSet(const onnx::ModelProto& model, const fs::path& data_dir,
                   const Tolerance& tolerance) {
  const onnx::GraphProto& g = model.graph();
  std::set<std::string> initializers;
  for (const onnx::TensorProto& init : g.initializer()) initializers.insert(init.name());
  DataSet data;
  for (const onnx::ValueInfoProto& input : g.input()) {
    if (initializers.count(input.name()) == 0) data.names.push_back(input.name());
  }
  if (data.names.empty()) return Skipped("harness: model has no runtime input");
  for (const onnx::ValueInfoProto& input : g.input()) {
    if (!input.type().has_tensor_type()) {
      return Skipped("harness: an input is a sequence/optional, not a tensor");
    }
  }
  for (const onnx::ValueInfoProto& output : g.output()) {
    if (!output.type().has_tensor_type()) {
      return Skipped("harness: an output is a sequence/optional, not a tensor");
    }
  }
  const std::vector<fs::path> input_files = SortedFiles(data_dir, "input_");
  const std::vector<fs::path> output_files = SortedFiles(data_dir, "output_");
  if (input_files.size() != data.names.size()) {
    return Skipped("harness: test data omits optional inputs");
  }
  data.inputs.resize(input_files.size());
  for (size_t i = 0; i < input_files.size(); ++i) {
    if (!ReadTensor(input_files[i], data.inputs[i])) return Failed("unreadable test input");
  }
  data.expected.resize(output_files.size());
  for (size_t i = 0; i < output_files.size(); ++i) {
    if (!ReadTensor(output_files[i], data.expected[i])) return Failed("unreadable test output");
    if (data.expected[i].data_type() != onnx::TensorProto::FLOAT &&
        !IntegersAsFloats(data.expected[i])) {
      return Skipped("harness: an output is neither float nor integers exact in float");
    }
  }
  std::vector<size_t> feedable;
  std::string not_fed;  // why the last float input that stays frozen does
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    if (data.inputs[i].data_type() != onnx::TensorProto::FLOAT) continue;
    const std::vector<int64_t> dims(data.inputs[i].dims().begin(), data.inputs[i].dims().end());
    if (std::find(dims.begin(), dims.end(), 0) != dims.end()) {
      not_fed = "shape: zero-size input (the engine needs every dimension >= 1)";
    } else if (!MatchesDeclaredShape(dims, InputInfo(g, data.names[i]))) {
      not_fed = "harness: the test data contradicts the model's declared input shape";
    } else {
      feedable.push_back(i);
    }
  }
  if (feedable.empty()) return Skipped(not_fed.empty() ? "harness: no input is float" : not_fed);
  Outcome outcome = RunFed(model, data, feedable, tolerance);
  if (outcome.kind == Outcome::Kind::kSkipped && feedable.size() > 1) {
    const std::string refused = outcome.reason;
    outcome = RunFed(model, data, {feedable[0]}, tolerance);
    outcome.refused_fed = refused;
  }
  return outcome;
}

Outcome RunCase(const fs::path& case_dir, const Tolerance& tolerance) {
  onnx::ModelProto model;
  if (!model.ParseFromString(ReadFile(case_dir / "model.onnx"))) {
    return Failed("model.onnx does not parse");
  }
  const std::vector<fs::path> data_sets = SortedFiles(case_dir, "test_data_set_");
  if (data_sets.empty()) return Skipped("harness: no test data");
  Outcome passed = Passed();
  for (size_t i = 0; i < data_sets.size(); ++i) {
    Outcome outcome = RunDataSet(model, data_sets[i], tolerance);
    if (outcome.kind != Outcome::Kind::kPassed) {
      if (outcome.kind == Outcome::Kind::kFailed) {
        outcome.reason = absl::StrCat(data_sets[i].filename().string(), ": ", outcome.reason);
      }
      return outcome;
    }
    passed.default_error_ratio = std::max(passed.default_error_ratio, outcome.default_error_ratio);
    passed.fed_inputs =
        i == 0 ? outcome.fed_inputs : std::min(passed.fed_inputs, outcome.fed_inputs);
    if (passed.refused_fed.empty()) passed.refused_fed = outcome.refused_fed;
  }
  return passed;
}

// The cases listed in the pass list file; '#' starts a comment line. nullopt
// when the file cannot be read.
std::optional<std::vector<std::string>> ReadPassList(const fs::path& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::vector<std::string> cases;
  std::string line;
  while (std::getline(file, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    cases.push_back(line);
  }
  return cases;
}

void WritePassList(const fs::path& path, std::vector<std::string> passing) {
  std::sort(passing.begin(), passing.end());
  std::ofstream file(path);
  file << kPassListHeader;
  for (const std::string& name : passing) file << name << "\n";
  std::cout << "wrote " << passing.size() << " passing cases to " << path << "\n";
}

struct CaseResult {
  std::string suite;
  std::string name;  // suite/case
  Outcome outcome;
};

std::vector<CaseResult> RunAllCases(const fs::path& root) {
  std::vector<CaseResult> results;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    std::vector<fs::path> cases;
    for (const auto& entry : fs::directory_iterator(root / suite)) cases.push_back(entry.path());
    std::sort(cases.begin(), cases.end());
    for (const fs::path& case_dir : cases) {
      std::string name = absl::StrCat(suite, "/", case_dir.filename().string());
      const auto looser = LooserTolerances().find(name);
      const Tolerance& tolerance =
          looser == LooserTolerances().end() ? kDefaultTolerance : looser->second.tolerance;
      results.push_back(CaseResult{suite, std::move(name), RunCase(case_dir, tolerance)});
    }
  }
  return results;
}

// Per suite: cases, passed, failed (known exceptions included), skipped.
void PrintSuiteCounts(const std::vector<CaseResult>& results) {
  std::map<std::string, std::array<int, 4>> counts;
  for (const CaseResult& result : results) {
    std::array<int, 4>& c = counts[result.suite];
    ++c[0];
    ++c[1 + static_cast<int>(result.outcome.kind)];
  }
  for (const auto& [suite, c] : counts) {
    std::cout << "  " << suite << ": " << c[0] << " cases, " << c[1] << " passed, " << c[2]
              << " failed, " << c[3] << " skipped\n";
  }
}

void PrintSkipGroups(const std::vector<CaseResult>& results) {
  std::map<std::string, std::vector<std::string>> skipped;  // reason -> cases
  for (const CaseResult& result : results) {
    if (result.outcome.kind == Outcome::Kind::kSkipped) {
      skipped[result.outcome.reason].push_back(result.name);
    }
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> groups(skipped.begin(),
                                                                       skipped.end());
  std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    return a.second.size() != b.second.size() ? a.second.size() > b.second.size()
                                              : a.first < b.first;
  });
  int total_skipped = 0;
  for (const auto& [reason, cases] : groups) total_skipped += static_cast<int>(cases.size());
  std::cout << "skipped " << total_skipped << ":\n";
  for (const auto& [reason, cases] : groups) {
    std::cout << "  " << cases.size() << "  " << reason << "  (e.g. " << cases.front() << ")\n";
  }
}

// Passing cases that ran only with their first float input fed: why the
// runtime refused them with every float input fed.
void PrintRefusedFedGroups(const std::vector<CaseResult>& results) {
  std::map<std::string, std::vector<std::string>> refused;  // reason -> cases
  for (const CaseResult& result : results) {
    if (result.outcome.kind == Outcome::Kind::kPassed && !result.outcome.refused_fed.empty()) {
      refused[result.outcome.refused_fed].push_back(result.name);
    }
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> groups(refused.begin(),
                                                                       refused.end());
  std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    return a.second.size() != b.second.size() ? a.second.size() > b.second.size()
                                              : a.first < b.first;
  });
  size_t total = 0;
  for (const auto& [reason, cases] : groups) total += cases.size();
  std::cout << "passed with the inputs after the first frozen, refused with every float input "
               "fed: "
            << total << "\n";
  for (const auto& [reason, cases] : groups) {
    std::cout << "  " << cases.size() << "  " << reason << "  (e.g. " << cases.front() << ")\n";
  }
}

// The passing cases that use the most of the default tolerance: where the
// headroom is thinnest when tightening it or changing a kernel.
void PrintClosestToTolerance(const std::vector<CaseResult>& results) {
  std::vector<const CaseResult*> passed;
  for (const CaseResult& result : results) {
    if (result.outcome.kind == Outcome::Kind::kPassed) passed.push_back(&result);
  }
  std::sort(passed.begin(), passed.end(), [](const CaseResult* a, const CaseResult* b) {
    return a->outcome.default_error_ratio > b->outcome.default_error_ratio;
  });
  std::cout << "closest to the default tolerance (error / tolerance):";
  for (size_t i = 0; i < std::min<size_t>(passed.size(), 8); ++i) {
    std::cout << (i == 0 ? " " : ", ") << passed[i]->name << " "
              << passed[i]->outcome.default_error_ratio;
  }
  std::cout << "\n";
}

// The pass list is a floor: every listed case must still pass. Passing cases
// it lacks are printed, ready to paste, for whoever made them pass.
void ExpectListedCasesPass(const std::vector<CaseResult>& results,
                           const std::vector<std::string>& listed) {
  std::map<std::string, const Outcome*> outcomes;
  for (const CaseResult& result : results) outcomes[result.name] = &result.outcome;
  std::vector<std::string> lost;
  for (const std::string& name : listed) {
    const auto it = outcomes.find(name);
    if (it == outcomes.end()) {
      lost.push_back(absl::StrCat(name, ": not in the test data"));
    } else if (it->second->kind != Outcome::Kind::kPassed) {
      lost.push_back(
          absl::StrCat(name, ": ", KindName(it->second->kind), " (", it->second->reason, ")"));
    }
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " case(s) listed in " << PassListPath()
                            << " no longer pass:\n"
                            << absl::StrJoin(lost, "\n");
  const std::set<std::string> listed_set(listed.begin(), listed.end());
  std::vector<std::string> unlisted;
  for (const CaseResult& result : results) {
    if (result.outcome.kind == Outcome::Kind::kPassed && listed_set.count(result.name) == 0) {
      unlisted.push_back(result.name);
    }
  }
  if (!unlisted.empty()) {
    std::cout << "NOTE: " << unlisted.size() << " passing case(s) are not in " << PassListPath()
              << "; add these lines (or regenerate it, docs/CONFORMANCE.md):\n"
              << absl::StrJoin(unlisted, "\n") << "\n";
  }
}

TEST(OnnxConformanceTest, DebianTestData) {
  const fs::path root = "/usr/share/libonnx-testdata/data";
  if (!fs::is_directory(root / "node"))
    FAIL() << "libonnx-testdata is missing (scripts/install_deps.sh installs it)";

  const std::vector<CaseResult> results = RunAllCases(root);

  std::vector<std::string> passing, failures, exceptions_hit, stale_exceptions, stale_tolerances;
  int passing_fed_several = 0;
  std::ostringstream report;
  for (const CaseResult& result : results) {
    const std::string& name = result.name;
    const Outcome& outcome = result.outcome;
    const bool known_exception = KnownExceptions().count(name) > 0;
    if (known_exception && outcome.kind != Outcome::Kind::kFailed) {
      stale_exceptions.push_back(name);
    }
    switch (outcome.kind) {
      case Outcome::Kind::kPassed:
        passing.push_back(name);
        if (LooserTolerances().count(name) > 0 && outcome.default_error_ratio <= 1) {
          stale_tolerances.push_back(name);
        }
        if (outcome.fed_inputs > 1) ++passing_fed_several;
        report << "PASS " << name << " (error " << outcome.default_error_ratio
               << " of the default tolerance; " << outcome.fed_inputs << " input(s) fed"
               << (outcome.refused_fed.empty() ? "" : "; every float input fed: ")
               << outcome.refused_fed << ")\n";
        break;
      case Outcome::Kind::kFailed:
        if (known_exception) {
          exceptions_hit.push_back(name);
          report << "EXCEPTION " << name << ": " << outcome.reason << "\n";
        } else {
          failures.push_back(absl::StrCat(name, ": ", outcome.reason));
          report << "FAIL " << name << ": " << outcome.reason << "\n";
        }
        break;
      case Outcome::Kind::kSkipped:
        report << "SKIP " << name << ": " << outcome.reason << "\n";
        break;
    }
  }

  std::cout << "ONNX conformance: " << passing.size() << " passed, " << failures.size()
            << " failed, " << exceptions_hit.size() << " known exceptions; compared within "
            << kDefaultTolerance.atol << " + " << kDefaultTolerance.rtol << " * |expected| ("
            << LooserTolerances().size() << " cases with a looser tolerance); "
            << passing_fed_several << " passing cases run with several inputs fed\n";
  PrintSuiteCounts(results);
  PrintSkipGroups(results);
  PrintRefusedFedGroups(results);
  PrintClosestToTolerance(results);
  for (const std::string& failure : failures) std::cout << "FAILED " << failure << "\n";

  if (const char* path = std::getenv("QUANTD_CONFORMANCE_REPORT"); path != nullptr) {
    std::ofstream(path) << report.str();
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " conformance case(s) failed:\n"
                                << absl::StrJoin(failures, "\n");

  // Checked before the list is rewritten, so regenerating it cannot hide a
  // case lost in the same run.
  if (const std::optional<std::vector<std::string>> listed = ReadPassList(PassListPath())) {
    ExpectListedCasesPass(results, *listed);
  } else {
    ADD_FAILURE() << "cannot read " << PassListPath();
  }
  if (const char* path = std::getenv("QUANTD_CONFORMANCE_WRITE_PASS_LIST"); path != nullptr) {
    WritePassList(path, passing);
  }

  for (const std::string& name : stale_exceptions) {
    std::cout << "NOTE: known exception " << name
              << " no longer fails; remove it here and from docs/CONFORMANCE.md\n";
  }
  for (const std::string& name : stale_tolerances) {
    std::cout << "NOTE: " << name
              << " passes at the default tolerance; remove its entry from LooserTolerances() "
                 "and docs/CONFORMANCE.md\n";
  }
  EXPECT_GT(passing.size(), 0u);
}

}  // namespace
}  // namespace quantd::engine
