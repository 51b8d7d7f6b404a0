#ifndef QUANTD_ENGINE_RUNTIME_PLAN_H_
#define QUANTD_ENGINE_RUNTIME_PLAN_H_

// A Plan is a Graph compiled for one concrete shape of each graph input:
// oneDNN primitives, their (reordered, possibly quantized) weights and the
// buffers they read and write. It is immutable after compilation and shared by every request; an
// ExecutionContext supplies one request's activation memory.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/runtime/host_kernel.h"
#include "engine/runtime/int8_coverage.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

// How an activation is stored: f32, or u8/s8 with x_int = x_real * scale.
struct QuantParams {
  dnnl::memory::data_type type = dnnl::memory::data_type::f32;
  float scale = 1.0f;
  bool quantized() const { return type != dnnl::memory::data_type::f32; }
};

// One memory slot of the plan. Activation buffers are allocated per
// ExecutionContext; constants (weights, biases) are shared and never written.
struct PlanBuffer {
  dnnl::memory::desc desc;
  // Non-empty for constants: the memory every context uses for this buffer.
  dnnl::memory constant;
  // >= 0: a different view (plain layout, other dims) of that buffer's bytes.
  int alias_of = -1;
};

// One primitive execution: `args` maps DNNL_ARG_* to buffer ids.
struct PlanStep {
  std::string node;  // the graph node this step belongs to (for errors, logs)
  dnnl::primitive primitive;
  std::unordered_map<int, int> args;
  dnnl::memory::desc scratchpad;  // zero-sized when the primitive needs none
  float reorder_scale = 1.0f;     // reorders: the multiplier they apply
  // Set: a step quantd runs itself instead of a primitive (`primitive` is
  // empty), from DNNL_ARG_SRC to DNNL_ARG_DST.
  std::shared_ptr<const HostKernel> kernel = nullptr;

  bool IsReorder() const {
    if (kernel) return kernel->MovesValues();
    return primitive.get_kind() == dnnl::primitive::kind::reorder;
  }
};

// A graph value that RunObserved reports once steps [0, after_step) ran.
struct ObservedValue {
  std::string name;
  int after_step = 0;
  int buffer = -1;
  std::vector<int64_t> shape;  // reported shape (a Flatten view of `buffer`)
  float scale = 1.0f;          // quantization multiplier of `buffer` (1 = f32)
};

// A graph input, in plain row-major f32; ExecutionContext copies the
// caller's tensor into its buffer before the first step.
struct PlanInput {
  std::string name;
  std::vector<int64_t> shape;
  int buffer = -1;
};

struct PlanOutput {
  std::string name;
  int buffer = -1;  // plain row-major f32
  std::vector<int64_t> shape;
};

struct Plan {
  dnnl::engine engine;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanStep> steps;
  std::vector<PlanInput> inputs;  // in graph order
  std::vector<PlanOutput> outputs;
  std::vector<ObservedValue> observed;
  // Memory plan: activation buffers whose lifetimes (first to last step that
  // touches them) do not overlap share one storage block. storage_of_buffer is
  // -1 for constants and aliases (which use their target's storage).
  std::vector<int> storage_of_buffer;
  std::vector<size_t> storage_sizes;
  // How each node runs and the reorders between them (int8 coverage).
  Int8Coverage coverage;
  // Where the Plan rounds (what a QDQ export must reproduce): the values it
  // stores u8/s8, and how each int8 convolution or inner product reads its
  // input (by node name).
  std::map<std::string, QuantParams> quantized_values;
  std::map<std::string, QuantParams> int8_inputs;
  // Bytes of scratchpad the largest step needs; one per ExecutionContext,
  // shared by its (sequential) steps.
  size_t scratchpad_size = 0;
  // Primitives keep the OpenMP thread count of the thread that created them
  // (omp_get_max_threads()); run a Plan from threads with the same count.
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_PLAN_H_
