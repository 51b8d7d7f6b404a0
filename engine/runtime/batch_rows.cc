#include "engine/runtime/batch_rows.h"

#include <cstddef>

namespace quantd::engine {
namespace {

size_t ValuesPerRow(const Tensor& tensor) {
  const int64_t rows = tensor.shape.empty() ? 0 : tensor.shape[0];
  return rows > 0 ? tensor.data.size() / static_cast<size_t>(rows) : 0;
}

}  // namespace

Tensor SliceRows(const Tensor& tensor, int64_t begin, int64_t count) {
  Tensor slice{tensor.name, tensor.shape, {}};
  slice.shape[0] = count;
  const size_t row = ValuesPerRow(tensor);
  const auto first = tensor.data.begin() + static_cast<std::ptrdiff_t>(begin * row);
  slice.data.assign(first, first + static_cast<std::ptrdiff_t>(count * row));
  return slice;
}

void AppendRows(Tensor& stacked, const Tensor& part, int64_t reserve_rows) {
  if (stacked.shape.empty()) {
    stacked.name = part.name;
    stacked.shape = part.shape;
    stacked.shape[0] = 0;
    if (reserve_rows > 0)
      stacked.data.reserve(ValuesPerRow(part) * static_cast<size_t>(reserve_rows));
  }
  stacked.shape[0] += part.shape[0];
  stacked.data.insert(stacked.data.end(), part.data.begin(), part.data.end());
}

}  // namespace quantd::engine
