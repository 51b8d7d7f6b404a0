#ifndef QUANTD_ENGINE_RUNTIME_INT8_COVERAGE_H_
#define QUANTD_ENGINE_RUNTIME_INT8_COVERAGE_H_

// How much of a model an int8 Plan runs in int8: every node with its
// multiply-accumulates and, when it runs f32, why; and the reorders between
// int8 and f32 regions executed per run. Free of oneDNN headers, so the
// server can report it.

#include <cstdint>
#include <string>
#include <vector>

namespace quantd::engine {

struct NodeExecution {
  std::string node;
  std::string op_type;
  int64_t macs = 0;   // multiply-accumulates per run (convolutions, matrix products)
  bool int8 = false;  // one of its primitives computes on u8/s8 values
  std::string fp32_reason;  // int8 Plans: why it runs f32 (empty when int8)
};

// Reorder steps of one run, by what they convert.
struct BoundaryCounts {
  int quantize = 0;    // f32 -> u8/s8
  int dequantize = 0;  // u8/s8 -> f32
  int requantize = 0;  // u8/s8 -> u8/s8 with another scale or type
  int relayout = 0;    // same data type and scale, another layout
};

struct Int8Coverage {
  std::vector<NodeExecution> nodes;  // graph order (after the standard passes)
  BoundaryCounts boundaries;

  int64_t total_macs() const;
  int64_t int8_macs() const;
  int int8_nodes() const;
  // int8_macs() / total_macs() (1 for a model without MACs).
  double mac_share() const;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_INT8_COVERAGE_H_
