#include "engine/runtime/strided_copy.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "engine/runtime/strided_layout.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

constexpr int64_t kMinRowBytes = 16;
// Below this many bytes one thread copies alone.
constexpr int64_t kParallelBytes = int64_t{64} << 10;

struct Axis {
  int64_t dim;
  int64_t src_stride;  // elements
  int64_t dst_stride;
};

// The dims of more than one element in the destination's order (outermost
// first), adjacent ones merged where both sides store them contiguously.
std::vector<Axis> MergedAxes(const memory::desc& from, const memory::desc& to) {
  std::vector<Axis> axes;
  const dnnl_dims_t& src_strides = from.data.format_desc.blocking.strides;
  const dnnl_dims_t& dst_strides = to.data.format_desc.blocking.strides;
  for (int d = 0; d < from.data.ndims; ++d) {
    if (from.data.dims[d] > 1) axes.push_back({from.data.dims[d], src_strides[d], dst_strides[d]});
  }
  std::stable_sort(axes.begin(), axes.end(),
                   [](const Axis& a, const Axis& b) { return a.dst_stride > b.dst_stride; });
  std::vector<Axis> merged;
  for (const Axis& axis : axes) {
    if (!merged.empty() && merged.back().src_stride == axis.src_stride * axis.dim &&
        merged.back().dst_stride == axis.dst_stride * axis.dim) {
      merged.back().dim *= axis.dim;
      merged.back().src_stride = axis.src_stride;
      merged.back().dst_stride = axis.dst_stride;
    } else {
      merged.push_back(axis);
    }
  }
  return merged;
}

template <typename T>
void CopyPairs(const uint8_t* src, int64_t second, uint8_t* dst, int64_t count) {
  const T* a = reinterpret_cast<const T*>(src);
  const T* b = reinterpret_cast<const T*>(src + second);
  T* d = reinterpret_cast<T*>(dst);
  for (int64_t k = 0; k < count; ++k) {
    d[2 * k] = a[k];
    d[2 * k + 1] = b[k];
  }
}

void CopyBlock(const StridedCopy& copy, const uint8_t* src, uint8_t* dst) {
  if (copy.form == StridedCopy::Form::kRows) {
    std::memcpy(dst, src, static_cast<size_t>(copy.inner_count) * copy.element_size);
    return;
  }
  switch (copy.element_size) {
    case 1:
      CopyPairs<uint8_t>(src, copy.src_pair_stride, dst, copy.inner_count);
      break;
    case 2:
      CopyPairs<uint16_t>(src, copy.src_pair_stride, dst, copy.inner_count);
      break;
    default:
      CopyPairs<uint32_t>(src, copy.src_pair_stride, dst, copy.inner_count);
      break;
  }
}

// Copies blocks [begin, end) of the outer dims' row-major order.
void CopyBlocks(const StridedCopy& copy, const uint8_t* src, uint8_t* dst, int64_t begin,
                int64_t end) {
  const size_t rank = copy.outer_dims.size();
  std::vector<int64_t> index(rank);
  int64_t src_at = copy.src_offset, dst_at = copy.dst_offset;
  for (size_t d = rank, rest = static_cast<size_t>(begin); d-- > 0;) {
    index[d] = static_cast<int64_t>(rest % static_cast<size_t>(copy.outer_dims[d]));
    rest /= static_cast<size_t>(copy.outer_dims[d]);
    src_at += index[d] * copy.src_outer_strides[d];
    dst_at += index[d] * copy.dst_outer_strides[d];
  }
  for (int64_t block = begin; block < end; ++block) {
    CopyBlock(copy, src + src_at, dst + dst_at);
    // Odometer: step the innermost outer dim, carrying into the outer ones.
    for (size_t d = rank; d-- > 0;) {
      src_at += copy.src_outer_strides[d];
      dst_at += copy.dst_outer_strides[d];
      if (++index[d] < copy.outer_dims[d]) break;
      src_at -= copy.src_outer_strides[d] * copy.outer_dims[d];
      dst_at -= copy.dst_outer_strides[d] * copy.outer_dims[d];
      index[d] = 0;
    }
  }
}

}  // namespace

std::optional<StridedCopy> PlanStridedCopy(const memory::desc& from, const memory::desc& to) {
  if (!IsStrided(from) || !IsStrided(to) || from.dims() != to.dims() ||
      from.data_type() != to.data_type()) {
    return std::nullopt;
  }
  StridedCopy copy;
  copy.element_size = memory::data_type_size(from.data_type());
  if (copy.element_size != 1 && copy.element_size != 2 && copy.element_size != 4) {
    return std::nullopt;
  }
  std::vector<Axis> axes = MergedAxes(from, to);
  if (axes.empty()) axes.push_back({1, 1, 1});  // one element
  const Axis inner = axes.back();
  size_t outer_rank = axes.size() - 1;
  const int64_t size = static_cast<int64_t>(copy.element_size);
  if (inner.src_stride == 1 && inner.dst_stride == 1) {
    copy.form = StridedCopy::Form::kRows;
    copy.inner_count = inner.dim;
    if (inner.dim * size < kMinRowBytes && axes.size() > 1) return std::nullopt;
  } else if (inner.dst_stride == 1 && inner.dim == 2 && axes.size() >= 2 &&
             axes[axes.size() - 2].src_stride == 1 && axes[axes.size() - 2].dst_stride == 2) {
    copy.form = StridedCopy::Form::kPairs;
    copy.inner_count = axes[axes.size() - 2].dim;
    copy.src_pair_stride = inner.src_stride * size;
    if (copy.inner_count * size < kMinRowBytes) return std::nullopt;
    outer_rank = axes.size() - 2;
  } else {
    return std::nullopt;
  }
  for (size_t d = 0; d < outer_rank; ++d) {
    copy.outer_dims.push_back(axes[d].dim);
    copy.src_outer_strides.push_back(axes[d].src_stride * size);
    copy.dst_outer_strides.push_back(axes[d].dst_stride * size);
  }
  copy.src_offset = from.data.offset0 * size;
  copy.dst_offset = to.data.offset0 * size;
  return copy;
}

void RunStridedCopy(const StridedCopy& copy, const void* src, void* dst) {
  int64_t blocks = 1;
  for (int64_t d : copy.outer_dims) blocks *= d;
  const int64_t block_bytes = copy.inner_count * static_cast<int64_t>(copy.element_size) *
                              (copy.form == StridedCopy::Form::kPairs ? 2 : 1);
  const auto* from = static_cast<const uint8_t*>(src);
  auto* to = static_cast<uint8_t*>(dst);
  if (blocks == 1 && copy.form == StridedCopy::Form::kRows) {
    // One contiguous row (a plain copy): slices of it spread over the threads.
    const int64_t slices = (block_bytes + kParallelBytes - 1) / kParallelBytes;
#pragma omp parallel for schedule(static) if (slices > 1)
    for (int64_t s = 0; s < slices; ++s) {
      const int64_t begin = s * kParallelBytes;
      std::memcpy(to + copy.dst_offset + begin, from + copy.src_offset + begin,
                  static_cast<size_t>(std::min(kParallelBytes, block_bytes - begin)));
    }
    return;
  }
#pragma omp parallel if (blocks > 1 && blocks * block_bytes > kParallelBytes)
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    CopyBlocks(copy, from, to, blocks * thread / threads, blocks * (thread + 1) / threads);
  }
}

}  // namespace quantd::engine
