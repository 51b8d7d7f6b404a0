// Transpose, DepthToSpace, SpaceToDepth and Pad (constant, edge and reflect
// modes): data movement as oneDNN reorders (or quantd's strided copies)
// between buffers viewed through strided or offset memory descriptors.
// Transpose moves int8 values as they are, keeps a layout without blocks
// (channels-last) instead of going through plain, and copies nothing when the
// permutation only undoes a layout.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/runtime/strided_layout.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

// Pad's pads and constant value: attributes before opset 11, inputs since.
absl::Status ReadPadding(const ShapeContext& c, const Node& node, std::vector<int64_t>& pads,
                         float& value) {
  if (c.opset_version() < 11) {
    pads = IntsAttr(node, "pads", {});
    value = FloatAttr(node, "value", 0.0f);
    return absl::OkStatus();
  }
  const Constant* pads_constant = node.inputs.size() > 1 ? c.FindConstant(node.inputs[1]) : nullptr;
  if (pads_constant == nullptr || pads_constant->type != Constant::Type::kInt64) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": pads must be an int64 constant"));
  }
  pads = pads_constant->ints;
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const Constant* v = c.FindConstant(node.inputs[2]);
    if (v == nullptr || v->type != Constant::Type::kFloat32 || v->floats.size() != 1) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": constant_value must be a float scalar constant"));
    }
    value = v->floats[0];
  }
  if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": the axes input (opset 18)"));
  }
  return absl::OkStatus();
}

// Transpose's permutation (default: reversed axes), checked against `rank`.
absl::StatusOr<std::vector<int64_t>> Permutation(const Node& node, size_t rank) {
  std::vector<int64_t> default_perm(rank);
  for (size_t d = 0; d < rank; ++d) default_perm[d] = static_cast<int64_t>(rank - 1 - d);
  const std::vector<int64_t> perm = IntsAttr(node, "perm", default_perm);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(rank);
  for (size_t d = 0; d < rank; ++d) identity[d] = static_cast<int64_t>(d);
  if (sorted != identity || rank > 6) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": perm [", absl::StrJoin(perm, ","), "] for rank ", rank));
  }
  return perm;
}

absl::StatusOr<std::vector<Shape>> TransposeShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  ASSIGN_OR_RETURN(const std::vector<int64_t> perm, Permutation(node, in->size()));
  Shape out;
  for (int64_t p : perm) out.push_back((*in)[p]);
  return std::vector<Shape>{out};
}

// Pad's output dims; pads must be non-negative.
absl::StatusOr<std::vector<int64_t>> PaddedDims(const Node& node, const std::vector<int64_t>& dims,
                                                const std::vector<int64_t>& pads) {
  const size_t rank = dims.size();
  if (pads.size() != 2 * rank || rank > 6) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": ", pads.size(), " pads for rank ", rank));
  }
  std::vector<int64_t> out(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (pads[d] < 0 || pads[d + rank] < 0) {
      return absl::UnimplementedError(
          absl::StrCat(NodeLabel(node), ": negative pads [", absl::StrJoin(pads, ","), "]"));
    }
    if (__builtin_add_overflow(dims[d], pads[d], &out[d]) ||
        __builtin_add_overflow(out[d], pads[d + rank], &out[d])) {
      out[d] = -1;  // refused below
    }
  }
  RETURN_IF_ERROR(CheckComputedSize(node, out));
  return out;
}

absl::StatusOr<std::vector<Shape>> PadShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  std::vector<int64_t> pads;
  float value = 0.0f;
  RETURN_IF_ERROR(ReadPadding(shapes, node, pads, value));
  ASSIGN_OR_RETURN(Shape out, PaddedDims(node, *in, pads));
  return std::vector<Shape>{std::move(out)};
}

