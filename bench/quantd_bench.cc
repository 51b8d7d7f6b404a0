// quantd inference (fp32 or int8) of any one-input model, timed the way
// bench/ort_bench.js times ONNX Runtime.
//
// One process measures one (model, batch, precision) case, so its peak RSS
// belongs to that case and to quantd alone; scripts/bench.sh and
// scripts/zoo.sh run this program (fp32, then int8) and ort_bench.js
// alternately on the same model and the same input file, and bench/report.js
// and bench/zoo_report.js put the results side by side.
//
// The scenario:
//   1. Ask the engine whether it runs the model (engine::InspectModel, then
//      InferenceSession::Create, which also compiles a first Plan). If not,
//      print its reason and exit with code 3 (see "Exit codes").
//   2. Fix the OpenMP thread count, then create the session and run it from
//      this same thread (oneDNN 2.6 takes the thread count of the thread that
//      creates a primitive). For int8: calibrate min/max ranges through an fp32
//      session on `calibration_samples` random images (another seed than the
//      timed input), then create the int8 session from them. Random weights
//      and inputs make accuracy meaningless here; the ranges only have to be
//      realistic enough for the kernels to do representative work.
//   3. Make a seeded random input of the model's input shape with --batch as
//      dimension 0 and write it to a file, so ONNX Runtime sees exactly the
//      same bytes. Other dynamic dimensions (a fully convolutional model's
//      height and width) come from --input_shape; without it they are an error.
//   4. Warm up (the first Run compiles the Plan for the shape), finish any
//      runs the session still spends tuning its batch split (a batch of 8 or
//      more: 12 runs at batch 32 on 2 threads, see
//      InferenceSession::TuningRunsLeft; none left if --warmup covered them),
//      then time `runs` calls of Run().
//   5. Write the first output of the last run and one JSON line of results.
//
// With --qdq_out (int8 only) it also writes quantd's QDQ export of the model
// made from the same calibration table, which the scripts run in ONNX
// Runtime: both int8 runtimes then quantize with exactly the same scales
// (signed activations written as uint8 + 128 unless --qdq_signed_as_uint8=false,
// so ORT can fuse every Conv; the values are the same). An export the engine
// cannot write does not stop the int8 measurement: the file is not written and
// the result line says why ("qdq_error").
// Calibration observes the unfused graph, as quantization jobs do, so the
// table also holds the ranges the export needs (see docs/decisions/0007).
//
// Files are raw little-endian float32, row-major; the result line gives their
// shapes ("input_shape", "output_shape"). Only the first output is written.
//
// Exit codes: 0 measured; 1 failed (bad flags, I/O, an engine error while
// running); 3 quantd refuses the model: InspectModel or Create answered
// UNIMPLEMENTED or INVALID_ARGUMENT, or a run UNIMPLEMENTED. The reason goes to
// stderr and, as {"refused": ...}, to --result_out.
//
//   quantd_bench --model=bench/out/models/resnet18.onnx --batch=1
//       --warmup=10 --runs=50 --input_out=in.f32 --logits_out=quantd.f32
//       --result_out=quantd.json
//   quantd_bench --model=... --batch=32 --precision=int8 --calibration_samples=32
//       --qdq_out=model.qdq.onnx
//   quantd_bench --model=fcn.onnx --input_shape=3,512,512   # dynamic H and W
//   quantd_bench --model=... --inspect_only                 # accepted? (exit 0 or 3)

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/data/dataset.h"
#include "common/large_allocations.h"
#include "engine/export/qdq_export.h"
#include "engine/quant/minmax_calibrator.h"
#include "engine/runtime/inference_session.h"
#include "engine/runtime/model_inspection.h"
#include "engine/status_macros.h"
#include "engine/tensor.h"

ABSL_FLAG(std::string, model, "", "ONNX model with one float32 input, dimension 0 the batch");
ABSL_FLAG(int32_t, batch, 1, "Images per Run()");
ABSL_FLAG(std::vector<std::string>, input_shape, {},
          "Input dimensions after the batch, e.g. 3,224,224; needed where the model's are "
          "dynamic, must match where they are fixed");
