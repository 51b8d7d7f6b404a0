// Resize (opset 10-18 without antialias) and Upsample (7-9), 2-D spatial.
// Where oneDNN's resampling computes exactly what ONNX defines (half-pixel
// coordinates with out / in as the scale: linear half_pixel or
// pytorch_half_pixel, nearest upscaling by whole factors with half_pixel +
// round_prefer_* or asymmetric + floor), a oneDNN step, on int8 values in
// int8 Plans (keeping their grid). Every other mode, transform and scale:
// f32 by quantd's own kernel (resize_kernel.h).

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/resize_kernel.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

const Constant* OptionalInput(const ShapeContext& shapes, const Node& node, size_t i) {
  return node.inputs.size() > i && !node.inputs[i].empty() ? shapes.FindConstant(node.inputs[i])
                                                           : nullptr;
}

// Opset-10 semantics (asymmetric coordinates, floor for nearest): Resize
// before opset 11 and Upsample (opsets 7-9, deprecated since 10).
bool LegacyResize(const ShapeContext& shapes, const Node& node) {
  return node.op_type == "Upsample" || shapes.opset_version() < 11;
}

// Resized axes longer than this are refused: a model's scales must not make
// the server allocate without bound.
constexpr int64_t kMaxResizedDim = int64_t{1} << 16;

// Where a resize maps its output: dims, and per axis the scale ONNX maps
// coordinates with (the given one; out / in when sizes are given) and the
// region of interest (tf_crop_and_resize).
struct ResizeGeometry {
  std::vector<int64_t> out;
  std::vector<double> scale;
  std::vector<double> roi_start, roi_end;
};

// The scales (Upsample 7: attribute; Upsample 9 and Resize 10: input 1;
// Resize 11+: input 2) or sizes (Resize 11+: input 3), and the roi (Resize
// 11+: input 1, read for tf_crop_and_resize only).
absl::StatusOr<ResizeGeometry> ComputeResizeGeometry(const ShapeContext& shapes, const Node& node,
                                                     const std::vector<int64_t>& in) {
  const size_t rank = in.size();
  const bool legacy = LegacyResize(shapes, node);
  ResizeGeometry g;
  g.roi_start.assign(rank, 0.0);
  g.roi_end.assign(rank, 1.0);
  if (!legacy && StringAttr(node, "coordinate_transformation_mode", "") == "tf_crop_and_resize") {
    const Constant* roi = OptionalInput(shapes, node, 1);
    if (roi == nullptr || roi->type != Constant::Type::kFloat32 || roi->floats.size() != 2 * rank) {
      return absl::UnimplementedError(absl::StrCat(
          NodeLabel(node), ": tf_crop_and_resize needs a constant roi of ", 2 * rank, " floats"));
    }
    for (size_t d = 0; d < rank; ++d) {
      g.roi_start[d] = roi->floats[d];
      g.roi_end[d] = roi->floats[d + rank];
    }
  }
  const Constant* sizes = legacy ? nullptr : OptionalInput(shapes, node, 3);
  if (sizes != nullptr && sizes->type == Constant::Type::kInt64 && sizes->ints.size() == rank) {
    g.out = sizes->ints;
    for (size_t d = 0; d < rank; ++d) {
      if (g.out[d] <= 0 || in[d] <= 0 || g.out[d] > kMaxResizedDim) {
        return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": sizes [",
                                                       absl::StrJoin(g.out, ","), "] for [",
                                                       absl::StrJoin(in, ","), "]"));
      }
      g.scale.push_back(double(g.out[d]) / double(in[d]));
    }
    return g;
  }
  std::vector<float> attribute_scales;
  if (const auto it = node.attributes.find("scales"); it != node.attributes.end()) {
    if (const auto* v = std::get_if<std::vector<float>>(&it->second)) attribute_scales = *v;
  }
  const Constant* scales = OptionalInput(shapes, node, legacy ? 1 : 2);
  Constant from_attribute;
  if (scales == nullptr && node.op_type == "Upsample" && !attribute_scales.empty()) {
    from_attribute.dims = {static_cast<int64_t>(attribute_scales.size())};
    from_attribute.floats = attribute_scales;
    scales = &from_attribute;
  }
  if (scales == nullptr || scales->type != Constant::Type::kFloat32 ||
      scales->floats.size() != rank) {
    return absl::UnimplementedError(absl::StrCat(
        NodeLabel(node), ": scales or sizes must be a constant with one entry per dimension"));
  }
  for (size_t d = 0; d < rank; ++d) {
    const double scale = scales->floats[d];
    // ONNX: floor(in * (roi_end - roi_start) * scale); within 1e-4 of a whole
    // number it is that number (0.6 * 5 is 2.9999999 in floats).
    const double exact = in[d] * (g.roi_end[d] - g.roi_start[d]) * scale;
    const int64_t out = std::fabs(exact - std::round(exact)) <= 1e-4
                            ? static_cast<int64_t>(std::round(exact))
                            : static_cast<int64_t>(std::floor(exact));
    if (!(scale > 0) || out <= 0 || out > kMaxResizedDim) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": scale ", scale, " resizes ", in[d], " to ", out));
    }
    g.out.push_back(out);
    g.scale.push_back(scale);
  }
  return g;
}

absl::StatusOr<std::vector<Shape>> ResizeShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X"));
  }
  ASSIGN_OR_RETURN(ResizeGeometry geometry, ComputeResizeGeometry(shapes, node, *in));
  return std::vector<Shape>{std::move(geometry.out)};
}

