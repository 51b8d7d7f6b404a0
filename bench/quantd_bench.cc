// quantd inference (fp32 or int8), timed the way bench/ort_bench.js times
// ONNX Runtime.
//
// One process measures one (model, batch, precision) case, so its peak RSS
// belongs to that case and to quantd alone; scripts/bench.sh runs this program
// (fp32, then int8) and ort_bench.js alternately on the same model and the
// same input file and bench/report.js puts the results side by side.
//
// The scenario:
//   1. Fix the OpenMP thread count, then create the session and run it from
//      this same thread (oneDNN 2.6 takes the thread count of the thread that
//      creates a primitive). For int8: calibrate min/max ranges through an fp32
//      session on `calibration_samples` random images (another seed than the
//      timed input), then create the int8 session from them. Random weights
//      and inputs make accuracy meaningless here; the ranges only have to be
//      realistic enough for the kernels to do representative work.
//   2. Make a seeded random input [batch,3,224,224] and write it to a file, so
//      ONNX Runtime sees exactly the same bytes.
//   3. Warm up (the first Run compiles the Plan for the shape), then time
//      `runs` calls of Run().
//   4. Write the logits of the last run and one JSON line of results.
//
// With --qdq_out (int8 only) it also writes quantd's QDQ export of the model
// made from the same calibration table, which scripts/bench.sh runs in ONNX
// Runtime: both int8 runtimes then quantize with exactly the same scales
// (signed activations written as uint8 + 128 unless --qdq_signed_as_uint8=false,
// so ORT can fuse every Conv; the values are the same).
// Calibration observes the unfused graph, as quantization jobs do, so the
// table also holds the ranges the export needs (see docs/decisions/0007).
//
// Files are raw little-endian float32, row-major; their shapes are implied by
// the model and the batch.
//
//   quantd_bench --model=bench/out/models/resnet18.onnx --batch=1
//       --warmup=10 --runs=50 --input_out=in.f32 --logits_out=quantd.f32
//       --result_out=quantd.json
//   quantd_bench --model=... --batch=32 --precision=int8 --calibration_samples=32
//       --qdq_out=model.qdq.onnx

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
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/data/dataset.h"
#include "engine/export/qdq_export.h"
#include "engine/quant/minmax_calibrator.h"
#include "engine/runtime/inference_session.h"
#include "engine/status_macros.h"
#include "engine/tensor.h"

ABSL_FLAG(std::string, model, "", "ONNX model with input [N,3,224,224]");
ABSL_FLAG(int32_t, batch, 1, "Images per Run()");
ABSL_FLAG(int32_t, threads, 2, "OpenMP threads for oneDNN");
ABSL_FLAG(int32_t, warmup, 3, "Untimed runs before timing (the first compiles the Plan)");
ABSL_FLAG(int32_t, runs, 10, "Timed runs");
ABSL_FLAG(uint32_t, seed, 20261123, "Seed of the random input");
ABSL_FLAG(std::string, input_out, "", "Where to write the input (float32); empty: do not");
ABSL_FLAG(std::string, logits_out, "", "Where to write the last run's output (float32)");
ABSL_FLAG(std::string, result_out, "", "Where to write the JSON result line; empty: stdout only");
ABSL_FLAG(std::string, precision, "fp32", "fp32 or int8");
ABSL_FLAG(int32_t, calibration_samples, 32, "int8: random images to calibrate ranges on");
ABSL_FLAG(std::string, qdq_out, "",
          "int8: where to write the QDQ ONNX export made from the same calibration");
ABSL_FLAG(bool, qdq_signed_as_uint8, true,
          "--qdq_out: signed activations as uint8 with zero point 128 (same values; lets ONNX "
          "Runtime fuse every Conv, see QdqExportOptions)");

namespace {

using quantd::engine::CalibrationOptions;
using quantd::engine::CalibrationTable;
using quantd::engine::Dataset;
using quantd::engine::InferenceSession;
using quantd::engine::Precision;
using quantd::engine::SessionOptions;
using quantd::engine::Tensor;

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

// Standard normal values: roughly what a mean/std-normalised image looks like.
Tensor MakeRandomImages(int batch, uint32_t seed) {
  Tensor input{.name = "input", .shape = {batch, 3, 224, 224}, .data = {}};
  input.data.resize(input.NumElements());
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : input.data) x = normal(generator);
  return input;
}