ABSL_FLAG(int32_t, threads, 2, "OpenMP threads for oneDNN");
ABSL_FLAG(int32_t, warmup, 3, "Untimed runs before timing (the first compiles the Plan)");
ABSL_FLAG(int32_t, runs, 10, "Timed runs");
ABSL_FLAG(uint32_t, seed, 20261123, "Seed of the random input");
ABSL_FLAG(std::string, input_out, "", "Where to write the input (float32); empty: do not");
ABSL_FLAG(std::string, logits_out, "", "Where to write the last run's first output (float32)");
ABSL_FLAG(std::string, result_out, "", "Where to write the JSON result line; empty: stdout only");
ABSL_FLAG(std::string, precision, "fp32", "fp32 or int8");
ABSL_FLAG(int32_t, calibration_samples, 32, "int8: random images to calibrate ranges on");
ABSL_FLAG(std::string, qdq_out, "",
          "int8: where to write the QDQ ONNX export made from the same calibration");
ABSL_FLAG(bool, qdq_signed_as_uint8, true,
          "--qdq_out: signed activations as uint8 with zero point 128 (same values; lets ONNX "
          "Runtime fuse every Conv, see QdqExportOptions)");
ABSL_FLAG(bool, qdq_round_before_residual_add, true,
          "--qdq_out: round Conv outputs before residual Adds, so that ONNX Runtime fuses them "
          "into QLinearConv + QLinearAdd (its fastest form; jobs publish the faithful export, "
          "see QdqExportOptions)");
ABSL_FLAG(bool, tune_batch_split, true,
          "SessionOptions::tune_batch_split of the timed session; false runs every batch whole "
          "(no tuning runs: a quicker, less representative measurement)");
ABSL_FLAG(bool, inspect_only, false,
          "Only ask the engine whether it runs the model (fp32): exit 0 and print its input and "
          "outputs, or exit 3 with the reason");

namespace {

using quantd::engine::CalibrationOptions;
using quantd::engine::CalibrationTable;
using quantd::engine::Dataset;
using quantd::engine::InferenceSession;
using quantd::engine::ModelSummary;
using quantd::engine::Precision;
using quantd::engine::SessionOptions;
using quantd::engine::Tensor;

constexpr int kExitRefused = 3;

// Marks an engine status as "quantd does not run this model", as opposed to a
// failure of this program or of the machine.
constexpr char kRefusedPayload[] = "quantd_bench/refused";

absl::Status AsRefusal(absl::Status status, bool invalid_argument_too) {
  if (status.code() == absl::StatusCode::kUnimplemented ||
      (invalid_argument_too && status.code() == absl::StatusCode::kInvalidArgument)) {
    status.SetPayload(kRefusedPayload, absl::Cord("1"));
  }
  return status;
}

bool IsRefusal(const absl::Status& status) {
  return status.GetPayload(kRefusedPayload).has_value();
}

// Loading a model: both codes mean the model, not this program, is the
// problem (a malformed or unsupported graph, an option the model cannot take).
absl::StatusOr<std::unique_ptr<InferenceSession>> CreateSession(std::string_view onnx_bytes,
                                                                const SessionOptions& options) {
  absl::StatusOr<std::unique_ptr<InferenceSession>> session =
      InferenceSession::Create(onnx_bytes, options);
  if (!session.ok()) return AsRefusal(session.status(), /*invalid_argument_too=*/true);
  return session;
}

// Running one: INVALID_ARGUMENT would be this program's input, so only
// UNIMPLEMENTED (a Plan the runtime cannot build for this shape) is the model's.
absl::StatusOr<std::vector<Tensor>> RunSession(InferenceSession& session, const Tensor& input) {
  absl::StatusOr<std::vector<Tensor>> outputs = session.Run(input);
  if (!outputs.ok()) return AsRefusal(outputs.status(), /*invalid_argument_too=*/false);
  return outputs;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status WriteFloats(const std::string& path, const std::vector<float>& values) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

std::string JsonString(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      quoted += absl::StrFormat("\\u%04x", static_cast<int>(c));
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string JsonShape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The input shape for `batch` images: dimension 0 is the batch (the model's
// own size if it fixes one, which must then equal `batch`), the others the
// model's, with dynamic ones (-1) taken from `sample_shape` (--input_shape).
absl::StatusOr<std::vector<int64_t>> ResolveInputShape(const ModelSummary& summary, int batch,
                                                       const std::vector<int64_t>& sample_shape) {
  if (summary.inputs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model has ", summary.inputs.size(), " inputs; this program feeds one"));
  }
  const std::vector<int64_t>& model_shape = summary.inputs[0].shape;
  const std::string described =
      absl::StrCat("input '", summary.inputs[0].name, "' ", JsonShape(model_shape));
  if (model_shape.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(described, " has no batch dimension"));
  }
  if (model_shape[0] > 0 && model_shape[0] != batch) {
    return absl::InvalidArgumentError(
        absl::StrCat(described, " fixes the batch at ", model_shape[0], ", not --batch=", batch));
  }
  if (!sample_shape.empty() && sample_shape.size() != model_shape.size() - 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(described, ": --input_shape gives ", sample_shape.size(),
                     " dimensions, the model has ", model_shape.size() - 1, " after the batch"));
  }
  std::vector<int64_t> shape = {batch};
  for (size_t i = 1; i < model_shape.size(); ++i) {
    const int64_t given = sample_shape.empty() ? -1 : sample_shape[i - 1];
    if (model_shape[i] > 0 && given > 0 && given != model_shape[i]) {
      return absl::InvalidArgumentError(
          absl::StrCat(described, ": --input_shape gives ", given, " for dimension ", i));
    }
    if (model_shape[i] <= 0 && given <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(described, ": dimension ", i,
                       " is dynamic; give every dimension after the batch with "
                       "--input_shape (e.g. --input_shape=3,224,224)"));
    }
    shape.push_back(model_shape[i] > 0 ? model_shape[i] : given);
  }
  return shape;
}

absl::StatusOr<std::vector<int64_t>> ParseSampleShape(const std::vector<std::string>& dims) {
  std::vector<int64_t> shape;
  for (const std::string& dim : dims) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(dim, &value) || value < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--input_shape: '", dim, "' is not a positive integer"));
    }
    shape.push_back(value);
  }
  return shape;
}

