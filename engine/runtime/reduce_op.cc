// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
// ReduceL2, ReduceSumSquare, ReduceLogSum and ReduceLogSumExp (axes as an
// attribute, or for ReduceSum-13 and opset 18 as a constant input; keepdims,
// and noop_with_empty_axes where defined) as oneDNN reduction on f32 values
// (LogSumExp as exp, sum, log: no max is subtracted first, so it overflows
// where exp(x) does); the
// result without keepdims is a view. A mean over the two spatial axes of a
// 4-D value (MnasNet's and others' global pooling) compiles as average
// pooling on the value's own layout and data type, so it stays int8.

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

struct Reduction {
  std::set<int64_t> axes;  // normalized, sorted
  bool keep_dims = true;
};

absl::StatusOr<Reduction> ReadReduction(const Node& node, const ShapeContext& shapes,
                                        size_t rank) {
  std::optional<std::vector<int64_t>> axes = FindIntsAttr(node, "axes");
  if (!axes && node.inputs.size() > 1 && !node.inputs[1].empty()) {
    const Constant* constant = shapes.FindConstant(node.inputs[1]);
    if (constant == nullptr || constant->type != Constant::Type::kInt64) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": axes must be an int64 constant"));
    }
    axes = constant->ints;
  }
  Reduction reduction;
  reduction.keep_dims = IntAttr(node, "keepdims", 1) != 0;
  if (!axes || axes->empty()) {
    // No axes: every axis, unless noop_with_empty_axes (then the identity).
    if (IntAttr(node, "noop_with_empty_axes", 0) != 0) return reduction;
    for (size_t a = 0; a < rank; ++a) reduction.axes.insert(static_cast<int64_t>(a));
    return reduction;
  }
  for (int64_t axis : *axes) {
    const int64_t normalized = axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
    if (normalized < 0 || normalized >= static_cast<int64_t>(rank) ||
        !reduction.axes.insert(normalized).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": axes [", absl::StrJoin(*axes, ","), "] for rank ", rank));
    }
  }
  return reduction;
}

// Dims with the reduced axes set to 1 (kept) or dropped.
std::vector<int64_t> ReducedDims(const std::vector<int64_t>& dims, const Reduction& reduction,
                                 bool keep) {
  std::vector<int64_t> out;
  for (size_t a = 0; a < dims.size(); ++a) {
    if (reduction.axes.count(static_cast<int64_t>(a)) == 0) {
      out.push_back(dims[a]);
    } else if (keep) {
      out.push_back(1);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Shape>> ReduceShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* x = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (x == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs data"));
  }
  ASSIGN_OR_RETURN(const Reduction reduction, ReadReduction(node, shapes, x->size()));
  return std::vector<Shape>{ReducedDims(*x, reduction, reduction.keep_dims)};
}

bool IsSpatialMean(const Node& node, const std::vector<int64_t>& dims, const Reduction& r) {
  return node.op_type == "ReduceMean" && dims.size() == 4 && r.axes == std::set<int64_t>{2, 3};
}

// Only the spatial mean (compiled as pooling) reads int8.
bool Int8SpatialMean(const PlanCompiler& c, const Node& node, size_t index) {
  const std::vector<int64_t>* dims = c.InferredDims(node.inputs[0]);
  if (index != 0 || dims == nullptr) return false;
  const absl::StatusOr<Reduction> r = ReadReduction(node, c.shapes(), dims->size());
  return r.ok() && IsSpatialMean(node, *dims, *r);
}

// A reduction as oneDNN computes it: an optional eltwise before (LogSumExp's
// exp), the reduction with its p (the Lp norms), an optional eltwise after
// (the logs).
struct ReductionSteps {
  std::optional<dnnl::algorithm> before = std::nullopt;
  dnnl::algorithm algorithm = dnnl::algorithm::reduction_sum;
  float p = 0.0f;
  std::optional<dnnl::algorithm> after = std::nullopt;
};

absl::StatusOr<ReductionSteps> ReductionAlgorithm(const Node& node) {
  using dnnl::algorithm;
  const std::string& type = node.op_type;
  if (type == "ReduceMean") return ReductionSteps{std::nullopt, algorithm::reduction_mean};
  if (type == "ReduceSum") return ReductionSteps{std::nullopt, algorithm::reduction_sum};
  if (type == "ReduceMax") return ReductionSteps{std::nullopt, algorithm::reduction_max};
  if (type == "ReduceMin") return ReductionSteps{std::nullopt, algorithm::reduction_min};
  if (type == "ReduceProd") return ReductionSteps{std::nullopt, algorithm::reduction_mul};
  // (sum |x|^p)^(1/p), and sum |x|^p.
  if (type == "ReduceL1") return ReductionSteps{std::nullopt, algorithm::reduction_norm_lp_sum, 1};
  if (type == "ReduceL2") return ReductionSteps{std::nullopt, algorithm::reduction_norm_lp_sum, 2};
  if (type == "ReduceSumSquare") {
    return ReductionSteps{std::nullopt, algorithm::reduction_norm_lp_power_p_sum, 2};
  }
  if (type == "ReduceLogSum") {
    return ReductionSteps{std::nullopt, algorithm::reduction_sum, 0, algorithm::eltwise_log};
  }
  if (type == "ReduceLogSumExp") {
    return ReductionSteps{algorithm::eltwise_exp, algorithm::reduction_sum, 0,
                          algorithm::eltwise_log};
  }
  return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": not a reduction"));
}

