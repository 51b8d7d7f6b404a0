// Sweeps the quantization knobs on the Fashion-MNIST fixtures and writes the
// accuracy table (docs/ACCURACY.md through scripts/accuracy_table.sh): one row
// per activation type x calibration x weight granularity x bit width, one
// top-1 column per model, the fp32 row first, as in the MXNet quantization
// results the project started from.
//
//   accuracy_table --out=docs/ACCURACY.md [--models=resnet,mobilenetv2,vgg]
//       [--bits=8,6,5,4,3] [--calibrations=naive,entropy,percentile,ema,mse,auto]
//       [--activation_types=auto,int8] [--granularities=per_tensor,per_channel]
//       [--calibration_samples=1000] [--seed=20261123] [--threads=2]
//
// Each row does what a QuantizeModel job with those settings does: calibrate
// on the unfused graph over the seeded calibration samples, then build the
// quantized session with the row's options (simulated below 8 bits) and count
// top-1 hits on every test image. Conventions below 8 bits (written into the
// document): weights and activations at the same width, the first Conv kept
// fp32, MSE weight clipping, entropy/MSE/auto ranges searched for that width.

#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "engine/data/dataset.h"
#include "engine/eval/accuracy.h"
#include "engine/quant/calibration_options.h"
#include "engine/quant/calibrator.h"
#include "engine/runtime/inference_session.h"
#include "engine/status_macros.h"

ABSL_FLAG(std::string, out, "", "Markdown file to write (required)");
ABSL_FLAG(std::string, fixtures_dir, "fixtures", "Where <model>_fmnist.onnx live");
ABSL_FLAG(std::string, dataset_dir, "/usr/share/datasets/fashion-mnist",
          "Fashion-MNIST IDX files (Debian's dataset-fashion-mnist)");
ABSL_FLAG(std::vector<std::string>, models,
          std::vector<std::string>({"resnet", "mobilenetv2", "vgg"}), "Fixtures, one column each");
ABSL_FLAG(std::vector<std::string>, bits, std::vector<std::string>({"8", "6", "5", "4", "3"}),
          "Bit widths (weights and activations alike)");
ABSL_FLAG(std::vector<std::string>, calibrations,
          std::vector<std::string>({"naive", "entropy", "percentile", "ema", "mse", "auto"}),
          "Calibration methods");
ABSL_FLAG(std::vector<std::string>, activation_types, std::vector<std::string>({"auto", "int8"}),
          "Activation types: auto (u8 after ReLU, else s8) or int8 (signed everywhere)");
ABSL_FLAG(std::vector<std::string>, granularities,
          std::vector<std::string>({"per_tensor", "per_channel"}), "Weight granularities");
ABSL_FLAG(int64_t, calibration_samples, 1000, "Training images to calibrate on");
ABSL_FLAG(int64_t, seed, 20261123, "Seed that draws the calibration samples");
ABSL_FLAG(int32_t, threads, 2, "OpenMP threads for oneDNN");

namespace {

using quantd::engine::ActivationType;
using quantd::engine::CalibrationMethod;
using quantd::engine::CalibrationOptions;
using quantd::engine::CalibrationTable;
using quantd::engine::Dataset;
using quantd::engine::InferenceSession;
using quantd::engine::QuantizationOptions;
using quantd::engine::SessionOptions;
using quantd::engine::WeightClipping;
using quantd::engine::WeightGranularity;

constexpr int64_t kEvaluationBatch = 250;
constexpr int64_t kCalibrationBatch = 100;

struct Row {
  std::string activation_type;
  std::string calibration;
  std::string granularity;
  int bits = 8;
};

struct Model {
  std::string name;
  std::string onnx;
  std::unique_ptr<InferenceSession> unfused_fp32;  // calibrates, as a job does
  double fp32_top1 = 0.0;
  // Tables of the methods that do not depend on the quantization options,
  // by (method, activation bits).
  std::map<std::pair<CalibrationMethod, int>, CalibrationTable> tables;
};

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

QuantizationOptions OptionsFor(const Row& row) {
  QuantizationOptions q;
  q.weight_granularity = row.granularity == "per_tensor" ? WeightGranularity::kPerTensor
                                                         : WeightGranularity::kPerChannel;
  q.activation_type = row.activation_type == "int8" ? ActivationType::kInt8 : ActivationType::kAuto;
  q.weight_bits = row.bits;
  q.activation_bits = row.bits;
  if (row.bits < 8) {
    q.exclude_first_conv = true;
    q.weight_clipping = WeightClipping::kMse;
  }
  return q;
}

absl::StatusOr<std::shared_ptr<InferenceSession>> QuantizedSession(const std::string& onnx,
                                                                   const CalibrationTable& table,
                                                                   const QuantizationOptions& q) {
  SessionOptions options;
  options.precision = quantd::engine::Precision::kInt8;
  options.calibration = &table;
  options.quantization = q;
  ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> session,
                   InferenceSession::Create(onnx, options));
  return std::shared_ptr<InferenceSession>(std::move(session));
}

