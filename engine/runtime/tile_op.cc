// Tile: the input repeated `repeats[i]` times along each axis i (repeats an
// int64 constant), by quantd's own copy on plain values: each output row
// (the last axis) is its source row copied repeats[-1] times.

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/host_kernel.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

absl::StatusOr<std::vector<int64_t>> TiledDims(const Node& node, const ShapeContext& shapes,
                                               const std::vector<int64_t>& in) {
  const Constant* repeats = node.inputs.size() > 1 ? shapes.FindConstant(node.inputs[1]) : nullptr;
  if (repeats == nullptr || repeats->type != Constant::Type::kInt64) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": repeats must be an int64 constant"));
  }
  if (repeats->ints.size() != in.size() || in.empty() || in.size() > 6) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": repeats [",
                                                   absl::StrJoin(repeats->ints, ","),
                                                   "] for input [", absl::StrJoin(in, ","), "]"));
  }
  std::vector<int64_t> out(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    if (repeats->ints[d] < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": repeats [", absl::StrJoin(repeats->ints, ","), "]"));
    }
    if (__builtin_mul_overflow(in[d], repeats->ints[d], &out[d])) out[d] = -1;
  }
  RETURN_IF_ERROR(CheckComputedSize(node, out));
  return out;
}

absl::StatusOr<std::vector<Shape>> TileShape(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* in = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (in == nullptr || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  }
  ASSIGN_OR_RETURN(Shape out, TiledDims(node, shapes, *in));
  return std::vector<Shape>{std::move(out)};
}

class TileKernel : public HostKernel {
 public:
  TileKernel(std::vector<int64_t> in, std::vector<int64_t> out, size_t element_size)
      : in_(std::move(in)), out_(std::move(out)), element_size_(element_size) {}

  void Run(const void* src, void* dst) const override {
    const auto* from = static_cast<const uint8_t*>(src);
    auto* to = static_cast<uint8_t*>(dst);
    const size_t rank = in_.size();
    const int64_t in_row = in_.back(), out_row = out_.back();
    const int64_t rows = NumElements(out_) / out_row;
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int64_t row = 0; row < rows; ++row) {
      // The source row: each leading output index modulo the input's dim.
      int64_t source = 0, rest = row, stride = 1;
      for (size_t d = rank - 1; d-- > 0;) {
        source += (rest % out_[d]) % in_[d] * stride;
        rest /= out_[d];
        stride *= in_[d];
      }
      const uint8_t* line = from + source * in_row * element_size_;
      uint8_t* target = to + row * out_row * element_size_;
      for (int64_t copy = 0; copy < out_row / in_row; ++copy) {
        std::memcpy(target + copy * in_row * element_size_, line, in_row * element_size_);
      }
    }
  }

 private:
  std::vector<int64_t> in_, out_;
  size_t element_size_;
};

// int8 values move as they are.
absl::Status CompileTile(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 2));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> in = c.Dims(x);
  ASSIGN_OR_RETURN(const std::vector<int64_t> out, TiledDims(node, c.shapes(), in));
  const QuantParams quant = c.Excluded(node) ? QuantParams{} : c.Quant(x);
  const memory::desc plain(in, quant.type, PlainTag(in.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, quant.scale, node.name));
  const int dst_buffer = c.AddBuffer(memory::desc(out, quant.type, PlainTag(out.size())));
  c.AddHostStep(node.name,
                std::make_shared<const TileKernel>(in, out, memory::data_type_size(quant.type)),
                src_buffer, dst_buffer);
  c.DefineValue(node.outputs[0], out, dst_buffer, quant);
  return absl::OkStatus();
}

}  // namespace

void RegisterTileOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "Tile",
                 .shape = TileShape,
                 .compile = CompileTile,
                 .int8_input = Int8FirstInput});
}

}  // namespace quantd::engine
