// Ops the runtime computes only on constants and on the input's shape, never
// on tensor values: exporters' shape arithmetic around a dynamic batch or
// image size (Shape -> Gather -> Unsqueeze -> Concat -> Reshape; Gather also
// runs on runtime values, slice_op.cc). When a Plan
// is compiled for an input shape they are evaluated into constants of that
// Plan (PlanCompiler::InferShapes, engine/passes/constant_evaluation.h, with
// its element caps), so they need no shape rule and no compile function; a
// node of these ops whose input is computed from the input's values is
// refused as UNIMPLEMENTED. (Equal is evaluated the same way on constants and
// runs as a comparison on runtime values, binary_op.cc.)

#include "engine/runtime/op_registry.h"

namespace quantd::engine {

void RegisterShapeOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type :
       {"Shape", "Size", "Cast", "Range", "ConstantOfShape", "Expand", "Where"}) {
    ops.push_back({.op_type = op_type});
  }
}

}  // namespace quantd::engine
