#ifndef QUANTD_ENGINE_RUNTIME_BATCH_ROWS_H_
#define QUANTD_ENGINE_RUNTIME_BATCH_ROWS_H_

// Batch-major tensors (dimension 0 the batch) cut into rows and stacked back:
// how a session runs a batch in parts (BatchSplitTuner) and how Infer merges
// concurrent calls into one run. Free of oneDNN.

#include <cstdint>

#include "engine/tensor.h"

namespace quantd::engine {

// Rows [begin, begin + count) of `tensor`, whose dimension 0 holds them.
Tensor SliceRows(const Tensor& tensor, int64_t begin, int64_t count);

// Appends the rows of `part` to `stacked`: an empty `stacked` (no shape yet)
// takes part's name and shape, otherwise it must have part's non-batch dims.
// `reserve_rows` > 0 reserves room for that many rows on the first append,
// so stacking n parts copies each value once.
void AppendRows(Tensor& stacked, const Tensor& part, int64_t reserve_rows = 0);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_BATCH_ROWS_H_