// Adds `algorithm` (no parameters) on buffer `src` into a new buffer of the
// same desc; returns it. Throws dnnl::error.
int AddEltwiseStep(PlanCompiler& c, const Node& node, dnnl::algorithm algorithm, int src) {
  const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm,
                                         c.BufferDesc(src), 0.0f, 0.0f);
  const dnnl::eltwise_forward::primitive_desc pd(desc, StepAttr(), c.engine());
  const int dst = c.AddBuffer(pd.dst_desc());
  c.AddStep(node.name, dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  return dst;
}

absl::Status CompileReduce(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  ASSIGN_OR_RETURN(const Reduction reduction, ReadReduction(node, c.shapes(), dims.size()));
  ASSIGN_OR_RETURN(const ReductionSteps steps, ReductionAlgorithm(node));
  if (reduction.axes.empty()) {
    // noop_with_empty_axes: the input itself.
    c.DefineView(node.outputs[0], dims, c.ViewSource(x).value_or(x));
    return absl::OkStatus();
  }
  if (dims.size() > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": rank ", dims.size(), " > 6"));
  }
  const std::vector<int64_t> kept = ReducedDims(dims, reduction, /*keep=*/true);
  const std::vector<int64_t> out = ReducedDims(dims, reduction, reduction.keep_dims);
  const bool spatial_mean = IsSpatialMean(node, dims, reduction);
  // Pooling keeps int8 values on their grid; a general reduction runs f32.
  const QuantParams quant = spatial_mean && !c.Excluded(node) ? c.Quant(x) : QuantParams{};
  int dst_buffer = -1;
  try {
    if (spatial_mean) {
      ASSIGN_OR_RETURN(memory::desc src, c.CurrentDesc(x));
      src.data.data_type = memory::convert_to_c(quant.type);
      ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, src, quant.scale, node.name));
      const dnnl::pooling_v2_forward::desc desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_exclude_padding, src,
          memory::desc(kept, quant.type, memory::format_tag::any), {1, 1}, {dims[2], dims[3]},
          {0, 0}, {0, 0}, {0, 0});
      const dnnl::pooling_v2_forward::primitive_desc pd(desc, StepAttr(), c.engine());
      dst_buffer = c.AddBuffer(pd.dst_desc());
      c.AddStep(node.name, dnnl::pooling_v2_forward(pd),
                {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}});
    } else {
      const memory::desc src(dims, memory::data_type::f32, PlainTag(dims.size()));
      ASSIGN_OR_RETURN(int src_buffer, c.BufferFor(x, src, 1.0f, node.name));
      if (steps.before) src_buffer = AddEltwiseStep(c, node, *steps.before, src_buffer);
      const memory::desc dst(kept, memory::data_type::f32, PlainTag(kept.size()));
      const dnnl::reduction::desc desc(steps.algorithm, src, dst, steps.p, 0.0f);
      const dnnl::reduction::primitive_desc pd(desc, StepAttr(), c.engine());
      dst_buffer = c.AddBuffer(dst);
      c.AddStep(node.name, dnnl::reduction(pd),
                {{DNNL_ARG_SRC, src_buffer}, {DNNL_ARG_DST, dst_buffer}});
      if (steps.after) dst_buffer = AddEltwiseStep(c, node, *steps.after, dst_buffer);
    }
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  if (out == kept) {
    c.DefineValue(node.outputs[0], out, dst_buffer, quant);
    return absl::OkStatus();
  }
  // keepdims = 0: a view of the kept-dims result.
  const std::string kept_name = node.outputs[0] + "/keepdims";
  c.DefineValue(kept_name, kept, dst_buffer, quant);
  c.DefineView(node.outputs[0], out, kept_name);
  return absl::OkStatus();
}

}  // namespace

void RegisterReduceOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type :
       {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}) {
    ops.push_back({.op_type = op_type,
                   .shape = ReduceShape,
                   .compile = CompileReduce,
                   .int8_input = Int8SpatialMean});
  }
}

}  // namespace quantd::engine
