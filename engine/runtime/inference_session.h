#ifndef QUANTD_ENGINE_RUNTIME_INFERENCE_SESSION_H_
#define QUANTD_ENGINE_RUNTIME_INFERENCE_SESSION_H_

// The engine's front door for running a model. Kept free of oneDNN headers so
// the server can include it cheaply.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/graph/model_summary.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"
#include "engine/runtime/idle_memory_budget.h"
#include "engine/runtime/int8_coverage.h"
#include "engine/tensor.h"

namespace quantd::engine {

enum class Precision { kFp32, kInt8 };

struct SessionOptions {
  Precision precision = Precision::kFp32;
  // Required for kInt8: activation ranges from calibration.
  const CalibrationTable* calibration = nullptr;
  // kInt8 only: how weights and activations are quantized and which nodes
  // stay fp32. Fewer than 8 bits (or `simulate`) makes a simulated session.
  QuantizationOptions quantization = {};
  // Plans are compiled per set of input shapes on first use; at most this
  // many are kept.
  int max_cached_plans = 8;
  // fp32 only: run 3x3 stride-1 convolutions as Winograd where oneDNN can
  // (faster; outputs differ from direct convolution by ~1e-6 relative).
  bool fp32_winograd = true;
  // Run() may split a batch of 8 or more images into sub-batches when that
  // measures faster for this model (see BatchSplitTuner). Outputs are the
  // same up to float rounding (~1e-6 relative). Only models whose every
  // input and output has a dynamic dimension 0, run with the same batch on
  // every input, are split.
  bool tune_batch_split = true;
  // false keeps BatchNormalization nodes as they are (a quantization knob:
  // folding changes the weights that get quantized). Calibration ranges must
  // come from a session with the same setting: value names differ.
  bool fold_batch_norm = true;
  // false skips activation and residual fusion, so every value of the
  // imported graph can be observed (a superset of the fused graph's values).
  // For fp32 calibration sessions: their table then also has the values an
  // exported QDQ model quantizes (the Conv output before a residual Add).
  bool fuse_operators = true;
  // Shared by the sessions of a server: caps the bytes of activation buffers
  // all of them keep between runs (see IdleMemoryBudget). Null: each Plan
  // keeps up to 4 idle contexts, however large.
  std::shared_ptr<IdleMemoryBudget> idle_memory;
};

// A loaded model, ready to run. Thread-safe: Run() may be called concurrently;
// each call uses its own activation buffers on a shared, immutable Plan.
// Observes activations of the (post-pass) graph: called once per value per
// batch with the value in plain row-major f32 layout.
using ActivationObserver = std::function<void(const std::string& value_name, const Tensor& value)>;

class InferenceSession {
 public:
  // Imports `onnx_bytes`, runs the standard passes (BN folding, activation and
  // residual fusion) and prepares to compile Plans. For kInt8, weights and
  // activations are quantized as `options.quantization` says (by default s8
  // symmetric per output channel, activations u8 when the calibrated range
  // is non-negative, else s8); INVALID_ARGUMENT names a bad option field.
  static absl::StatusOr<std::unique_ptr<InferenceSession>> Create(std::string_view onnx_bytes,
                                                                  const SessionOptions& options);

  virtual ~InferenceSession() = default;

  // Runs one batch: one tensor per graph input, in any order. A tensor is
  // matched to the graph input of its name; one with an empty name takes the
  // graph input at its own position. Each shape must match its input's
  // (dynamic dims free). INVALID_ARGUMENT, naming the input and its expected
  // and actual shape, for a missing, unknown or repeated input, a wrong rank
  // or fixed dim, or a value count that is not the shape's. Returns the
  // model's outputs in graph order, in plain row-major layout.
  virtual absl::StatusOr<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs) = 0;

  // For a model with one input: runs `input` as that input, whatever its
  // name (Infer has always taken the tensor as the model's input). For other
  // models, Run({input}). The default copies `input`; sessions override it
  // to avoid that.
  virtual absl::StatusOr<std::vector<Tensor>> Run(const Tensor& input);

  // Like Run(), and also reports the graph inputs and every node output to
  // `observer`, in graph order, right after the node ran. int8 sessions report
  // their values dequantized to f32 (a fused node reports its fused output).
  // Calibration and per-layer SQNR use this; it is slower than Run() because
  // each value is reordered to plain.
  virtual absl::StatusOr<std::vector<Tensor>> RunObserved(const std::vector<Tensor>& inputs,
                                                          const ActivationObserver& observer) = 0;
  // The one-input form, as Run(const Tensor&).
  virtual absl::StatusOr<std::vector<Tensor>> RunObserved(const Tensor& input,
                                                          const ActivationObserver& observer);

  // How the Plan for `input_shape` (compiled if needed; models with one
  // input) runs: which nodes compute in int8, their multiply-accumulates, why
  // the others stay f32, and the reorders at int8/f32 borders per run. An
  // fp32 session reports every node as f32 with no reason.
  virtual absl::StatusOr<Int8Coverage> Coverage(const std::vector<int64_t>& /*input_shape*/) {
    return absl::UnimplementedError("this session does not report its int8 coverage");
  }

  virtual const ModelSummary& summary() const = 0;
  virtual Precision precision() const = 0;
  // kInt8 sessions with fewer than 8 bits (or QuantizationOptions::simulate)
  // run fp32 kernels on fake-quantized weights and activations: accuracy as
  // quantized, speed as fp32.
  virtual bool simulated() const { return false; }
  // Runs of `batch` images from this thread that the session will still
  // spend measuring how to split such batches (SessionOptions::
  // tune_batch_split); 0 when it has settled. Anyone timing the session
  // runs this many untimed first.
  virtual int TuningRunsLeft(int64_t /*batch*/) { return 0; }
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_INFERENCE_SESSION_H_