// Min/max ranges of every activation of the unfused graph (a superset of
// the fused graph's, with the same numbers) over `samples` random images.
absl::StatusOr<CalibrationTable> CalibrateOnRandomImages(std::string_view onnx_bytes, int samples,
                                                         uint32_t seed) {
  SessionOptions unfused;
  unfused.fuse_operators = false;
  ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> fp32,
                   InferenceSession::Create(onnx_bytes, unfused));
  const Tensor images = MakeRandomImages(samples, seed);
  Dataset data;
  data.sample_shape = {3, 224, 224};
  data.num_samples = samples;
  data.samples = images.data;
  CalibrationOptions options;
  options.max_samples = samples;
  options.batch_size = 8;
  return quantd::engine::CalibrateMinMax(*fp32, data, options, nullptr);
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
  const int calibration_samples = absl::GetFlag(FLAGS_calibration_samples);
  if (precision == "int8" && calibration_samples < 1) {
    return absl::InvalidArgumentError("--calibration_samples must be >= 1");
  }

  // 1. Threads first: every primitive the session creates inherits this count.
  omp_set_num_threads(absl::GetFlag(FLAGS_threads));

  std::unique_ptr<InferenceSession> session;
  CalibrationTable calibration;
  double calibration_ms = 0;
  {
    // The ONNX bytes are only needed while importing; drop them afterwards.
    ASSIGN_OR_RETURN(const std::string onnx_bytes, ReadFile(model_path));
    SessionOptions options;
    if (precision == "int8") {
      const auto start = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(calibration, CalibrateOnRandomImages(onnx_bytes, calibration_samples,
                                                            absl::GetFlag(FLAGS_seed) + 1));
      calibration_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      options.precision = Precision::kInt8;
      options.calibration = &calibration;
      if (const std::string path = absl::GetFlag(FLAGS_qdq_out); !path.empty()) {
        quantd::engine::QdqExportOptions export_options;
        export_options.signed_activations_as_uint8 = absl::GetFlag(FLAGS_qdq_signed_as_uint8);
        ASSIGN_OR_RETURN(const std::string qdq, quantd::engine::ExportQdqModel(
                                                    onnx_bytes, calibration, {}, export_options));
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(qdq.data(), static_cast<std::streamsize>(qdq.size()));
        if (!out) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
      }
    } else if (!absl::GetFlag(FLAGS_qdq_out).empty()) {
      return absl::InvalidArgumentError("--qdq_out needs --precision=int8");
    }
    ASSIGN_OR_RETURN(session, InferenceSession::Create(onnx_bytes, options));
  }

  // 2. The shared input.
  const Tensor input = MakeRandomImages(batch, absl::GetFlag(FLAGS_seed));
  if (const std::string path = absl::GetFlag(FLAGS_input_out); !path.empty()) {
    RETURN_IF_ERROR(WriteFloats(path, input.data));
  }

  // 3. Warm-up, then the timed runs.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point first_start = Clock::now();
  std::vector<Tensor> outputs;
  for (int i = 0; i < warmup; ++i) {
    ASSIGN_OR_RETURN(outputs, session->Run(input));
  }
  const double warmup_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - first_start).count();

  // On stdout, like ONEDNN_VERBOSE's lines, so a verbose log splits here into
  // first-run work (Plan compilation, weight reorders) and steady-state runs.
  std::printf("quantd_bench: %d warm-up runs took %.1f ms; timing %d runs\n", warmup, warmup_ms,
              runs);
  std::fflush(stdout);
  std::vector<double> latencies_ms;
  latencies_ms.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    const Clock::time_point start = Clock::now();
    ASSIGN_OR_RETURN(outputs, session->Run(input));
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }

  // 4. Results.
  if (outputs.empty()) return absl::InternalError("the model produced no output");
  if (const std::string path = absl::GetFlag(FLAGS_logits_out); !path.empty()) {
    RETURN_IF_ERROR(WriteFloats(path, outputs.front().data));
  }
  double total_ms = 0;
  for (double ms : latencies_ms) total_ms += ms;
  const std::string result = absl::StrFormat(
      "{\"runtime\": \"quantd\", \"precision\": \"%s\", \"model\": \"%s\", \"batch\": %d, "
      "\"threads\": %d, \"warmup\": %d, \"runs\": %d, \"calibration_ms\": %.1f, "
      "\"warmup_ms\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
      "\"images_per_s\": %.2f, \"peak_rss_mb\": %.1f}",
      precision, std::filesystem::path(model_path).stem().string(), batch,
      absl::GetFlag(FLAGS_threads), warmup, runs, calibration_ms, warmup_ms,
      Percentile(latencies_ms, 50), Percentile(latencies_ms, 99), batch * runs * 1000.0 / total_ms,
      PeakRssMb());
  std::printf("%s\n", result.c_str());
  if (const std::string path = absl::GetFlag(FLAGS_result_out); !path.empty()) {
    std::ofstream(path, std::ios::trunc) << result << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (const absl::Status status = Run(); !status.ok()) {
    std::fprintf(stderr, "quantd_bench: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
