// How quantd creates oneDNN steps: user-managed scratchpads, oneDNN errors as
// absl::Status naming the node, plain layout tags per rank.

#include <string>

#include "absl/strings/str_cat.h"
#include "engine/runtime/plan_compiler.h"

namespace quantd::engine {

using dnnl::memory;

dnnl::primitive_attr StepAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

absl::Status DnnlError(const Node& node, const dnnl::error& e) {
  const std::string message = absl::StrCat(NodeLabel(node), ": oneDNN: ", e.what());
  // oneDNN says "unimplemented" when it has no kernel for this combination of
  // shapes, types and attributes: the model is valid, quantd cannot run it.
  if (e.status == dnnl_unimplemented) return absl::UnimplementedError(message);
  if (e.status == dnnl_invalid_arguments) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
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
