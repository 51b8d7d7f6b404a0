#ifndef QUANTD_ENGINE_GRAPH_BATCH_NORM_AFFINE_H_
#define QUANTD_ENGINE_GRAPH_BATCH_NORM_AFFINE_H_

// An inference-mode BatchNormalization is a per-channel affine map,
// y = scale[c] * x + shift[c] with scale = gamma / sqrt(var + epsilon) and
// shift = beta - mean * scale. Folding it into a Conv, running it as a 1x1
// depthwise convolution and exporting that convolution all use this one
// computation.

#include <vector>

#include "engine/graph/graph.h"

namespace quantd::engine {

struct ChannelAffine {
  std::vector<double> scale;
  std::vector<double> shift;
};

// The parameters are float constants of one element per channel (the
// caller checks). epsilon is the node's attribute (default 1e-5, every opset).
ChannelAffine BatchNormAffine(const Node& bn, const Constant& gamma, const Constant& beta,
                              const Constant& mean, const Constant& var);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_BATCH_NORM_AFFINE_H_
