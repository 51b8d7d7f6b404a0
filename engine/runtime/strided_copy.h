#ifndef QUANTD_ENGINE_RUNTIME_STRIDED_COPY_H_
#define QUANTD_ENGINE_RUNTIME_STRIDED_COPY_H_

// Copies between two strided layouts of one data type that quantd runs itself
// instead of as oneDNN reorders. oneDNN 2.6's reorder moves such a copy
// element by element when it cannot vectorize along the innermost dim:
// ShuffleNet's channel shuffles (a 2 x C/2 transpose in every pixel) and its
// channel slices (half of every pixel's channels) took as long on int8 bytes
// as on floats, a quarter of its int8 run time. Two forms are copied here, on
// the dims left after merging those both layouts store contiguously:
// - rows: the innermost dim is contiguous on both sides, copied row by row;
// - pairs: the destination's innermost dim holds 2 elements and the source's
//   next-innermost dim is contiguous: two source rows interleaved (a channel
//   shuffle of two groups).
// Anything else stays a oneDNN reorder.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "engine/runtime/host_kernel.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

struct StridedCopy {
  enum class Form { kRows, kPairs };
  Form form = Form::kRows;
  size_t element_size = 1;  // 1, 2 or 4 bytes
  // Dims walked around the inner block, outermost first, and the byte steps
  // along them on each side.
  std::vector<int64_t> outer_dims;
  std::vector<int64_t> src_outer_strides;
  std::vector<int64_t> dst_outer_strides;
  // Rows: elements per row. Pairs: elements per source row (the destination
  // block holds twice as many).
  int64_t inner_count = 0;
  int64_t src_pair_stride = 0;  // pairs: bytes from the first source row to the second
  int64_t src_offset = 0;       // bytes (the descs' offset0)
  int64_t dst_offset = 0;
};

// How to copy `from` into `to` (same dims and data type, both strided) in one
// of the forms above; nullopt when neither applies or a row would be shorter
// than 16 bytes (oneDNN then does as well).
std::optional<StridedCopy> PlanStridedCopy(const dnnl::memory::desc& from,
                                           const dnnl::memory::desc& to);

// Runs `copy` from the buffer at `src` to the one at `dst` (their base
// addresses; the offsets are the copy's), on the calling thread's OpenMP
// threads.
void RunStridedCopy(const StridedCopy& copy, const void* src, void* dst);

// A StridedCopy as a Plan step.
class StridedCopyKernel : public HostKernel {
 public:
  explicit StridedCopyKernel(StridedCopy copy) : copy_(std::move(copy)) {}
  void Run(const void* src, void* dst) const override { RunStridedCopy(copy_, src, dst); }
  bool MovesValues() const override { return true; }

 private:
  StridedCopy copy_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_STRIDED_COPY_H_
