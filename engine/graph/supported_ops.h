#ifndef QUANTD_ENGINE_GRAPH_SUPPORTED_OPS_H_
#define QUANTD_ENGINE_GRAPH_SUPPORTED_OPS_H_

#include <string>
#include <string_view>
#include <vector>

namespace quantd::engine {

// The ONNX operators (default domain) quantd accepts. The runtime implements
// exactly these after the standard passes; Constant, Identity, Dropout and
// BatchNormalization (after a Conv) are removed by those passes.
const std::vector<std::string>& SupportedOps();

bool IsSupportedOp(std::string_view op_type);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_SUPPORTED_OPS_H_
