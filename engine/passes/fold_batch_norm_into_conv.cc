#include "engine/passes/fold_batch_norm_into_conv.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/graph/batch_norm_affine.h"
#include "engine/passes/graph_rewrite.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

const Constant* FindFloatConstant(const Graph& graph, const std::string& name) {
  const auto it = graph.constants.find(name);
  if (it == graph.constants.end() || it->second.type != Constant::Type::kFloat32) {
    return nullptr;
  }
  return &it->second;
}

// The Conv whose output `bn` normalizes, if folding into it is legal.
int FindFoldableConv(const Graph& graph, const Node& bn) {
  const int conv_index = FindProducer(graph, bn.inputs[0]);
  if (conv_index < 0) return -1;
  const Node& conv = graph.nodes[conv_index];
  if (conv.op_type != "Conv" || conv.outputs.empty() || conv.outputs[0] != bn.inputs[0] ||
      !conv.post_ops.empty() || conv.inputs.size() < 2) {
    return -1;
  }
  if (CountValueUses(graph, bn.inputs[0]) != 1 || IsGraphOutput(graph, bn.inputs[0])) {
    return -1;
  }
  const Constant* weight = FindFloatConstant(graph, conv.inputs[1]);
  if (weight == nullptr || weight->dims.size() < 3 || weight->dims[0] <= 0) {
    return -1;
  }
  if (conv.inputs.size() >= 3 && !conv.inputs[2].empty() &&
      FindFloatConstant(graph, conv.inputs[2]) == nullptr) {
    return -1;
  }
  return conv_index;
}

bool IsInferenceBatchNorm(const Graph& graph, const Node& bn) {
  if (bn.inputs.size() != 5 || bn.outputs.empty()) return false;
  // Training-mode outputs (running mean/var, saved stats) must be unused.
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    const std::string& out = bn.outputs[i];
    if (!out.empty() && (CountValueUses(graph, out) > 0 || IsGraphOutput(graph, out))) {
      return false;
    }
  }
  // Opset < 9 allowed per-activation statistics (spatial = 0).
  if (const auto it = bn.attributes.find("spatial"); it != bn.attributes.end()) {
    const int64_t* spatial = std::get_if<int64_t>(&it->second);
    if (spatial != nullptr && *spatial == 0) return false;
  }
  for (size_t i = 1; i < 5; ++i) {
    if (FindFloatConstant(graph, bn.inputs[i]) == nullptr) return false;
  }
  return true;
}

// The constant named by conv.inputs[slot], safe to overwrite: a copy under a
// fresh name when another node (or a graph output) also reads it.
Constant& WritableInput(Graph& graph, Node& conv, size_t slot, const std::string& copy_base) {
  const std::string& name = conv.inputs[slot];
  if (CountValueUses(graph, name) == 1 && !IsGraphOutput(graph, name)) {
    return graph.constants.at(name);
  }
  const std::string copy_name = UniqueValueName(graph, copy_base);
  Constant copy = graph.constants.at(name);
  conv.inputs[slot] = copy_name;
  return graph.constants[copy_name] = std::move(copy);
}

absl::StatusOr<ChannelAffine> CheckedAffine(const Graph& graph, const Node& bn, const Node& conv,
                                            int64_t channels) {
  for (size_t i = 1; i < 5; ++i) {
    const Constant& param = *FindFloatConstant(graph, bn.inputs[i]);
    if (static_cast<int64_t>(param.floats.size()) != channels) {
      return absl::InvalidArgumentError(
          absl::StrCat("node '", bn.name, "' (BatchNormalization): parameter '", bn.inputs[i],
                       "' has ", param.floats.size(), " elements but node '", conv.name,
                       "' (Conv) has ", channels, " output channels"));
    }
  }
  if (conv.inputs.size() >= 3 && !conv.inputs[2].empty() &&
      static_cast<int64_t>(graph.constants.at(conv.inputs[2]).floats.size()) != channels) {
    return absl::InvalidArgumentError(
        absl::StrCat("node '", conv.name, "' (Conv): bias '", conv.inputs[2],
                     "' does not have one element per output channel (", channels, ")"));
  }
  auto param = [&](size_t i) -> const Constant& { return graph.constants.at(bn.inputs[i]); };
  return BatchNormAffine(bn, param(1), param(2), param(3), param(4));
}

absl::Status Fold(Graph& graph, size_t bn_index, size_t conv_index) {
  const Node bn = graph.nodes[bn_index];
  Node& conv = graph.nodes[conv_index];
  const int64_t channels = graph.constants.at(conv.inputs[1]).dims[0];
  ASSIGN_OR_RETURN(const ChannelAffine affine, CheckedAffine(graph, bn, conv, channels));
  const std::vector<double>& scales = affine.scale;

  Constant& weight = WritableInput(graph, conv, 1, absl::StrCat(conv.name, "_folded_weight"));
  const int64_t per_channel = weight.NumElements() / channels;
  for (int64_t m = 0; m < channels; ++m) {
    for (int64_t k = 0; k < per_channel; ++k) {
      weight.floats[m * per_channel + k] *= static_cast<float>(scales[m]);
    }
  }

  if (conv.inputs.size() < 3 || conv.inputs[2].empty()) {
    const std::string bias_name = UniqueValueName(graph, absl::StrCat(conv.name, "_bias"));
    graph.constants[bias_name] = Constant{.type = Constant::Type::kFloat32,
                                          .dims = {channels},
                                          .floats = std::vector<float>(channels),
                                          .ints = {}};
    conv.inputs.resize(3);
    conv.inputs[2] = bias_name;
  }
  Constant& bias = WritableInput(graph, conv, 2, absl::StrCat(conv.name, "_folded_bias"));
  for (int64_t m = 0; m < channels; ++m) {
    bias.floats[m] = static_cast<float>(bias.floats[m] * scales[m] + affine.shift[m]);
  }

  conv.outputs[0] = bn.outputs[0];
  graph.nodes.erase(graph.nodes.begin() + bn_index);
  return absl::OkStatus();
}

}  // namespace

absl::Status FoldBatchNormIntoConv(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size();) {
    const Node& node = graph.nodes[i];
    if (node.op_type != "BatchNormalization" || !IsInferenceBatchNorm(graph, node)) {
      ++i;
      continue;
    }
    const int conv_index = FindFoldableConv(graph, node);
    if (conv_index < 0) {
      ++i;
      continue;
    }
    RETURN_IF_ERROR(Fold(graph, i, conv_index));
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
