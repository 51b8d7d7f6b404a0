// Small accessors the operator files share: ONNX attributes with defaults,
// node labels for messages, oneDNN error translation.

#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/plan_compiler.h"

namespace quantd::engine {

using dnnl::memory;

dnnl::primitive_attr StepAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

std::string NodeLabel(const Node& node) {
  return absl::StrCat("node '", node.name, "' (", node.op_type, ")");
}

absl::Status DnnlError(const Node& node, const dnnl::error& e) {
  const std::string message = absl::StrCat(NodeLabel(node), ": oneDNN: ", e.what());
  // oneDNN says "unimplemented" when it has no kernel for this combination of
  // shapes, types and attributes: the model is valid, quantd cannot run it.
  if (e.status == dnnl_unimplemented) return absl::UnimplementedError(message);
  if (e.status == dnnl_invalid_arguments) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

absl::Status RequireRuntimeInput(PlanCompiler& c, const Node& node, size_t min_inputs) {
  if (node.inputs.size() < min_inputs || node.outputs.empty() || node.inputs[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": needs ", min_inputs, " input(s) and an output"));
  }
  if (!c.HasValue(node.inputs[0])) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input '", node.inputs[0],
                                                 "' is a constant; the runtime computes only on "
                                                 "values derived from the graph input"));
  }
  return absl::OkStatus();
}

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

std::vector<int64_t> IntsAttr(const Node& node, const std::string& name, std::vector<int64_t> def) {
  const auto it = node.attributes.find(name);
  if (it == node.attributes.end()) return def;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return def;
}

memory::format_tag PlainTag(size_t rank) {
  switch (rank) {
    case 1:
      return memory::format_tag::a;
    case 2:
      return memory::format_tag::ab;
    case 3:
      return memory::format_tag::abc;
    case 4:
      return memory::format_tag::abcd;
    case 5:
      return memory::format_tag::abcde;
    case 6:
      return memory::format_tag::abcdef;
    default:
      return memory::format_tag::undef;
  }
}

}  // namespace quantd::engine
