#include "engine/runtime/strided_layout.h"

#include <algorithm>
#include <numeric>

#include "engine/runtime/plan_compiler.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

memory::dims StridesOf(const memory::desc& desc) {
  const dnnl_dims_t& strides = desc.data.format_desc.blocking.strides;
  return memory::dims(strides, strides + desc.data.ndims);
}

memory::format_tag ChannelsLastTag(size_t rank) {
  switch (rank) {
    case 3:
      return memory::format_tag::acb;
    case 4:
      return memory::format_tag::acdb;
    case 5:
      return memory::format_tag::acdeb;
    default:
      return memory::format_tag::undef;
  }
}

// The same layout made from a format tag (plain or channels-last) when there
// is one: oneDNN's kernels recognize a layout by comparing strides with a
// tag's, dims of one element included.
memory::desc Canonical(const memory::desc& desc) {
  if (desc.data.offset0 != 0) return desc;
  const memory::dims dims = desc.dims();
  for (const memory::format_tag tag : {PlainTag(dims.size()), ChannelsLastTag(dims.size())}) {
    if (tag == memory::format_tag::undef) continue;
    const memory::desc tagged(dims, desc.data_type(), tag);
    if (SameLayout(desc, tagged)) return tagged;
  }
  return desc;
}

memory::desc WithStrides(const memory::desc& like, const memory::dims& dims,
                         const memory::dims& strides) {
  memory::desc desc(dims, like.data_type(), strides);
  desc.data.offset0 = like.data.offset0;
  return Canonical(desc);
}

}  // namespace

bool IsStrided(const memory::desc& desc) {
  return desc.data.format_kind == dnnl_blocked && desc.data.format_desc.blocking.inner_nblks == 0 &&
         desc.data.extra.flags == 0;
}

bool SameLayout(const memory::desc& a, const memory::desc& b) {
  if (!IsStrided(a) || !IsStrided(b) || a.dims() != b.dims() || a.data_type() != b.data_type() ||
      a.data.offset0 != b.data.offset0) {
    return false;
  }
  const memory::dims dims = a.dims();
  const memory::dims a_strides = StridesOf(a), b_strides = StridesOf(b);
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] > 1 && a_strides[d] != b_strides[d]) return false;
  }
  return true;
}

std::optional<memory::desc> ReshapedView(const memory::desc& source, const memory::dims& dims) {
  if (!IsStrided(source) || dims.empty()) return std::nullopt;
  // Dims of one element carry no stride: leave them out of the source.
  memory::dims from, from_strides;
  const memory::dims source_dims = source.dims(), source_strides = StridesOf(source);
  for (size_t d = 0; d < source_dims.size(); ++d) {
    if (source_dims[d] != 1) {
      from.push_back(source_dims[d]);
      from_strides.push_back(source_strides[d]);
    }
  }
  const auto product = [](const memory::dims& v) {
    return std::accumulate(v.begin(), v.end(), int64_t{1}, std::multiplies<int64_t>());
  };
  if (product(from) != product(dims) || std::count(dims.begin(), dims.end(), 0) > 0 ||
      std::count(from.begin(), from.end(), 0) > 0) {
    return std::nullopt;
  }
  // Walk both shapes, matching the shortest runs of dims with equal element
  // counts: a run of source dims read as one must be contiguous, and the
  // run's new dims then split its innermost stride row-major.
  memory::dims strides(dims.size(), 1);
  size_t i = 0, j = 0;  // next source dim, next new dim
  while (i < from.size() && j < dims.size()) {
    size_t i_end = i + 1, j_end = j + 1;
    int64_t from_count = from[i], to_count = dims[j];
    while (from_count != to_count) {
      if (from_count < to_count) {
        from_count *= from[i_end++];
      } else {
        to_count *= dims[j_end++];
      }
    }
    for (size_t k = i; k + 1 < i_end; ++k) {
      if (from_strides[k] != from[k + 1] * from_strides[k + 1]) return std::nullopt;
    }
    strides[j_end - 1] = from_strides[i_end - 1];
    for (size_t k = j_end - 1; k > j; --k) strides[k - 1] = strides[k] * dims[k];
    i = i_end;
    j = j_end;
  }
  // Trailing new dims all hold one element.
  for (; j < dims.size(); ++j) strides[j] = j > 0 ? strides[j - 1] : 1;
  return WithStrides(source, dims, strides);
}

memory::desc PermutedView(const memory::desc& source, const std::vector<int64_t>& perm) {
  const memory::dims source_dims = source.dims(), source_strides = StridesOf(source);
  memory::dims dims(perm.size()), strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    dims[i] = source_dims[perm[i]];
    strides[i] = source_strides[perm[i]];
  }
  return WithStrides(source, dims, strides);
}

memory::desc DenseInOrderOf(const memory::desc& order_of, const memory::dims& dims) {
  const memory::dims order_strides = StridesOf(order_of);
  std::vector<size_t> outer_to_inner(dims.size());
  std::iota(outer_to_inner.begin(), outer_to_inner.end(), 0);
  std::stable_sort(outer_to_inner.begin(), outer_to_inner.end(),
                   [&](size_t a, size_t b) { return order_strides[a] > order_strides[b]; });
  memory::dims strides(dims.size());
  int64_t next = 1;
  for (auto d = outer_to_inner.rbegin(); d != outer_to_inner.rend(); ++d) {
    strides[*d] = next;
    next *= dims[*d];
  }
  memory::desc dense(dims, order_of.data_type(), strides);
  return Canonical(dense);
}

}  // namespace quantd::engine