// Standard normal values: roughly what a mean/std-normalised image looks like.
// Filled in row-major order from one generator, so a [N,3,224,224] input is
// the same bytes it was when this program only knew that shape.
Tensor MakeRandomInput(std::string name, std::vector<int64_t> shape, uint32_t seed) {
  Tensor input{.name = std::move(name), .shape = std::move(shape), .data = {}};
  input.data.resize(input.NumElements());
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : input.data) x = normal(generator);
  return input;
}

// Min/max ranges of every activation of the unfused graph (a superset of
// the fused graph's, with the same numbers) over `samples` random images of
// `sample_shape` (the input shape without the batch).
absl::StatusOr<CalibrationTable> CalibrateOnRandomImages(std::string_view onnx_bytes,
                                                         const std::vector<int64_t>& input_shape,
                                                         int samples, uint32_t seed) {
  SessionOptions unfused;
  unfused.fuse_operators = false;
  ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> fp32, CreateSession(onnx_bytes, unfused));
  std::vector<int64_t> images_shape = input_shape;
  images_shape[0] = samples;
  Tensor images = MakeRandomInput("input", images_shape, seed);
  Dataset data;
  data.sample_shape.assign(input_shape.begin() + 1, input_shape.end());
  data.num_samples = samples;
  data.samples = std::move(images.data);
  CalibrationOptions options;
  options.max_samples = samples;
  // A model that fixes its batch size calibrates in batches of that size.
  const int64_t model_batch = fp32->summary().inputs[0].shape[0];
  options.batch_size = model_batch > 0 ? model_batch : 8;
  absl::StatusOr<CalibrationTable> table =
      quantd::engine::CalibrateMinMax(*fp32, data, options, nullptr);
  if (!table.ok()) return AsRefusal(table.status(), /*invalid_argument_too=*/false);
  return table;
}

