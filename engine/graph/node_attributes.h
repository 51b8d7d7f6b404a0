#ifndef QUANTD_ENGINE_GRAPH_NODE_ATTRIBUTES_H_
#define QUANTD_ENGINE_GRAPH_NODE_ATTRIBUTES_H_

// Reading a Node's ONNX attributes with the operator's defaults, and naming
// a node in messages. Shared by the passes and the runtime.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/graph.h"

namespace quantd::engine {

// An attribute that is absent (or of another type) reads as `def`. IntAttr
// and FloatAttr convert between int and float attributes.
int64_t IntAttr(const Node& node, const std::string& name, int64_t def);
float FloatAttr(const Node& node, const std::string& name, float def);
std::string StringAttr(const Node& node, const std::string& name, const std::string& def = "");
std::vector<int64_t> IntsAttr(const Node& node, const std::string& name,
                              std::vector<int64_t> def);
std::vector<float> FloatsAttr(const Node& node, const std::string& name, std::vector<float> def);
// nullopt when the node has no such ints attribute.
std::optional<std::vector<int64_t>> FindIntsAttr(const Node& node, const std::string& name);

// "node 'conv1' (Conv)", the prefix of every message about a node.
std::string NodeLabel(const Node& node);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_NODE_ATTRIBUTES_H_