absl::Status CompileTranspose(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  const size_t rank = dims.size();
  ASSIGN_OR_RETURN(const std::vector<int64_t> perm, Permutation(node, rank));
  // int8 values move as they are (a permutation keeps their grid), in the
  // layout their producer wrote when it has no blocks.
  const QuantParams quant = c.Excluded(node) ? QuantParams{} : c.Quant(x);
  ASSIGN_OR_RETURN(memory::desc source, c.CurrentDesc(x));
  source.data.data_type = memory::convert_to_c(quant.type);
  if (!IsStrided(source)) source = memory::desc(dims, quant.type, PlainTag(rank));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, source, quant.scale, node.name));
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) out[i] = dims[perm[i]];
  try {
    // The input's bytes seen with the output's dims.
    const memory::desc permuted = PermutedView(source, perm);
    const memory::desc plain(out, quant.type, PlainTag(rank));
    if (SameLayout(permuted, plain) ||
        (rank == 4 &&
         SameLayout(permuted, memory::desc(out, quant.type, memory::format_tag::acdb)))) {
      // The transpose undoes a layout (channels-last NCHW read as NHWC): the
      // bytes already lie as consumers want them.
      c.DefineValue(node.outputs[0], out, c.AddAlias(permuted, src_buffer), quant);
      return absl::OkStatus();
    }
    // Else copy into the input's order of dims, position by position, so a
    // channel shuffle of channels-last values stays channels-last and the
    // Reshape after it needs no copy.
    const int dst_buffer = c.AddBuffer(DenseInOrderOf(source, out));
    RETURN_IF_ERROR(
        c.AddReorderStep(node.name, c.AddAlias(permuted, src_buffer), dst_buffer, 1.0f));
    c.DefineValue(node.outputs[0], out, dst_buffer, quant);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

// Pad's border copies per node at most: each is one Plan step.
constexpr int64_t kMaxBorderCopies = 1024;

// Steps filling the borders of `dst_buffer` (plain, `out_desc`), whose
// interior already holds the input (dims `in`), by copying the elements they
// repeat (edge) or mirror around the border element (reflect), one slice of
// one element along the padded axis at a time. Axis by axis: an axis' border
// spans the padded extent of the axes before it and the interior of those
// after, so the corners come out as ONNX defines them.
absl::Status AddBorderCopies(PlanCompiler& c, const Node& node, const memory::desc& out_desc,
                             int dst_buffer, const std::vector<int64_t>& in,
                             const std::vector<int64_t>& pads, bool reflect) {
  const size_t rank = in.size();
  const memory::dims out = out_desc.dims();
  for (size_t d = 0; d < rank; ++d) {
    const int64_t before = pads[d], after = pads[d + rank], n = in[d];
    memory::dims region(rank), at(rank);
    for (size_t e = 0; e < rank; ++e) {
      region[e] = e < d ? out[e] : in[e];
      at[e] = e < d ? 0 : pads[e];
    }
    region[d] = 1;
    auto copy = [&](int64_t to, int64_t from) {
      memory::dims to_at = at, from_at = at;
      to_at[d] = to;
      from_at[d] = from;
      const int src = c.AddAlias(out_desc.submemory_desc(region, from_at), dst_buffer);
      const int dst = c.AddAlias(out_desc.submemory_desc(region, to_at), dst_buffer);
      return c.AddReorderStep(node.name, src, dst, 1.0f);
    };
    for (int64_t k = 1; k <= before; ++k) {
      RETURN_IF_ERROR(copy(before - k, reflect ? before + k : before));
    }
    for (int64_t k = 1; k <= after; ++k) {
      RETURN_IF_ERROR(copy(before + n - 1 + k, reflect ? before + n - 1 - k : before + n - 1));
    }
  }
  return absl::OkStatus();
}

// Edge and reflect need elements to repeat: reflect pads at most n - 1 on
// each side of an axis of n (it mirrors without repeating the border).
absl::Status CheckBorderModePads(const Node& node, const std::string& mode,
                                 const std::vector<int64_t>& dims,
                                 const std::vector<int64_t>& pads) {
  const size_t rank = dims.size();
  int64_t copies = 0;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t widest = std::max(pads[d], pads[d + rank]);
    const bool possible = mode == "reflect" ? widest <= dims[d] - 1 : dims[d] >= 1;
    if (widest > 0 && !possible) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": mode '", mode, "' cannot pad axis ", d, " of ", dims[d],
                       " element(s) by [", pads[d], ", ", pads[d + rank], "]"));
    }
    copies += pads[d] + pads[d + rank];
  }
  if (copies > kMaxBorderCopies) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": mode '", mode, "' with ",
                                                 copies, " padded slices (at most ",
                                                 kMaxBorderCopies, ")"));
  }
  return absl::OkStatus();
}

