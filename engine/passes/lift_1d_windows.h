#ifndef QUANTD_ENGINE_PASSES_LIFT_1D_WINDOWS_H_
#define QUANTD_ENGINE_PASSES_LIFT_1D_WINDOWS_H_

// 1-D convolutions and pools (Conv1d, ConvTranspose1d, MaxPool1d, AvgPool1d:
// speech and text models) as their 2-D forms over a height of 1. The runtime
// compiles 2-D windows only; each 1-D node becomes
//   Reshape [N, C, L] -> [N, C, 1, L], the 2-D node (kernel [1, k], strides
//   [1, s], pads [0, b, 0, e], dilations [1, d]; weights [.., .., 1, k]),
//   Reshape [N, C', 1, L'] -> [N, C', L'],
// with the node's output name on the last Reshape. Reshapes of runtime values
// are views: nothing is copied.

#include "absl/status/status.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

absl::Status Lift1dWindowsTo2d(Graph& graph);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_LIFT_1D_WINDOWS_H_
