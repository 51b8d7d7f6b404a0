#ifndef QUANTD_ENGINE_GRAPH_MODEL_SUMMARY_H_
#define QUANTD_ENGINE_GRAPH_MODEL_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/graph/graph.h"

namespace quantd::engine {

// What a client sees of an uploaded model before running it.
struct ModelSummary {
  std::vector<ValueInfo> inputs;   // -1 marks a dynamic dimension
  std::vector<ValueInfo> outputs;
  std::map<std::string, int64_t> op_counts;  // ONNX op type -> node count
  int64_t opset_version = 0;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_MODEL_SUMMARY_H_
