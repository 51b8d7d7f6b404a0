// quantd int8 on a Fashion-MNIST fixture, and its QDQ export for ONNX Runtime,
// both from the calibration a default QuantizeModel job makes: naive
// (min/max) ranges over the first 1,000 training images, observed on the
// unfused graph, default quantization options.
//
// Writes the QDQ model, the test images (raw float32 [N,1,28,28]), quantd
// int8's logits for them and their labels; tools/qdq_agreement.sh then runs
// ONNX Runtime (tools/qdq_agreement.js) on the same images and compares.
//
//   qdq_agreement --model=fixtures/resnet_fmnist.onnx --out_dir=/tmp/qdq/resnet
//       [--limit=10000] [--calibration_samples=1000] [--threads=2]
//
// Output files in --out_dir: model.qdq.onnx, calibration.json, images.f32,
// labels.i32, quantd_int8.f32 (logits, [N, classes]).

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/data/dataset.h"
#include "engine/export/calibration_json.h"
#include "engine/export/qdq_export.h"
#include "engine/quant/calibrator.h"
#include "engine/runtime/inference_session.h"
#include "engine/status_macros.h"
#include "engine/tensor.h"

ABSL_FLAG(std::string, model, "", "fp32 ONNX fixture with input [N,1,28,28]");
ABSL_FLAG(std::string, out_dir, "", "Where to write the files");
ABSL_FLAG(std::string, dataset_dir, "/usr/share/datasets/fashion-mnist",
          "Fashion-MNIST IDX files (Debian's dataset-fashion-mnist)");
ABSL_FLAG(int64_t, calibration_samples, 1000, "First training images to calibrate on");
ABSL_FLAG(int64_t, limit, 0, "Test images to run (0: all 10,000)");
ABSL_FLAG(int32_t, threads, 2, "OpenMP threads for oneDNN");
ABSL_FLAG(bool, signed_as_uint8, true,
          "Write signed activations as uint8 with zero point 128 (QdqExportOptions), as jobs "
          "do");
ABSL_FLAG(bool, round_before_residual_add, false,
          "QdqExportOptions::round_before_residual_add: ONNX Runtime's fusable form (true) or the "
          "faithful export jobs publish (false)");
ABSL_FLAG(bool, unfused_calibration, true,
          "Calibrate on the unfused graph, as jobs do; false: on the fused graph, as versions "
          "made before the QDQ export were (then Convs before a residual Add stay float in the "
          "export)");

namespace {

using quantd::engine::Dataset;
using quantd::engine::InferenceSession;
using quantd::engine::SessionOptions;
using quantd::engine::Tensor;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status WriteBytes(const std::filesystem::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path.string(), "'"));
  return absl::OkStatus();
}

absl::Status Run() {
  const std::string model_path = absl::GetFlag(FLAGS_model);
  const std::filesystem::path out_dir = absl::GetFlag(FLAGS_out_dir);
  if (model_path.empty() || out_dir.empty()) {
    return absl::InvalidArgumentError("--model and --out_dir are required");
  }
  omp_set_num_threads(absl::GetFlag(FLAGS_threads));
  std::filesystem::create_directories(out_dir);
  const std::string dir = absl::GetFlag(FLAGS_dataset_dir) + "/";
  constexpr float kPixelScale = 1.0f / 255.0f;  // as quantctl upload-dataset
  ASSIGN_OR_RETURN(Dataset train,
                   quantd::engine::ReadIdxDataset(dir + "train-images-idx3-ubyte.gz",
                                                  dir + "train-labels-idx1-ubyte.gz", kPixelScale));
  ASSIGN_OR_RETURN(Dataset test,
                   quantd::engine::ReadIdxDataset(dir + "t10k-images-idx3-ubyte.gz",
                                                  dir + "t10k-labels-idx1-ubyte.gz", kPixelScale));
  if (const int64_t limit = absl::GetFlag(FLAGS_limit); limit > 0 && limit < test.num_samples) {
    test.num_samples = limit;
    test.samples.resize(limit * test.SampleSize());
    test.labels.resize(limit);
  }
  ASSIGN_OR_RETURN(const std::string onnx, ReadFile(model_path));

  // The job's calibration: an fp32 session on the unfused graph.
  SessionOptions unfused;
  unfused.fuse_operators = !absl::GetFlag(FLAGS_unfused_calibration);
  ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> fp32, InferenceSession::Create(onnx, unfused));
  quantd::engine::CalibrationOptions calibration_options;
  calibration_options.max_samples = absl::GetFlag(FLAGS_calibration_samples);
  ASSIGN_OR_RETURN(const quantd::engine::CalibrationTable table,
                   quantd::engine::Calibrate(*fp32, train, calibration_options, nullptr));
  fp32.reset();

  const quantd::engine::QuantizationOptions quantization;
  quantd::engine::QdqExportOptions export_options;
  export_options.signed_activations_as_uint8 = absl::GetFlag(FLAGS_signed_as_uint8);
  export_options.round_before_residual_add = absl::GetFlag(FLAGS_round_before_residual_add);
  ASSIGN_OR_RETURN(const std::string qdq,
                   quantd::engine::ExportQdqModel(onnx, table, quantization, export_options));
  RETURN_IF_ERROR(WriteBytes(out_dir / "model.qdq.onnx", qdq.data(), qdq.size()));
  const std::string json = quantd::engine::CalibrationTableToJson(table, quantization);
  RETURN_IF_ERROR(WriteBytes(out_dir / "calibration.json", json.data(), json.size()));

  SessionOptions int8_options;
  int8_options.precision = quantd::engine::Precision::kInt8;
  int8_options.calibration = &table;
  int8_options.quantization = quantization;
  ASSIGN_OR_RETURN(std::unique_ptr<InferenceSession> int8,
                   InferenceSession::Create(onnx, int8_options));
  constexpr int64_t kBatch = 250;
  std::vector<float> logits;
  for (int64_t begin = 0; begin < test.num_samples; begin += kBatch) {
    const int64_t n = std::min(kBatch, test.num_samples - begin);
    Tensor input{.name = "input", .shape = {n}, .data = {}};
    input.shape.insert(input.shape.end(), test.sample_shape.begin(), test.sample_shape.end());
    const auto first = test.samples.begin() + begin * test.SampleSize();
    input.data.assign(first, first + n * test.SampleSize());
    ASSIGN_OR_RETURN(std::vector<Tensor> outputs, int8->Run(input));
    logits.insert(logits.end(), outputs.front().data.begin(), outputs.front().data.end());
  }
  RETURN_IF_ERROR(
      WriteBytes(out_dir / "images.f32", test.samples.data(), test.samples.size() * sizeof(float)));
  RETURN_IF_ERROR(
      WriteBytes(out_dir / "labels.i32", test.labels.data(), test.labels.size() * sizeof(int32_t)));
  RETURN_IF_ERROR(
      WriteBytes(out_dir / "quantd_int8.f32", logits.data(), logits.size() * sizeof(float)));
  std::printf("qdq_agreement: %s: %lld test images, %zu calibrated values, QDQ model %zu bytes\n",
              model_path.c_str(), static_cast<long long>(test.num_samples), table.ranges.size(),
              qdq.size());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (const absl::Status status = Run(); !status.ok()) {
    std::fprintf(stderr, "qdq_agreement: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
