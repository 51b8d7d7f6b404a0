#include "engine/export/quantized_values.h"

#include <set>
#include <vector>

namespace quantd::engine {
namespace {

bool IsWeightedOp(const std::string& op) { return op == "Conv" || op == "Gemm" || op == "MatMul"; }

bool IsPooling(const std::string& op) {
  return op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" ||
         op == "GlobalMaxPool";
}

// As in plan_compiler.cc.
bool IsInt8CapableConsumer(const std::string& op) {
  return IsWeightedOp(op) || op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool";
}

bool IsViewOp(const std::string& op) {
  return op == "Flatten" || op == "Reshape" || op == "Identity" || op == "Dropout";
}

bool IsScaleInvariant(const PostOp& op) {
  return op.kind == PostOp::Kind::kRelu || op.kind == PostOp::Kind::kLeakyRelu ||
         op.kind == PostOp::Kind::kClip || op.kind == PostOp::Kind::kSum;
}

class Finder {
 public:
  Finder(const Graph& graph, const CalibrationTable& calibration,
         const QuantizationOptions& options)
      : graph_(graph), calibration_(calibration), options_(options) {
    excluded_ = ExcludedNodes(graph, options);
    for (const Node& node : graph.nodes) {
      for (const std::string& input : node.inputs) {
        if (!input.empty()) consumers_[input].push_back(&node);
      }
      for (const PostOp& op : node.post_ops) {
        if (op.kind == PostOp::Kind::kSum) consumers_[op.sum_input].push_back(&node);
      }
      for (const std::string& output : node.outputs) producer_[output] = &node;
    }
    for (const ValueInfo& output : graph.outputs) graph_outputs_.insert(output.name);
  }

  QuantizedValues Find() {
    QuantizedValues result;
    for (const Node& node : graph_.nodes) {
      if (node.outputs.empty() || node.inputs.empty()) continue;
      const bool excluded = excluded_.count(node.name) > 0;
      if (IsWeightedOp(node.op_type) && !excluded) {
        // Stored grid of the input, else its calibrated grid. An inner
        // product reads a Flatten/Reshape view through to its source; the
        // view holds the same values, so both have the same range.
        std::string source = node.inputs[0];
        if (node.op_type != "Conv") source = ViewSource(source);
        std::optional<ActivationGrid> input = result.StoredGrid(source);
        if (!input) input = Calibrated(node.inputs[0]);
        if (!input) continue;  // runs fp32
        result.int8_node_input[node.name] = *input;
        const std::string& output = node.outputs[0];
        bool scale_invariant = true;
        for (const PostOp& op : node.post_ops) scale_invariant &= IsScaleInvariant(op);
        if (scale_invariant && ConsumersTakeInt8(output)) {
          if (std::optional<ActivationGrid> grid = Calibrated(output)) {
            result.stored[output] = *grid;
          }
        }
      } else if (IsPooling(node.op_type) && !excluded) {
        // Pooling keeps its input's data type and scale.
        if (std::optional<ActivationGrid> grid = result.StoredGrid(node.inputs[0])) {
          result.stored[node.outputs[0]] = *grid;
        }
      }
    }
    return result;
  }

 private:
  std::optional<ActivationGrid> Calibrated(const std::string& value) const {
    const auto it = calibration_.ranges.find(value);
    if (it == calibration_.ranges.end()) return std::nullopt;
    return ActivationGridForRange(it->second, options_);
  }

  std::string ViewSource(const std::string& value) const {
    const auto it = producer_.find(value);
    if (it == producer_.end() || !IsViewOp(it->second->op_type)) return value;
    const std::string& source = it->second->inputs[0];
    const auto source_producer = producer_.find(source);
    // Only one level: the runtime reads through a view of a non-view value.
    if (source_producer != producer_.end() && IsViewOp(source_producer->second->op_type)) {
      return value;
    }
    return source;
  }

  bool ConsumersTakeInt8(const std::string& value) const {
    if (graph_outputs_.count(value) > 0) return false;
    const auto it = consumers_.find(value);
    if (it == consumers_.end() || it->second.empty()) return false;
    for (const Node* consumer : it->second) {
      if (excluded_.count(consumer->name) > 0) return false;
      if (IsViewOp(consumer->op_type)) {
        if (!ConsumersTakeInt8(consumer->outputs[0])) return false;
      } else if (!IsInt8CapableConsumer(consumer->op_type)) {
        return false;
      }
    }
    return true;
  }

  const Graph& graph_;
  const CalibrationTable& calibration_;
  const QuantizationOptions& options_;
  std::set<std::string> excluded_;
  std::map<std::string, std::vector<const Node*>> consumers_;
  std::map<std::string, const Node*> producer_;
  std::set<std::string> graph_outputs_;
};

}  // namespace

std::optional<ActivationGrid> QuantizedValues::StoredGrid(const std::string& value) const {
  const auto it = stored.find(value);
  if (it == stored.end()) return std::nullopt;
  return it->second;
}

QuantizedValues FindQuantizedValues(const Graph& graph, const CalibrationTable& calibration,
                                    const QuantizationOptions& options) {
  return Finder(graph, calibration, options).Find();
}

}  // namespace quantd::engine
