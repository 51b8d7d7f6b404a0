#ifndef QUANTD_ENGINE_RUNTIME_ROW_EXTREME_KERNEL_H_
#define QUANTD_ENGINE_RUNTIME_ROW_EXTREME_KERNEL_H_

// The position of each row's maximum or minimum, on plain f32 values viewed
// as [outer, length, inner] (rows run along `length`, `inner` apart), written
// either as the index (ArgMax, ArgMin: [outer, inner] float32 values) or as a
// one-hot row of the input's shape (Hardmax).

#include <cstdint>

#include "engine/runtime/host_kernel.h"

namespace quantd::engine {

class RowExtremeKernel : public HostKernel {
 public:
  enum class Output { kIndex, kOneHot };
  struct Options {
    bool max = true;    // else the minimum
    bool last = false;  // ties: the last position, else the first
    Output output = Output::kIndex;
  };
  RowExtremeKernel(int64_t outer, int64_t length, int64_t inner, Options options)
      : outer_(outer), length_(length), inner_(inner), options_(options) {}

  void Run(const void* src, void* dst) const override {
    const auto* in = static_cast<const float*>(src);
    auto* out = static_cast<float*>(dst);
#pragma omp parallel for schedule(static) collapse(2) if (outer_ * inner_ > 1024)
    for (int64_t o = 0; o < outer_; ++o) {
      for (int64_t i = 0; i < inner_; ++i) {
        const int64_t base = o * length_ * inner_ + i;
        const int64_t best = Extreme(in + base);
        if (options_.output == Output::kIndex) {
          out[o * inner_ + i] = static_cast<float>(best);
          continue;
        }
        for (int64_t k = 0; k < length_; ++k) out[base + k * inner_] = k == best ? 1.0f : 0.0f;
      }
    }
  }

 private:
  int64_t Extreme(const float* row) const {
    int64_t best = 0;
    for (int64_t k = 1; k < length_; ++k) {
      const float v = row[k * inner_], b = row[best * inner_];
      const bool beyond = options_.max ? v > b : v < b;
      if (beyond || (options_.last && v == b)) best = k;
    }
    return best;
  }

  int64_t outer_, length_, inner_;
  Options options_;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_ROW_EXTREME_KERNEL_H_
