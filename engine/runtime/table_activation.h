#ifndef QUANTD_ENGINE_RUNTIME_TABLE_ACTIVATION_H_
#define QUANTD_ENGINE_RUNTIME_TABLE_ACTIVATION_H_

// int8 layers whose fused activation is Sigmoid, Tanh, SiLU or HardSwish
// write their raw result on its own calibrated int8 grid, and a 256-entry
// table maps it onto the destination's grid (ByteTable). Evaluated as a
// post-op, SiLU took EfficientNet-B0 at batch 32 about as long as all of its
// int8 convolutions (55 of 136 ms); looked up, a few ms. The raw result
// is rounded once more than with the post-op, as ONNX Runtime and TFLite
// round it (a QDQ pair before the activation); the QDQ export writes that
// pair too.

#include <optional>

#include "engine/graph/graph.h"
#include "engine/runtime/byte_table.h"
#include "engine/runtime/plan.h"

namespace quantd::engine {

class PlanCompiler;

struct TableActivation {
  PostOp activation;       // what the table computes
  QuantParams raw;         // the grid of the layer's raw result
  Node without_activation; // the node to compile: the same, minus the post-op
};

// For an int8 `node` whose result is stored as `dst`: its activation in table
// form, or nullopt (then any activation stays a fused post-op). Needs `dst`
// quantized, the activation to be the node's only post-op and one of those,
// and a calibrated range for the raw result (PostOp::pre_activation).
std::optional<TableActivation> ChooseTableActivation(const PlanCompiler& c, const Node& node,
                                                     QuantParams dst);

// entries[b] = `to`'s byte for activation(the real value of byte b on `from`),
// rounded to nearest (ties to even) and saturated, as oneDNN stores u8/s8.
ByteTable ActivationTable(const PostOp& activation, QuantParams from, QuantParams to);

// The activations a table computes, on real values.
float EvaluateTableActivation(const PostOp& activation, float x);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_TABLE_ACTIVATION_H_