absl::Status CompilePad(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string mode = StringAttr(node, "mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect") {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": mode '", mode, "'"));
  }
  std::vector<int64_t> pads;
  float value = 0.0f;
  RETURN_IF_ERROR(ReadPadding(c.shapes(), node, pads, value));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  const size_t rank = dims.size();
  ASSIGN_OR_RETURN(const std::vector<int64_t> out, PaddedDims(node, dims, pads));
  if (mode != "constant") RETURN_IF_ERROR(CheckBorderModePads(node, mode, dims, pads));
  const std::vector<int64_t> begin(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(rank));
  const memory::desc out_desc(out, memory::data_type::f32, PlainTag(rank));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  try {
    const int dst_buffer = c.AddBuffer(out_desc);
    if (mode == "constant") {
      // Every run: fill dst with `value`, then copy x into its interior.
      int64_t total = 1;
      for (int64_t d : out) total *= d;
      const std::vector<float> filled(total, value);
      const int fill = c.AddF32Constant(out, PlainTag(rank), filled.data());
      RETURN_IF_ERROR(c.AddReorderStep(node.name, fill, dst_buffer, 1.0f));
    }
    const int interior = c.AddAlias(out_desc.submemory_desc(dims, begin), dst_buffer);
    RETURN_IF_ERROR(c.AddReorderStep(node.name, src_buffer, interior, 1.0f));
    if (mode != "constant") {
      RETURN_IF_ERROR(
          AddBorderCopies(c, node, out_desc, dst_buffer, dims, pads, mode == "reflect"));
    }
    c.DefineValue(node.outputs[0], out, dst_buffer, QuantParams{});
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

// DepthToSpace (DCR and CRD modes) and SpaceToDepth as ONNX defines them: a
// reshape to 6-D, a transpose and a reshape back.
struct BlockShuffle {
  std::vector<int64_t> split;  // the 6-D reshape
  std::vector<int64_t> perm;
  std::vector<int64_t> out;  // 4-D
};

absl::StatusOr<BlockShuffle> ReadBlockShuffle(const Node& node, const std::vector<int64_t>& x) {
  const int64_t b = IntAttr(node, "blocksize", 0);
  if (x.size() != 4 || b <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": blocksize ", b,
                                                   " for input [", absl::StrJoin(x, ","), "]"));
  }
  const int64_t n = x[0], c = x[1], h = x[2], w = x[3];
  if (node.op_type == "SpaceToDepth") {
    if (h % b != 0 || w % b != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": blocksize ", b, " does not divide ", h, "x", w));
    }
    return BlockShuffle{
        {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, {n, c * b * b, h / b, w / b}};
  }
  if (c % (b * b) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": blocksize ", b,
                                                   " squared does not divide ", c, " channels"));
  }
  const std::vector<int64_t> out = {n, c / (b * b), h * b, w * b};
  if (StringAttr(node, "mode", "DCR") == "CRD") {
    return BlockShuffle{{n, c / (b * b), b, b, h, w}, {0, 1, 4, 2, 5, 3}, out};
  }
  return BlockShuffle{{n, b, b, c / (b * b), h, w}, {0, 3, 4, 1, 5, 2}, out};
}

absl::StatusOr<std::vector<Shape>> BlockShuffleShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  ASSIGN_OR_RETURN(BlockShuffle shuffle, ReadBlockShuffle(node, *in));
  return std::vector<Shape>{std::move(shuffle.out)};
}

// One copy from a 6-D strided view of the input's plain bytes; int8 values
// move as they are.
absl::Status CompileBlockShuffle(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  ASSIGN_OR_RETURN(const BlockShuffle shuffle, ReadBlockShuffle(node, c.Dims(x)));
  const QuantParams quant = c.Excluded(node) ? QuantParams{} : c.Quant(x);
  const memory::desc plain(c.Dims(x), quant.type, PlainTag(4));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, quant.scale, node.name));
  try {
    const memory::desc split(shuffle.split, quant.type, PlainTag(6));
    const memory::desc permuted = PermutedView(split, shuffle.perm);
    const int dst_buffer = c.AddBuffer(memory::desc(permuted.dims(), quant.type, PlainTag(6)));
    RETURN_IF_ERROR(
        c.AddReorderStep(node.name, c.AddAlias(permuted, src_buffer), dst_buffer, 1.0f));
    const int out = c.AddAlias(memory::desc(shuffle.out, quant.type, PlainTag(4)), dst_buffer);
    c.DefineValue(node.outputs[0], shuffle.out, out, quant);
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterDataMovementOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Transpose",
                 .shape = TransposeShape,
                 .compile = CompileTranspose,
                 .int8_input = Int8FirstInput});
  ops.push_back({.op_type = "Pad", .shape = PadShape, .compile = CompilePad});
  for (const char* op_type : {"DepthToSpace", "SpaceToDepth"}) {
    ops.push_back({.op_type = op_type,
                   .shape = BlockShuffleShape,
                   .compile = CompileBlockShuffle,
                   .int8_input = Int8FirstInput});
  }
}

}  // namespace quantd::engine
