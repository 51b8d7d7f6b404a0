#include "engine/graph/supported_ops.h"

#include <algorithm>

namespace quantd::engine {

const std::vector<std::string>& SupportedOps() {
  static const auto* const kOps = new std::vector<std::string>{
      // Mapped onto oneDNN primitives.
      "Conv",
      "ConvTranspose",
      "Gemm",
      "MatMul",
      "MaxPool",
      "AveragePool",
      "GlobalAveragePool",
      "GlobalMaxPool",
      // Element-wise; fused into the producer as post-ops where possible.
      "Relu",
      "Clip",
      "LeakyRelu",
      "Sigmoid",
      "Tanh",
      "HardSigmoid",
      "HardSwish",
      // Binary with ONNX multidirectional broadcasting.
      "Add",
      "Sub",
      "Mul",
      "Div",
      "PRelu",
      "Softmax",
      "LogSoftmax",
      // Data movement (f32, plain layout).
      "Concat",
      "Transpose",
      "Pad",
      "Resize",
      "Upsample",
      // Shape only.
      "Flatten",
      "Reshape",
      // Removed by the standard passes (BatchNormalization only after a Conv).
      "BatchNormalization",
      "Identity",
      "Dropout",
      "Constant",
  };
  return *kOps;
}

bool IsSupportedOp(std::string_view op_type) {
  const std::vector<std::string>& ops = SupportedOps();
  return std::find(ops.begin(), ops.end(), op_type) != ops.end();
}

}  // namespace quantd::engine
