#ifndef QUANTD_ENGINE_RUNTIME_BATCHED_MATMUL_H_
#define QUANTD_ENGINE_RUNTIME_BATCHED_MATMUL_H_

// MatMul of two runtime values (attention's Q x K^T and weights x V): one
// oneDNN matmul primitive in f32 on plain layouts, batch axes broadcast as
// ONNX (numpy) does. MatMul by a constant B is an inner product instead
// (inner_product_op.cc), which also runs int8.

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

class PlanCompiler;

absl::Status CompileBatchedMatMul(PlanCompiler& c, const Node& node);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_BATCHED_MATMUL_H_
