#include "engine/graph/supported_ops.h"

#include <algorithm>

namespace quantd::engine {

const std::vector<std::string>& SupportedOps() {
  static const auto* const kOps = new std::vector<std::string>{
      // Mapped onto oneDNN primitives.
      "Conv",
      "Gemm",
      "MatMul",
      "MaxPool",
      "AveragePool",
      "GlobalAveragePool",
      // Element-wise; fused into the producer as post-ops where possible.
      "Relu",
      "Clip",
      "Add",
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
