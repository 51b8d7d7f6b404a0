#ifndef QUANTD_ENGINE_PASSES_COLLAPSE_LAYER_NORM_H_
#define QUANTD_ENGINE_PASSES_COLLAPSE_LAYER_NORM_H_

// Layer normalization over the last axis as PyTorch exports F.layer_norm
// before opset 17 (ConvNeXt, ViT, most transformers):
//
//   mean = ReduceMean(x, axes=[-1])      d = Sub(x, mean)
//   var  = ReduceMean(Pow(d, 2), axes=[-1])
//   n    = Div(d, Sqrt(Add(var, eps)))    y = Add(Mul(n, gamma), beta)
//
// becomes one LayerNormalization(x, gamma, beta) node (opset 17's op; axis
// -1, epsilon eps) with y's name, which runs as one oneDNN primitive instead
// of nine passes over the tensor. Mul and Add may have their operands either
// way round; gamma and beta must be constants. The inner values must have no
// other readers.

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

absl::Status CollapseLayerNorm(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_COLLAPSE_LAYER_NORM_H_