ResizeMode ReadResizeMode(const ShapeContext& shapes, const Node& node) {
  const bool opset10 = LegacyResize(shapes, node);
  ResizeMode mode;
  mode.mode = StringAttr(node, "mode", "nearest");
  mode.transform =
      opset10 ? "asymmetric" : StringAttr(node, "coordinate_transformation_mode", "half_pixel");
  mode.nearest_mode = opset10 ? "floor" : StringAttr(node, "nearest_mode", "round_prefer_floor");
  mode.cubic_coeff_a = FloatAttr(node, "cubic_coeff_a", -0.75f);
  mode.exclude_outside = IntAttr(node, "exclude_outside", 0) != 0;
  mode.extrapolation_value = FloatAttr(node, "extrapolation_value", 0.0f);
  return mode;
}

// The oneDNN resampling algorithm computing exactly this resize, if any:
// oneDNN maps coordinates half-pixel with out / in as the scale.
std::optional<dnnl::algorithm> OneDnnAlgorithm(const ResizeMode& mode,
                                               const std::vector<int64_t>& in,
                                               const ResizeGeometry& g) {
  for (size_t d = 2; d < in.size(); ++d) {
    if (g.scale[d] != double(g.out[d]) / double(in[d])) return std::nullopt;
  }
  if (mode.mode == "linear") {
    const bool half_pixel =
        mode.transform == "half_pixel" ||
        (mode.transform == "pytorch_half_pixel" && g.out[2] > 1 && g.out[3] > 1);
    if (half_pixel) return dnnl::algorithm::resampling_linear;
  } else if (mode.mode == "nearest") {
    const bool integer_upscale = g.out[2] % in[2] == 0 && g.out[3] % in[3] == 0;
    const bool matches =
        (mode.transform == "half_pixel" && mode.nearest_mode.rfind("round_prefer", 0) == 0) ||
        (mode.transform == "asymmetric" && mode.nearest_mode == "floor");
    if (integer_upscale && matches) return dnnl::algorithm::resampling_nearest;
  }
  return std::nullopt;
}

// f32 by quantd's own kernel (resize_kernel.h), from plain layout.
absl::Status CompileResizeOnHost(PlanCompiler& c, const Node& node, const ResizeMode& mode,
                                 const ResizeGeometry& g) {
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> in = c.Dims(x);
  absl::StatusOr<AxisTaps> rows =
      ComputeAxisTaps(mode, in[2], g.out[2], g.scale[2], g.roi_start[2], g.roi_end[2]);
  absl::StatusOr<AxisTaps> columns =
      ComputeAxisTaps(mode, in[3], g.out[3], g.scale[3], g.roi_start[3], g.roi_end[3]);
  for (const absl::Status& status : {rows.status(), columns.status()}) {
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(NodeLabel(node), ": ", status.message()));
    }
  }
  const memory::desc plain(in, memory::data_type::f32, memory::format_tag::abcd);
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer =
      c.AddBuffer(memory::desc(g.out, memory::data_type::f32, memory::format_tag::abcd));
  c.AddHostStep(node.name,
                std::make_shared<const ResizeKernel>(in[0] * in[1], in[2], in[3], *std::move(rows),
                                                     *std::move(columns), mode.extrapolation_value),
                src_buffer, dst_buffer);
  c.DefineValue(node.outputs[0], g.out, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

absl::Status CompileResize(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, node.op_type == "Upsample" ? 1 : 2));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> in = c.Dims(x);
  if (in.size() != 4) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": only 2-D (4-D tensor) resizing is supported"));
  }
  ASSIGN_OR_RETURN(const ResizeGeometry g, ComputeResizeGeometry(c.shapes(), node, in));
  const std::vector<int64_t>& out = g.out;
  if (out[0] != in[0] || out[1] != in[1]) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": resizing [",
                                                 absl::StrJoin(in, ","), "] to [",
                                                 absl::StrJoin(out, ","), "]"));
  }
  if (IntAttr(node, "antialias", 0) != 0) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": antialias"));
  }
  const ResizeMode mode = ReadResizeMode(c.shapes(), node);
  const std::optional<dnnl::algorithm> algorithm = OneDnnAlgorithm(mode, in, g);
  if (!algorithm) return CompileResizeOnHost(c, node, mode, g);
  // int8 values are resampled as they are: nearest copies values, linear
  // interpolates them, so the output keeps the input's grid.
  QuantParams quant = c.Quant(x);
  if (c.Excluded(node)) quant = QuantParams{};
  ASSIGN_OR_RETURN(memory::desc src_desc, c.CurrentDesc(x));
  src_desc.data.data_type = memory::convert_to_c(quant.type);
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, src_desc, quant.scale, node.name));
  try {
    const memory::desc dst_md(out, quant.type, memory::format_tag::any);
    const dnnl::resampling_forward::desc desc(dnnl::prop_kind::forward_inference, *algorithm,
                                              src_desc, dst_md);
    const dnnl::resampling_forward::primitive_desc pd(desc, StepAttr(), c.engine());
    const int dst_buffer = c.AddBuffer(pd.dst_desc());
    c.AddStep(node.name, dnnl::resampling_forward(pd),
              {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], out, dst_buffer, quant);
    // Simulated Plans: nearest keeps its input on its grid.
    if (c.simulated() && !c.Excluded(node) && *algorithm == dnnl::algorithm::resampling_nearest) {
      if (const std::optional<ActivationGrid> grid = c.Grid(x)) c.SetGrid(node.outputs[0], *grid);
    }
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterResizeOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"Resize", "Upsample"}) {
    ops.push_back({.op_type = op_type,
                   .shape = ResizeShape,
                   .compile = CompileResize,
                   .int8_input = Int8FirstInput});
  }
}

}  // namespace quantd::engine
