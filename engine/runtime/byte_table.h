#ifndef QUANTD_ENGINE_RUNTIME_BYTE_TABLE_H_
#define QUANTD_ENGINE_RUNTIME_BYTE_TABLE_H_

// A function of one u8/s8 value, tabulated: 256 output bytes, indexed by the
// input's byte. An activation between two int8 grids (e.g. SiLU from a
// convolution's s8 result to the next layer's s8 input) is exact at every one
// of the 256 inputs, and looking it up costs a fraction of evaluating exp()
// per element, which on EfficientNet is as much time as its int8
// convolutions take.

#include <array>
#include <cstddef>
#include <cstdint>

#include "engine/runtime/host_kernel.h"

namespace quantd::engine {

struct ByteTable {
  std::array<uint8_t, 256> entries{};
};

// dst[i] = table.entries[src[i]] for i < n, on the calling thread's OpenMP
// threads. `src` and `dst` may be the same buffer.
void ApplyByteTable(const ByteTable& table, const uint8_t* src, uint8_t* dst, size_t n);

// A table applied to the first `bytes` bytes of a step's source, as a Plan
// step.
class ByteTableKernel : public HostKernel {
 public:
  ByteTableKernel(ByteTable table, size_t bytes) : table_(table), bytes_(bytes) {}
  void Run(const void* src, void* dst) const override {
    ApplyByteTable(table_, static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), bytes_);
  }

 private:
  ByteTable table_;
  size_t bytes_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_BYTE_TABLE_H_
