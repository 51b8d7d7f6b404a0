#include "engine/graph/node_attributes.h"

#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"

namespace quantd::engine {

int64_t IntAttr(const Node& node, const std::string& name, int64_t def) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return def;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return *v;
  if (const auto* f = std::get_if<float>(&it->second)) return static_cast<int64_t>(*f);
  return def;
}

float FloatAttr(const Node& node, const std::string& name, float def) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return def;
  if (const auto* f = std::get_if<float>(&it->second)) return *f;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return static_cast<float>(*v);
  return def;
}

std::string StringAttr(const Node& node, const std::string& name, const std::string& def) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return def;
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  return def;
}

std::vector<int64_t> IntsAttr(const Node& node, const std::string& name,
                              std::vector<int64_t> def) {
  std::optional<std::vector<int64_t>> found = FindIntsAttr(node, name);
  return found ? *std::move(found) : std::move(def);
}

std::vector<float> FloatsAttr(const Node& node, const std::string& name, std::vector<float> def) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return def;
  if (const auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  return def;
}

std::optional<std::vector<int64_t>> FindIntsAttr(const Node& node, const std::string& name) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return std::nullopt;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return std::nullopt;
}

std::string NodeLabel(const Node& node) {
  return absl::StrCat("node '", node.name, "' (", node.op_type, ")");
}

}  // namespace quantd::engine
