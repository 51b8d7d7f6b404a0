#ifndef QUANTD_ENGINE_RUNTIME_SHAPE_INFERENCE_H_
#define QUANTD_ENGINE_RUNTIME_SHAPE_INFERENCE_H_

// Every value's dims for one concrete shape of each graph input, from the op
// registry's shape rules, before anything is compiled. Nodes whose outputs
// follow from constants and the input shapes alone (exporters' shape
// arithmetic around a dynamic batch: Shape -> Gather -> Unsqueeze -> Concat
// -> Reshape) are evaluated into constants of these shapes instead, under the
// element caps of engine/passes/constant_evaluation.h. The Plan compiler runs it for each set
// of input shapes it compiles; InspectModel runs it at upload, so a model that
// cannot run (or would allocate without bound) is refused before anyone calls
// Infer. Free of oneDNN.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/runtime/op_registry.h"

namespace quantd::engine {

class ShapeInference final : public ShapeContext {
 public:
  explicit ShapeInference(const Graph& graph) : graph_(graph) {}

  // Infers (and evaluates) every node for `input_shapes`, one per graph
  // input in graph order. Errors name the node: INVALID_ARGUMENT for
  // malformed nodes and results beyond the element caps, UNIMPLEMENTED for
  // ops quantd does not run.
  absl::Status Run(const std::vector<std::vector<int64_t>>& input_shapes);

  // ShapeContext: inferred runtime values, then graph constants, then
  // constants made for these input shapes.
  const std::vector<int64_t>* Dims(const std::string& value) const override;
  const Constant* FindConstant(const std::string& value) const override;
  int64_t opset_version() const override { return graph_.opset_version; }

  // The dims of a runtime value (nullptr for constants and unknown names).
  const std::vector<int64_t>* RuntimeDims(const std::string& value) const;
  // Whether `node` was evaluated into constants (it needs no step).
  bool Evaluated(const Node& node) const { return evaluated_.count(&node) > 0; }
  // Adds a constant for these input shapes (e.g. the weights of an op compiled
  // as a convolution); returns its name, unique in the graph.
  std::string AddConstant(const std::string& name_hint, Constant constant);

 private:
  // Evaluates `node` into constants if it can; returns whether it did.
  absl::StatusOr<bool> Evaluate(const Node& node);

  const Graph& graph_;
  std::map<std::string, std::vector<int64_t>> dims_;
  std::map<std::string, Constant> constants_;
  std::set<const Node*> evaluated_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_SHAPE_INFERENCE_H_
