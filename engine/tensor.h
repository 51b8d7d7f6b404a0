#ifndef QUANTD_ENGINE_TENSOR_H_
#define QUANTD_ENGINE_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

namespace quantd::engine {

// A dense float32 tensor in plain row-major (NCHW for images) order. This is
// the engine's exchange format at its boundary: graph inputs and outputs,
// dataset batches. Inside a Plan activations live in oneDNN's chosen layouts.
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;

  int64_t NumElements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_TENSOR_H_