// Top-1 in percent of `model` quantized as `row` says.
absl::StatusOr<double> EvaluateRow(Model& model, const Row& row, const Dataset& train,
                                   const Dataset& test) {
  ASSIGN_OR_RETURN(const CalibrationMethod method,
                   quantd::engine::ParseCalibrationMethod(row.calibration));
  const QuantizationOptions q = OptionsFor(row);
  CalibrationOptions calibration;
  calibration.max_samples = absl::GetFlag(FLAGS_calibration_samples);
  calibration.batch_size = kCalibrationBatch;
  calibration.sample_seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  calibration.method = method;
  calibration.activation_bits = row.bits;
  const auto make_session = [&](const CalibrationTable& candidate) {
    return QuantizedSession(model.onnx, candidate, q);
  };
  CalibrationTable auto_table;
  const CalibrationTable* table = nullptr;
  if (method == CalibrationMethod::kAuto) {
    ASSIGN_OR_RETURN(auto_table, quantd::engine::Calibrate(*model.unfused_fp32, train, calibration,
                                                           nullptr, make_session));
    table = &auto_table;
  } else {
    // Only entropy and MSE search their threshold for the bit width.
    const bool per_bits =
        method == CalibrationMethod::kEntropy || method == CalibrationMethod::kMse;
    const auto key = std::make_pair(method, per_bits ? row.bits : 8);
    auto it = model.tables.find(key);
    if (it == model.tables.end()) {
      ASSIGN_OR_RETURN(CalibrationTable computed,
                       quantd::engine::Calibrate(*model.unfused_fp32, train, calibration, nullptr));
      it = model.tables.emplace(key, std::move(computed)).first;
    }
    table = &it->second;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<InferenceSession> session, make_session(*table));
  ASSIGN_OR_RETURN(const quantd::engine::AccuracyReport report,
                   quantd::engine::EvaluateAccuracy(*session, test, kEvaluationBatch));
  return 100.0 * report.top1;
}

absl::StatusOr<std::vector<int>> ParseBits(const std::vector<std::string>& values) {
  std::vector<int> bits;
  for (const std::string& v : values) {
    int b = 0;
    if (!absl::SimpleAtoi(v, &b) || b < 2 || b > 8) {
      return absl::InvalidArgumentError(absl::StrCat("--bits: '", v, "' is not in [2, 8]"));
    }
    bits.push_back(b);
  }
  return bits;
}

std::string Header(const std::vector<std::string>& models) {
  std::string line = "| activation type | calibration | weights | bits |";
  std::string rule = "|---|---|---|---:|";
  for (const std::string& m : models) {
    absl::StrAppend(&line, " ", m, " |");
    absl::StrAppend(&rule, "---:|");
  }
  return absl::StrCat(line, "\n", rule, "\n");
}

