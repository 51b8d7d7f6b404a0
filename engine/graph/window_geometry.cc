#include "engine/graph/window_geometry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/node_attributes.h"

namespace quantd::engine {

absl::StatusOr<WindowAttributes> ReadWindowAttributes(const Node& node,
                                                      const std::vector<int64_t>& kernel) {
  WindowAttributes w;
  w.kernel = IntsAttr(node, "kernel_shape", kernel);
  const size_t spatial = w.kernel.size();
  w.strides = IntsAttr(node, "strides", std::vector<int64_t>(spatial, 1));
  w.dilations = IntsAttr(node, "dilations", std::vector<int64_t>(spatial, 1));
  w.pads = IntsAttr(node, "pads", std::vector<int64_t>(2 * spatial, 0));
  w.auto_pad = StringAttr(node, "auto_pad", "NOTSET");
  w.ceil_mode = IntAttr(node, "ceil_mode", 0) != 0;
  if (spatial == 0 || w.strides.size() != spatial || w.dilations.size() != spatial ||
      w.pads.size() != 2 * spatial) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": kernel_shape [", absl::StrJoin(w.kernel, ","),
                     "], strides, dilations and pads must describe the same spatial axes"));
  }
  for (size_t i = 0; i < spatial; ++i) {
    if (w.kernel[i] <= 0 || w.strides[i] <= 0 || w.dilations[i] <= 0 || w.pads[i] < 0 ||
        w.pads[i + spatial] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": kernel, strides and dilations must be positive and "
                                        "pads non-negative"));
    }
  }
  if (w.auto_pad != "NOTSET" && w.auto_pad != "VALID" && w.auto_pad != "SAME_UPPER" &&
      w.auto_pad != "SAME_LOWER") {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": unknown auto_pad '", w.auto_pad, "'"));
  }
  return w;
}

absl::StatusOr<WindowGeometry> ComputeWindowGeometry(const Node& node,
                                                     const WindowAttributes& window,
                                                     const std::vector<int64_t>& in) {
  const size_t spatial = window.kernel.size();
  if (in.size() != spatial) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input has ", in.size(),
                                                   " spatial axes, the window ", spatial));
  }
  WindowGeometry g;
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t stride = window.strides[i];
    const int64_t extent = (window.kernel[i] - 1) * window.dilations[i] + 1;
    int64_t begin = window.pads[i], end = window.pads[i + spatial], out = 0;
    if (window.auto_pad == "SAME_UPPER" || window.auto_pad == "SAME_LOWER") {
      out = (in[i] + stride - 1) / stride;
      const int64_t total = std::max<int64_t>(0, (out - 1) * stride + extent - in[i]);
      begin = window.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      end = total - begin;
    } else {
      if (window.auto_pad == "VALID") begin = end = 0;
      const int64_t span = in[i] + begin + end - extent;
      out = span < 0 ? 0 : (window.ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
      if (window.ceil_mode && out > 0 && (out - 1) * stride >= in[i] + begin) --out;
    }
    if (out <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input size ", in[i], " on spatial axis ", i,
                       " is too small for a window of ", extent, " with pads ", begin, "+", end));
    }
    g.out.push_back(out);
    g.pad_begin.push_back(begin);
    g.pad_end.push_back(end);
  }
  return g;
}

}  // namespace quantd::engine
