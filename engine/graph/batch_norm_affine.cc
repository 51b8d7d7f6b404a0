#include "engine/graph/batch_norm_affine.h"

#include <cmath>

#include "engine/graph/node_attributes.h"

namespace quantd::engine {

ChannelAffine BatchNormAffine(const Node& bn, const Constant& gamma, const Constant& beta,
                              const Constant& mean, const Constant& var) {
  const double epsilon = FloatAttr(bn, "epsilon", 1e-5f);
  ChannelAffine affine;
  for (size_t c = 0; c < gamma.floats.size(); ++c) {
    const double scale = gamma.floats[c] / std::sqrt(static_cast<double>(var.floats[c]) + epsilon);
    affine.scale.push_back(scale);
    affine.shift.push_back(beta.floats[c] - mean.floats[c] * scale);
  }
  return affine;
}

}  // namespace quantd::engine