absl::Status Run() {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return absl::InvalidArgumentError("--out is required");
  omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  ASSIGN_OR_RETURN(const std::vector<int> bits, ParseBits(absl::GetFlag(FLAGS_bits)));
  for (const std::string& c : absl::GetFlag(FLAGS_calibrations)) {
    RETURN_IF_ERROR(quantd::engine::ParseCalibrationMethod(c).status());
  }
  for (const std::string& a : absl::GetFlag(FLAGS_activation_types)) {
    if (a != "auto" && a != "int8") {
      return absl::InvalidArgumentError(
          absl::StrCat("--activation_types: '", a, "' is not auto|int8"));
    }
  }
  for (const std::string& g : absl::GetFlag(FLAGS_granularities)) {
    if (g != "per_tensor" && g != "per_channel") {
      return absl::InvalidArgumentError(
          absl::StrCat("--granularities: '", g, "' is not per_tensor|per_channel"));
    }
  }
  const std::string dir = absl::GetFlag(FLAGS_dataset_dir) + "/";
  constexpr float kPixelScale = 1.0f / 255.0f;  // as quantctl upload-dataset
  ASSIGN_OR_RETURN(const Dataset train,
                   quantd::engine::ReadIdxDataset(dir + "train-images-idx3-ubyte.gz",
                                                  dir + "train-labels-idx1-ubyte.gz", kPixelScale));
  ASSIGN_OR_RETURN(const Dataset test,
                   quantd::engine::ReadIdxDataset(dir + "t10k-images-idx3-ubyte.gz",
                                                  dir + "t10k-labels-idx1-ubyte.gz", kPixelScale));

  const auto started = std::chrono::steady_clock::now();
  std::vector<Model> models;
  for (const std::string& name : absl::GetFlag(FLAGS_models)) {
    Model model;
    model.name = name;
    ASSIGN_OR_RETURN(model.onnx, ReadFile(absl::StrCat(absl::GetFlag(FLAGS_fixtures_dir), "/", name,
                                                       "_fmnist.onnx")));
    SessionOptions unfused;
    unfused.fuse_operators = false;
    ASSIGN_OR_RETURN(model.unfused_fp32, InferenceSession::Create(model.onnx, unfused));
    ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> fp32,
                     InferenceSession::Create(model.onnx, {}));
    ASSIGN_OR_RETURN(const quantd::engine::AccuracyReport report,
                     quantd::engine::EvaluateAccuracy(*fp32, test, kEvaluationBatch));
    model.fp32_top1 = 100.0 * report.top1;
    models.push_back(std::move(model));
  }

  std::string table = Header(absl::GetFlag(FLAGS_models));
  std::string fp32_line = "| fp32 | | | 32 |";
  for (const Model& m : models) absl::StrAppendFormat(&fp32_line, " %.2f |", m.fp32_top1);
  absl::StrAppend(&table, fp32_line, "\n");
  std::printf("%s", table.c_str());
  std::fflush(stdout);
  int rows = 0;
  for (const std::string& activation_type : absl::GetFlag(FLAGS_activation_types)) {
    for (const std::string& calibration : absl::GetFlag(FLAGS_calibrations)) {
      for (const std::string& granularity : absl::GetFlag(FLAGS_granularities)) {
        for (const int b : bits) {
          const Row row{activation_type, calibration, granularity, b};
          std::string line =
              absl::StrCat("| ", activation_type, " | ", calibration, " | ",
                           absl::StrReplaceAll(granularity, {{"_", "-"}}), " | ", b, " |");
          for (Model& m : models) {
            ASSIGN_OR_RETURN(const double top1, EvaluateRow(m, row, train, test));
            absl::StrAppendFormat(&line, " %.2f |", top1);
          }
          absl::StrAppend(&table, line, "\n");
          std::printf("%s\n", line.c_str());
          std::fflush(stdout);
          ++rows;
        }
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ofstream file(out, std::ios::trunc);
  file << table;
  if (!file) return absl::InternalError(absl::StrCat("cannot write '", out, "'"));
  std::printf("accuracy_table: %d rows x %zu models in %.0f s, table written to %s\n", rows,
              models.size(), seconds, out.c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (const absl::Status status = Run(); !status.ok()) {
    std::fprintf(stderr, "accuracy_table: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
