#include "engine/passes/graph_rewrite.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace quantd::engine {
namespace {

bool IsNameTaken(const Graph& graph, std::string_view name) {
  if (graph.constants.count(std::string(name)) > 0) return true;
  for (const ValueInfo& input : graph.inputs) {
    if (input.name == name) return true;
  }
  if (IsGraphOutput(graph, name)) return true;
  for (const Node& node : graph.nodes) {
    if (node.name == name) return true;
    for (const std::string& output : node.outputs) {
      if (output == name) return true;
    }
  }
  return false;
}

}  // namespace

int CountValueUses(const Graph& graph, std::string_view value) {
  int uses = 0;
  for (const Node& node : graph.nodes) {
    for (const std::string& input : node.inputs) uses += input == value;
    for (const PostOp& post_op : node.post_ops) {
      uses += post_op.kind == PostOp::Kind::kSum && post_op.sum_input == value;
    }
  }
  return uses;
}

bool IsGraphOutput(const Graph& graph, std::string_view value) {
  for (const ValueInfo& output : graph.outputs) {
    if (output.name == value) return true;
  }
  return false;
}

int FindProducer(const Graph& graph, std::string_view value) {
  if (value.empty()) return -1;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& output : graph.nodes[i].outputs) {
      if (output == value) return static_cast<int>(i);
    }
  }
  return -1;
}

void ReplaceValueUses(Graph& graph, std::string from, std::string to) {
  for (Node& node : graph.nodes) {
    for (std::string& input : node.inputs) {
      if (input == from) input = to;
    }
    for (PostOp& post_op : node.post_ops) {
      if (post_op.kind == PostOp::Kind::kSum && post_op.sum_input == from) {
        post_op.sum_input = to;
      }
    }
  }
}

std::string UniqueValueName(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int suffix = 1; IsNameTaken(graph, name); ++suffix) {
    name = absl::StrCat(base, "_", suffix);
  }
  return name;
}

bool IsScalar(const Graph& graph, const std::string& name, float value) {
  const auto it = graph.constants.find(name);
  return it != graph.constants.end() && it->second.type == Constant::Type::kFloat32 &&
         it->second.floats.size() == 1 && std::fabs(it->second.floats[0] - value) <= 1e-6f;
}

const Node* InnerProducer(const Graph& graph, const std::string& value, const char* op_type,
                          int uses) {
  const int index = FindProducer(graph, value);
  if (index < 0 || CountValueUses(graph, value) != uses || IsGraphOutput(graph, value)) {
    return nullptr;
  }
  const Node& node = graph.nodes[index];
  if (node.op_type != op_type || node.outputs.size() != 1) return nullptr;
  return &node;
}

void EraseNodesProducing(Graph& graph, const std::set<std::string>& values) {
  graph.nodes.erase(std::remove_if(graph.nodes.begin(), graph.nodes.end(),
                                   [&](const Node& node) {
                                     if (node.outputs.empty()) return false;
                                     for (const std::string& output : node.outputs) {
                                       if (values.count(output) == 0) return false;
                                     }
                                     return true;
                                   }),
                    graph.nodes.end());
}

}  // namespace quantd::engine
