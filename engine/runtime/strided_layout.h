#ifndef QUANTD_ENGINE_RUNTIME_STRIDED_LAYOUT_H_
#define QUANTD_ENGINE_RUNTIME_STRIDED_LAYOUT_H_

// Layouts without blocks (plain, channels-last, or any order of dims) seen
// as strides, so that reshapes and transposes can keep a value in the layout
// its producer wrote instead of copying it to plain and back: ShuffleNet's
// channel shuffle (Reshape, Transpose, Reshape) on channels-last int8 is then
// one copy, not three.

#include <optional>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

// Whether `desc` is a strided layout: blocked format without inner blocks.
bool IsStrided(const dnnl::memory::desc& desc);

// Whether `a` and `b` describe the same bytes: same dims, data type and
// offset, both strided, equal strides on every dim longer than 1 (a dim of
// one element is never stepped over, so its stride does not matter, but
// oneDNN compares it: acdb and abcd are one layout for [N,C,1,1]).
bool SameLayout(const dnnl::memory::desc& a, const dnnl::memory::desc& b);

// `source`'s bytes seen row-major with `dims` (a Reshape), when strides
// express it: every run of source dims merged into one must be contiguous
// within itself. Nullopt when not (the reshape then needs a copy), or when
// `source` is not strided or the element counts differ.
std::optional<dnnl::memory::desc> ReshapedView(const dnnl::memory::desc& source,
                                               const dnnl::memory::dims& dims);

// `source`'s bytes seen through a Transpose by `perm` (output dim i walks
// source dim perm[i]). `source` must be strided.
dnnl::memory::desc PermutedView(const dnnl::memory::desc& source, const std::vector<int64_t>& perm);

// A dense layout of `dims` (same rank as `order_of`) whose dims nest in the
// order `order_of`'s do, position by position: where `order_of` is
// channels-last, so is the result. Ties (dims of one element) keep their
// positional order.
dnnl::memory::desc DenseInOrderOf(const dnnl::memory::desc& order_of,
                                  const dnnl::memory::dims& dims);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_STRIDED_LAYOUT_H_
