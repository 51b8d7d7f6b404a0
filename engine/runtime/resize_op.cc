// Resize (opset 10-18 without antialias) and Upsample (7-9), 2-D spatial, as
// oneDNN resampling (on int8 values in int8 Plans, keeping their grid), for
// the combinations whose coordinate mapping matches oneDNN's half-pixel one
// exactly:
//  - linear with coordinate_transformation_mode half_pixel (or
//    pytorch_half_pixel, the same while every output size is > 1);
//  - nearest with integer upscale factors and half_pixel + round_prefer_* or
//    asymmetric + floor (Resize 10's and Upsample's only behaviour).
// Output sizes must be exactly input * scale. Anything else is Unimplemented.

#include <cmath>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
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

// The output dims from the scales (Upsample 7: attribute; Upsample 9 and
// Resize 10: input 1; Resize 11+: input 2) or sizes (Resize 11+: input 3).
absl::StatusOr<std::vector<int64_t>> OutputDims(const ShapeContext& shapes, const Node& node,
                                                const std::vector<int64_t>& in) {
  const bool legacy = LegacyResize(shapes, node);
  const Constant* scales_input = OptionalInput(shapes, node, legacy ? 1 : 2);
  const Constant* sizes = legacy ? nullptr : OptionalInput(shapes, node, 3);
  if (sizes != nullptr && sizes->type == Constant::Type::kInt64 &&
      sizes->ints.size() == in.size()) {
    return sizes->ints;
  }
  std::vector<float> attribute_scales;
  if (const auto it = node.attributes.find("scales"); it != node.attributes.end()) {
    if (const auto* v = std::get_if<std::vector<float>>(&it->second)) attribute_scales = *v;
  }
  const Constant* scales = scales_input;
  Constant from_attribute;
  if (scales == nullptr && node.op_type == "Upsample" && !attribute_scales.empty()) {
    from_attribute.dims = {static_cast<int64_t>(attribute_scales.size())};
    from_attribute.floats = attribute_scales;
    scales = &from_attribute;
  }
  if (scales != nullptr && scales->type == Constant::Type::kFloat32 &&
      scales->floats.size() == in.size()) {
    std::vector<int64_t> out(in.size());
    for (size_t d = 0; d < in.size(); ++d) {
      const double exact = in[d] * static_cast<double>(scales->floats[d]);
      if (std::fabs(exact - std::round(exact)) > 1e-4) {
        return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": scale ", scales->floats[d],
                                                     " does not give a whole size for ", in[d]));
      }
      out[d] = static_cast<int64_t>(std::round(exact));
    }
    return out;
  }
  return absl::UnimplementedError(absl::StrCat(
      NodeLabel(node), ": scales or sizes must be a constant with one entry per dimension"));
}

absl::StatusOr<std::vector<Shape>> ResizeShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs X"));
  }
  ASSIGN_OR_RETURN(Shape out, OutputDims(shapes, node, *in));
  return std::vector<Shape>{std::move(out)};
}

absl::Status CompileResize(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, node.op_type == "Upsample" ? 1 : 2));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> in = c.Dims(x);
  if (in.size() != 4) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": only 2-D (4-D tensor) resizing is supported"));
  }
  ASSIGN_OR_RETURN(const std::vector<int64_t> out, OutputDims(c.shapes(), node, in));
  if (out[0] != in[0] || out[1] != in[1] || out[2] <= 0 || out[3] <= 0) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": resizing [",
                                                 absl::StrJoin(in, ","), "] to [",
                                                 absl::StrJoin(out, ","), "]"));
  }
  const bool opset10 = LegacyResize(c.shapes(), node);
  const std::string mode = StringAttr(node, "mode", "nearest");
  const std::string transform =
      opset10 ? "asymmetric" : StringAttr(node, "coordinate_transformation_mode", "half_pixel");
  const std::string nearest_mode =
      opset10 ? "floor" : StringAttr(node, "nearest_mode", "round_prefer_floor");
  if (IntAttr(node, "antialias", 0) != 0) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": antialias"));
  }
  dnnl::algorithm algorithm;
  if (mode == "linear") {
    const bool half_pixel = transform == "half_pixel" ||
                            (transform == "pytorch_half_pixel" && out[2] > 1 && out[3] > 1);
    if (!half_pixel) {
      return absl::UnimplementedError(absl::StrCat(
          NodeLabel(node), ": linear with coordinate_transformation_mode '", transform, "'"));
    }
    algorithm = dnnl::algorithm::resampling_linear;
  } else if (mode == "nearest") {
    const bool integer_upscale = out[2] % in[2] == 0 && out[3] % in[3] == 0;
    const bool matches =
        (transform == "half_pixel" && nearest_mode.rfind("round_prefer", 0) == 0) ||
        (transform == "asymmetric" && nearest_mode == "floor");
    if (!integer_upscale || !matches) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": nearest with coordinate_transformation_mode '",
                       transform, "', nearest_mode '", nearest_mode, "' and [",
                       absl::StrJoin(in, ","), "] -> [", absl::StrJoin(out, ","), "]"));
    }
    algorithm = dnnl::algorithm::resampling_nearest;
  } else {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": mode '", mode, "'"));
  }
  // int8 values are resampled as they are: nearest copies values, linear
  // interpolates them, so the output keeps the input's grid.
  QuantParams quant = c.Quant(x);
  if (c.Excluded(node)) quant = QuantParams{};
  ASSIGN_OR_RETURN(memory::desc src_desc, c.CurrentDesc(x));
  src_desc.data.data_type = memory::convert_to_c(quant.type);
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, src_desc, quant.scale, node.name));
  try {
    const memory::desc dst_md(out, quant.type, memory::format_tag::any);
    const dnnl::resampling_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm,
                                              src_desc, dst_md);
    const dnnl::resampling_forward::primitive_desc pd(desc, StepAttr(), c.engine());
    const int dst_buffer = c.AddBuffer(pd.dst_desc());
    c.AddStep(node.name, dnnl::resampling_forward(pd),
              {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}});
    c.DefineValue(node.outputs[0], out, dst_buffer, quant);
    // Simulated Plans: nearest keeps its input on its grid.
    if (c.simulated() && !c.Excluded(node) && algorithm == dnnl::algorithm::resampling_nearest) {
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
