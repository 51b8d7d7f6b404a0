#ifndef QUANTD_ENGINE_EVAL_LAYER_SQNR_H_
#define QUANTD_ENGINE_EVAL_LAYER_SQNR_H_

// Per-layer signal-to-quantization-noise ratio: which layers of a quantized
// model lose the most precision against fp32.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "engine/eval/output_agreement.h"
#include "engine/quant/quantization_options.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

// A node output of the graph a quantized session runs (after BatchNorm
// folding and fusion: a fused Conv+Relu is one node and its output is the
// Relu's value).
struct QuantizedLayer {
  std::string node_name;
  std::string op_type;
  std::string output;
};

// The node outputs a quantized session built from `onnx_bytes` with these
// settings quantizes, in graph order: every node output except those of nodes
// `quantization` keeps in fp32 (exclude_nodes, exclude_first_conv, ...).
absl::StatusOr<std::vector<QuantizedLayer>> ListQuantizedLayers(
    std::string_view onnx_bytes, bool fold_batch_norm, const QuantizationOptions& quantization);

struct LayerSqnr {
  QuantizedLayer layer;
  // 10 log10(sum fp32^2 / sum (fp32 - quantized)^2) over all samples and
  // elements; +inf when the quantized values are exact.
  double sqnr_db = 0.0;
};

struct LayerSqnrOptions {
  int64_t max_samples = 256;  // the first samples of the dataset
  // Small: one batch of every fp32 activation is held while the quantized
  // session runs the same batch.
  int64_t batch_size = 16;
};

// Runs the first samples of `data` through `fp32` and `quantized` with
// RunObserved and accumulates, per layer, the energy of the fp32 value and of
// its difference from the quantized one. Both sessions must run the same
// graph (the same BatchNorm folding and fusion) so values pair by name; a
// layer either session does not report is left out. Results follow `layers`.
absl::StatusOr<std::vector<LayerSqnr>> MeasureLayerSqnr(
    InferenceSession& fp32, InferenceSession& quantized, const std::vector<QuantizedLayer>& layers,
    const Dataset& data, const LayerSqnrOptions& options = {},
    const EvaluationProgress& progress = nullptr);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_EVAL_LAYER_SQNR_H_
