#include "engine/eval/layer_sqnr.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

struct NoiseEnergy {
  double signal = 0.0;  // sum fp32^2
  double noise = 0.0;   // sum (fp32 - quantized)^2
  bool seen = false;
};

double ToDecibels(const NoiseEnergy& energy) {
  if (energy.noise == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(energy.signal / energy.noise);
}

}  // namespace

absl::StatusOr<std::vector<QuantizedLayer>> ListQuantizedLayers(
    std::string_view onnx_bytes, bool fold_batch_norm, const QuantizationOptions& quantization) {
  ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(onnx_bytes));
  PassOptions passes;
  passes.fold_batch_norm = fold_batch_norm;
  RETURN_IF_ERROR(RunStandardPasses(graph, passes));
  const std::set<std::string> excluded = ExcludedNodes(graph, quantization);
  std::vector<QuantizedLayer> layers;
  for (const Node& node : graph.nodes) {
    if (excluded.count(node.name) > 0) continue;
    for (const std::string& output : node.outputs) {
      if (!output.empty()) layers.push_back(QuantizedLayer{node.name, node.op_type, output});
    }
  }
  return layers;
}

absl::StatusOr<std::vector<LayerSqnr>> MeasureLayerSqnr(
    InferenceSession& fp32, InferenceSession& quantized, const std::vector<QuantizedLayer>& layers,
    const Dataset& data, const LayerSqnrOptions& options, const EvaluationProgress& progress) {
  if (options.batch_size <= 0 || options.max_samples <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer SQNR needs a positive batch size and sample count, got ",
                     options.batch_size, " and ", options.max_samples));
  }
  if (data.num_samples <= 0) {
    return absl::InvalidArgumentError("the dataset to measure layer SQNR on has no samples");
  }
  std::map<std::string, NoiseEnergy> energy;
  for (const QuantizedLayer& layer : layers) energy[layer.output];
  const int64_t total = std::min(options.max_samples, data.num_samples);

  for (int64_t start = 0; start < total; start += options.batch_size) {
    const int64_t count = std::min(options.batch_size, total - start);
    const Tensor batch = data.Batch(start, count);
    std::map<std::string, std::vector<float>> reference;
    const absl::Status fp32_run =
        fp32.RunObserved(batch,
                         [&](const std::string& name, const Tensor& value) {
                           if (energy.count(name) > 0) reference[name] = value.data;
                         })
            .status();
    RETURN_IF_ERROR(fp32_run);
    absl::Status mismatch;
    const absl::Status quantized_run =
        quantized
            .RunObserved(batch,
                         [&](const std::string& name, const Tensor& value) {
                           const auto fp32_value = reference.find(name);
                           if (fp32_value == reference.end()) return;
                           if (fp32_value->second.size() != value.data.size()) {
                             mismatch = absl::InvalidArgumentError(
                                 absl::StrCat("value '", name, "' has ", fp32_value->second.size(),
                                              " elements in fp32 and ", value.data.size(),
                                              " quantized: the sessions run different graphs"));
                             return;
                           }
                           NoiseEnergy& e = energy[name];
                           e.seen = true;
                           for (size_t i = 0; i < value.data.size(); ++i) {
                             const double x = fp32_value->second[i];
                             const double error = x - static_cast<double>(value.data[i]);
                             e.signal += x * x;
                             e.noise += error * error;
                           }
                         })
            .status();
    RETURN_IF_ERROR(quantized_run);
    RETURN_IF_ERROR(mismatch);
    if (progress && !progress(start + count, total)) {
      return absl::CancelledError("layer SQNR measurement cancelled");
    }
  }

  std::vector<LayerSqnr> results;
  for (const QuantizedLayer& layer : layers) {
    const NoiseEnergy& e = energy.at(layer.output);
    if (e.seen) results.push_back(LayerSqnr{layer, ToDecibels(e)});
  }
  return results;
}

}  // namespace quantd::engine
