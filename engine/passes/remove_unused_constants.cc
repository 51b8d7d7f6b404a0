#include "engine/passes/remove_unused_constants.h"

#include <set>
#include <string>

namespace quantd::engine {

absl::Status RemoveUnusedConstants(Graph& graph) {
  std::set<std::string> referenced;
  for (const Node& node : graph.nodes) {
    referenced.insert(node.inputs.begin(), node.inputs.end());
    for (const PostOp& post_op : node.post_ops) {
      if (post_op.kind == PostOp::Kind::kSum) {
        referenced.insert(post_op.sum_input);
      }
    }
  }
  for (const ValueInfo& output : graph.outputs) referenced.insert(output.name);
  std::erase_if(graph.constants,
                [&](const auto& entry) { return referenced.count(entry.first) == 0; });
  return absl::OkStatus();
}

}  // namespace quantd::engine
