#include "engine/passes/lift_1d_windows.h"

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/passes/graph_rewrite.h"

namespace quantd::engine {
namespace {

bool IsWindowOp(const std::string& op_type) {
  return op_type == "Conv" || op_type == "ConvTranspose" || op_type == "MaxPool" ||
         op_type == "AveragePool";
}

std::vector<int64_t>* IntsAttribute(Node& node, const std::string& name) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return nullptr;
  return std::get_if<std::vector<int64_t>>(&it->second);
}

// Whether `node`'s window has one spatial axis: its kernel_shape says so, or
// for convolutions without one, the rank of its constant weights.
bool IsOneDimensional(const Graph& graph, const Node& node) {
  if (const auto it = node.attributes.find("kernel_shape"); it != node.attributes.end()) {
    const auto* kernel = std::get_if<std::vector<int64_t>>(&it->second);
    return kernel != nullptr && kernel->size() == 1;
  }
  if ((node.op_type == "Conv" || node.op_type == "ConvTranspose") && node.inputs.size() > 1) {
    const auto w = graph.constants.find(node.inputs[1]);
    return w != graph.constants.end() && w->second.dims.size() == 3;
  }
  return false;
}

// The window attributes in 2-D form: height 1, no padding or stride along it.
void LiftAttributes(Node& node) {
  for (const char* name : {"kernel_shape", "strides", "dilations", "output_shape"}) {
    std::vector<int64_t>* v = IntsAttribute(node, name);
    if (v != nullptr && v->size() == 1) v->insert(v->begin(), 1);
  }
  if (std::vector<int64_t>* v = IntsAttribute(node, "output_padding"); v && v->size() == 1) {
    v->insert(v->begin(), 0);
  }
  if (std::vector<int64_t>* pads = IntsAttribute(node, "pads"); pads && pads->size() == 2) {
    *pads = {0, (*pads)[0], 0, (*pads)[1]};
  }
}

// Adds a constant int64 shape and returns its name.
std::string AddShape(Graph& graph, const std::string& base, std::vector<int64_t> shape) {
  const std::string name = UniqueValueName(graph, base);
  Constant constant;
  constant.type = Constant::Type::kInt64;
  constant.dims = {static_cast<int64_t>(shape.size())};
  constant.ints = std::move(shape);
  graph.constants[name] = std::move(constant);
  return name;
}

Node Reshape(Graph& graph, const std::string& node_name, const std::string& input,
             const std::string& shape, const std::string& output) {
  Node reshape;
  reshape.name = UniqueValueName(graph, node_name);
  reshape.op_type = "Reshape";
  reshape.inputs = {input, shape};
  reshape.outputs = {output};
  return reshape;
}

// Rewrites nodes[index] (1-D) into its 2-D form between two Reshapes;
// returns the index of the node after them.
size_t Lift(Graph& graph, size_t index) {
  Node node = graph.nodes[index];
  const std::string to_2d = AddShape(graph, node.name + "/2d_shape", {0, 0, 1, -1});
  const std::string to_1d = AddShape(graph, node.name + "/1d_shape", {0, 0, -1});
  // Every input the window reads as [N, C, L]: X, and a fused residual.
  std::vector<Node> before;
  auto lift_input = [&](const std::string& value, const std::string& role) {
    const std::string lifted = UniqueValueName(graph, node.name + "/" + role + "_2d");
    before.push_back(Reshape(graph, node.name + "/" + role + "_to_2d", value, to_2d, lifted));
    return lifted;
  };
  node.inputs[0] = lift_input(node.inputs[0], "input");
  for (size_t i = 0; i < node.post_ops.size(); ++i) {
    PostOp& op = node.post_ops[i];
    if (!op.sum_input.empty()) op.sum_input = lift_input(op.sum_input, "sum" + std::to_string(i));
  }
  if (node.op_type == "Conv" || node.op_type == "ConvTranspose") {
    const auto w = graph.constants.find(node.inputs[1]);
    if (w != graph.constants.end() && w->second.dims.size() == 3) {
      Constant lifted = w->second;
      lifted.dims.insert(lifted.dims.begin() + 2, 1);
      const std::string name = UniqueValueName(graph, node.inputs[1] + "/2d");
      graph.constants[name] = std::move(lifted);
      node.inputs[1] = name;
    }
  }
  LiftAttributes(node);
  const std::string output = node.outputs[0];
  node.outputs[0] = UniqueValueName(graph, node.name + "/output_2d");
  const Node after = Reshape(graph, node.name + "/to_1d", node.outputs[0], to_1d, output);

  std::vector<Node> replacement = std::move(before);
  replacement.push_back(std::move(node));
  replacement.push_back(after);
  graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(index));
  graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(index), replacement.begin(),
                     replacement.end());
  return index + replacement.size();
}

}  // namespace

absl::Status Lift1dWindowsTo2d(Graph& graph) {
  // Reshape takes its shape as an input from opset 5 on.
  if (graph.opset_version < 5) return absl::OkStatus();
  for (size_t i = 0; i < graph.nodes.size();) {
    const Node& node = graph.nodes[i];
    // MaxPool's optional indices output has no 2-D-to-1-D mapping here.
    const bool lone_output =
        node.outputs.size() == 1 || (node.outputs.size() > 1 && node.outputs[1].empty());
    if (IsWindowOp(node.op_type) && !node.inputs.empty() && lone_output &&
        IsOneDimensional(graph, node)) {
      i = Lift(graph, i);
    } else {
      ++i;
    }
  }
  return absl::OkStatus();
}

}  // namespace quantd::engine
