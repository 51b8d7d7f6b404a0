#ifndef QUANTD_ENGINE_RUNTIME_HOST_KERNEL_H_
#define QUANTD_ENGINE_RUNTIME_HOST_KERNEL_H_

// A Plan step quantd computes itself instead of a oneDNN primitive, for work
// oneDNN 2.6 does slowly or not as ONNX defines it (activation tables,
// strided copies, Resize modes). It reads the step's DNNL_ARG_SRC buffer and
// writes its DNNL_ARG_DST buffer (DNNL_ARG_FROM and DNNL_ARG_TO are the same
// ids), on the calling thread's OpenMP threads.

namespace quantd::engine {

class HostKernel {
 public:
  virtual ~HostKernel() = default;
  // `src` and `dst` are the buffers' base addresses; a kernel applies any
  // offset of its own memory descriptors.
  virtual void Run(const void* src, void* dst) const = 0;
  // Whether the step only moves values (coverage counts it as a reorder).
  virtual bool MovesValues() const { return false; }
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_HOST_KERNEL_H_