// Nearest-rank percentile, the definition ort_bench.js uses too.
double Percentile(std::vector<double> sorted_ms, double p) {
  std::sort(sorted_ms.begin(), sorted_ms.end());
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted_ms.size()));
  return sorted_ms[std::clamp<size_t>(rank, 1, sorted_ms.size()) - 1];
}

// ru_maxrss is the process's high-water mark in KiB; node's
// process.resourceUsage().maxRSS reports the same kernel field.
double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

void WriteResult(const std::string& result) {
  std::printf("%s\n", result.c_str());
  if (const std::string path = absl::GetFlag(FLAGS_result_out); !path.empty()) {
    std::ofstream(path, std::ios::trunc) << result << "\n";
  }
}

std::string ModelName() {
  return std::filesystem::path(absl::GetFlag(FLAGS_model)).stem().string();
}

// --inspect_only: the fp32 session's Create compiles the batch-1 Plan where
// the input's height and width are fixed, so most refusals show here.
absl::Status Inspect(const std::string& model_path) {
  ASSIGN_OR_RETURN(const std::string onnx_bytes, ReadFile(model_path));
  absl::StatusOr<ModelSummary> summary = quantd::engine::InspectModel(onnx_bytes);
  if (!summary.ok()) return AsRefusal(summary.status(), /*invalid_argument_too=*/true);
  ASSIGN_OR_RETURN(const std::unique_ptr<InferenceSession> session,
                   CreateSession(onnx_bytes, SessionOptions{}));
  std::vector<std::string> values;
  for (const auto& value : summary->inputs) {
    values.push_back(absl::StrCat("input ", value.name, " ", JsonShape(value.shape)));
  }
  for (const auto& value : summary->outputs) {
    values.push_back(absl::StrCat("output ", value.name, " ", JsonShape(value.shape)));
  }
  std::printf("quantd accepts %s: %s\n", ModelName().c_str(), absl::StrJoin(values, ", ").c_str());
  return absl::OkStatus();
}

