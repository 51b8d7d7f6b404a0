#ifndef QUANTD_ENGINE_GRAPH_WINDOW_GEOMETRY_H_
#define QUANTD_ENGINE_GRAPH_WINDOW_GEOMETRY_H_

// Output size and padding of a sliding window (Conv, MaxPool, AveragePool) per
// spatial axis, as ONNX defines them (Conv-11, MaxPool-12, AveragePool-19
// formulas). The one copy of this arithmetic: shape inference, the runtime's
// convolution and pooling, and load-time constant folding all use it.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

struct WindowAttributes {
  std::vector<int64_t> kernel;     // one entry per spatial axis
  std::vector<int64_t> strides;    // default 1
  std::vector<int64_t> dilations;  // default 1
  std::vector<int64_t> pads;       // begin of every axis, then end of every axis; default 0
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;  // pooling only
};

// Reads the window attributes of `node` for a kernel of `kernel` (the weight's
// spatial dims for Conv, ignored when the node has kernel_shape).
// INVALID_ARGUMENT names the node when the attributes disagree in length.
absl::StatusOr<WindowAttributes> ReadWindowAttributes(const Node& node,
                                                      const std::vector<int64_t>& kernel);

struct WindowGeometry {
  std::vector<int64_t> out;        // output size per spatial axis
  std::vector<int64_t> pad_begin;  // as ONNX pads them (auto_pad resolved)
  std::vector<int64_t> pad_end;
};

// For input spatial sizes `in`. A ceil_mode window that would start beyond
// the input and its begin padding is dropped (as PyTorch and the ONNX
// reference do). INVALID_ARGUMENT when the input is too small for the window.
absl::StatusOr<WindowGeometry> ComputeWindowGeometry(const Node& node,
                                                     const WindowAttributes& window,
                                                     const std::vector<int64_t>& in);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_WINDOW_GEOMETRY_H_