// Writes quantd's QDQ export of the model with `calibration` to `path`. An
// export the engine cannot write is no error of this program: `export_error`
// then says why and no file is left at `path`.
absl::Status WriteQdqExport(std::string_view onnx_bytes, const CalibrationTable& calibration,
                            const std::string& path, std::string& export_error) {
  // A stale file from an earlier run must not pass for this model's export.
  std::filesystem::remove(path);
  quantd::engine::QdqExportOptions export_options;
  export_options.signed_activations_as_uint8 = absl::GetFlag(FLAGS_qdq_signed_as_uint8);
  export_options.round_before_residual_add = absl::GetFlag(FLAGS_qdq_round_before_residual_add);
  absl::StatusOr<std::string> qdq =
      quantd::engine::ExportQdqModel(onnx_bytes, calibration, {}, export_options);
  if (!qdq.ok()) {
    export_error = qdq.status().ToString();
    std::fprintf(stderr, "quantd_bench: no QDQ export: %s\n", export_error.c_str());
    return absl::OkStatus();
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(qdq->data(), static_cast<std::streamsize>(qdq->size()));
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

// The session to time and what the result line says about making it.
struct LoadedModel {
  std::unique_ptr<InferenceSession> session;
  std::string input_name;
  std::vector<int64_t> input_shape;  // dimension 0 is the batch
  double calibration_ms = 0;
  std::string qdq_error;  // why --qdq_out was not written; empty if it was or was not asked for
};

// Steps 1 and 2 of the scenario, and the QDQ export. The ONNX bytes are only
// needed while importing: they are dropped on return.
absl::StatusOr<LoadedModel> LoadModel(const std::string& model_path, int batch,
                                      const std::vector<int64_t>& sample_shape, bool int8) {
  ASSIGN_OR_RETURN(const std::string onnx_bytes, ReadFile(model_path));
  // Refusals the importer gives without building anything.
  absl::StatusOr<ModelSummary> summary = quantd::engine::InspectModel(onnx_bytes);
  if (!summary.ok()) return AsRefusal(summary.status(), /*invalid_argument_too=*/true);
  LoadedModel model;
  ASSIGN_OR_RETURN(model.input_shape, ResolveInputShape(*summary, batch, sample_shape));
  model.input_name = summary->inputs[0].name;

  SessionOptions options;
  options.tune_batch_split = absl::GetFlag(FLAGS_tune_batch_split);
  CalibrationTable calibration;
  if (int8) {
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(calibration, CalibrateOnRandomImages(onnx_bytes, model.input_shape,
                                                          absl::GetFlag(FLAGS_calibration_samples),
                                                          absl::GetFlag(FLAGS_seed) + 1));
    model.calibration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    options.precision = Precision::kInt8;
    options.calibration = &calibration;
  }
  ASSIGN_OR_RETURN(model.session, CreateSession(onnx_bytes, options));
  if (const std::string path = absl::GetFlag(FLAGS_qdq_out); !path.empty()) {
    RETURN_IF_ERROR(WriteQdqExport(onnx_bytes, calibration, path, model.qdq_error));
  }
  return model;
}

// The int8 coverage of the Plan for one sample, as JSON members: the share of
// MACs in int8, int8 and total nodes, reorders per run, and each fp32 island
// with MACs ("op node: reason").
absl::StatusOr<std::string> CoverageJson(InferenceSession& session,
                                         std::vector<int64_t> input_shape) {
  input_shape[0] = 1;
  ASSIGN_OR_RETURN(const quantd::engine::Int8Coverage coverage, session.Coverage(input_shape));
  std::vector<std::string> islands;
  for (const quantd::engine::NodeExecution& node : coverage.nodes) {
    if (node.int8 || node.macs == 0) continue;
    islands.push_back(
        JsonString(absl::StrCat(node.op_type, " ", node.node, ": ", node.fp32_reason)));
  }
  const auto& reorders = coverage.boundaries;
  return absl::StrFormat(
      "\"int8_mac_share\": %.4f, \"int8_nodes\": %d, \"total_nodes\": %d, "
      "\"reorders\": {\"quantize\": %d, \"dequantize\": %d, \"requantize\": %d, "
      "\"relayout\": %d}, \"fp32_islands_with_macs\": [%s]",
      coverage.mac_share(), coverage.int8_nodes(), coverage.nodes.size(), reorders.quantize,
      reorders.dequantize, reorders.requantize, reorders.relayout, absl::StrJoin(islands, ", "));
}

absl::Status Run() {
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const int batch = absl::GetFlag(FLAGS_batch);
  const int warmup = absl::GetFlag(FLAGS_warmup);
  const int runs = absl::GetFlag(FLAGS_runs);
  if (model_path.empty()) return absl::InvalidArgumentError("--model is required");
  if (batch < 1 || runs < 1 || warmup < 0) {
    return absl::InvalidArgumentError("--batch and --runs must be >= 1, --warmup >= 0");
  }
  const std::string precision = absl::GetFlag(FLAGS_precision);
  if (precision != "fp32" && precision != "int8") {
    return absl::InvalidArgumentError(
        absl::StrCat("--precision must be fp32 or int8, got '", precision, "'"));
  }
  if (precision == "int8" && absl::GetFlag(FLAGS_calibration_samples) < 1) {
    return absl::InvalidArgumentError("--calibration_samples must be >= 1");
  }
  if (precision != "int8" && !absl::GetFlag(FLAGS_qdq_out).empty()) {
    return absl::InvalidArgumentError("--qdq_out needs --precision=int8");
  }
  ASSIGN_OR_RETURN(const std::vector<int64_t> sample_shape,
                   ParseSampleShape(absl::GetFlag(FLAGS_input_shape)));

  // Threads first: every primitive the session creates inherits this count.
  omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  if (absl::GetFlag(FLAGS_inspect_only)) return Inspect(model_path);
  ASSIGN_OR_RETURN(LoadedModel model,
                   LoadModel(model_path, batch, sample_shape, precision == "int8"));
  InferenceSession& session = *model.session;

  // 3. The shared input.
  const Tensor input =
      MakeRandomInput(model.input_name, model.input_shape, absl::GetFlag(FLAGS_seed));
  if (const std::string path = absl::GetFlag(FLAGS_input_out); !path.empty()) {
    RETURN_IF_ERROR(WriteFloats(path, input.data));
  }

  // 4. Warm-up, then the timed runs.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point first_start = Clock::now();
  std::vector<Tensor> outputs;
  for (int i = 0; i < warmup; ++i) {
    ASSIGN_OR_RETURN(outputs, RunSession(session, input));
  }
  // Runs that measure batch splits are not steady state: finish them untimed.
  const int tuning_runs = session.TuningRunsLeft(batch);
  for (int i = 0; i < tuning_runs; ++i) {
    ASSIGN_OR_RETURN(outputs, RunSession(session, input));
  }
  const double warmup_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - first_start).count();

  // On stdout, like ONEDNN_VERBOSE's lines, so a verbose log splits here into
  // first-run work (Plan compilation, weight reorders) and steady-state runs.
  std::printf(
      "quantd_bench: %d warm-up runs (+%d batch-split tuning runs) took %.1f ms; "
      "timing %d runs\n",
      warmup, tuning_runs, warmup_ms, runs);
  std::fflush(stdout);
  std::vector<double> latencies_ms;
  latencies_ms.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point start = Clock::now();
    ASSIGN_OR_RETURN(outputs, RunSession(session, input));
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }

  // 5. Results.
  if (outputs.empty()) return absl::InternalError("the model produced no output");
  if (const std::string path = absl::GetFlag(FLAGS_logits_out); !path.empty()) {
    RETURN_IF_ERROR(WriteFloats(path, outputs.front().data));
  }
  double total_ms = 0;
  for (double ms : latencies_ms) total_ms += ms;
  std::string result = absl::StrFormat(
      "{\"runtime\": \"quantd\", \"precision\": \"%s\", \"model\": %s, \"batch\": %d, "
      "\"input_shape\": %s, \"output_shape\": %s, \"outputs\": %d, "
      "\"threads\": %d, \"tune_batch_split\": %s, \"warmup\": %d, \"tuning_runs\": %d, "
      "\"runs\": %d, "
      "\"calibration_ms\": %.1f, \"warmup_ms\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
      "\"images_per_s\": %.2f, \"peak_rss_mb\": %.1f",
      precision, JsonString(ModelName()), batch, JsonShape(model.input_shape),
      JsonShape(outputs.front().shape), outputs.size(), absl::GetFlag(FLAGS_threads),
      absl::GetFlag(FLAGS_tune_batch_split) ? "true" : "false", warmup, tuning_runs, runs,
      model.calibration_ms, warmup_ms, Percentile(latencies_ms, 50), Percentile(latencies_ms, 99),
      batch * runs * 1000.0 / total_ms, PeakRssMb());
  if (!model.qdq_error.empty()) {
    absl::StrAppend(&result, ", \"qdq_error\": ", JsonString(model.qdq_error));
  }
  if (precision == "int8") {
    ASSIGN_OR_RETURN(const std::string coverage, CoverageJson(session, model.input_shape));
    absl::StrAppend(&result, ", ", coverage);
  }
  WriteResult(result + "}");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  // As quantd does: batch outputs of segmentation models exceed malloc's
  // default reuse limit.
  quantd::KeepLargeAllocationsForReuse();
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = Run();
  if (status.ok()) return 0;
  if (IsRefusal(status)) {
    // The reason on one line: scripts list it per model.
    std::string reason(status.message());
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    reason = absl::StrCat(absl::StatusCodeToString(status.code()), ": ", reason);
    std::fprintf(stderr, "quantd_bench: quantd refuses %s: %s\n", ModelName().c_str(),
                 reason.c_str());
    if (!absl::GetFlag(FLAGS_result_out).empty()) {
      WriteResult(absl::StrFormat(
          "{\"runtime\": \"quantd\", \"precision\": \"%s\", \"model\": %s, \"batch\": %d, "
          "\"refused\": %s}",
          absl::GetFlag(FLAGS_precision), JsonString(ModelName()), absl::GetFlag(FLAGS_batch),
          JsonString(reason)));
    }
    return kExitRefused;
  }
  std::fprintf(stderr, "quantd_bench: %s\n", status.ToString().c_str());
  return 1;
}
