#ifndef QUANTD_ENGINE_GRAPH_GRAPH_H_
#define QUANTD_ENGINE_GRAPH_GRAPH_H_

// quantd's graph IR: what the ONNX importer produces, what passes rewrite and
// what the runtime compiles. Deliberately plain structs: a newcomer can print
// one in a debugger and see the whole model.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace quantd::engine {

// An initializer or a folded constant. Float weights use `floats`; integer
// tensors (Reshape targets, Slice indices, shape arithmetic) use `ints`.
struct Constant {
  enum class Type { kFloat32, kInt64 };
  Type type = Type::kFloat32;
  std::vector<int64_t> dims;
  std::vector<float> floats;
  std::vector<int64_t> ints;

  int64_t NumElements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
};

using AttributeValue = std::variant<int64_t, float, std::string,
                                    std::vector<int64_t>, std::vector<float>>;

// An element-wise operation applied to a node's result inside the same oneDNN
// primitive (post-op). Fusion passes move Relu/Clip/... nodes and residual
// Adds here; the runtime maps them onto dnnl::post_ops in order.
struct PostOp {
  enum class Kind {
    kRelu,
    kClip,
    kLeakyRelu,
    kSigmoid,
    kHardSigmoid,
    kHardSwish,
    kSum,
    kTanh,
    kSwish,    // x * Sigmoid(x) (SiLU), as exporters write it out
    kGeluErf,  // x * (1 + Erf(x / sqrt(2))) / 2 (GELU, "none" approximation)
  };
  Kind kind = Kind::kRelu;
  float alpha = 0.0f;  // Clip: lower bound; LeakyRelu/HardSigmoid: alpha
  float beta = 0.0f;   // Clip: upper bound; HardSigmoid: beta
  // kSum only: the value added to the node's result (e.g. the residual branch).
  std::string sum_input;
  // Activations fused by a pass: the value the activation read before fusion
  // (the producer's raw result). Calibration sees the unfused graph, so this
  // names the raw result's range; empty when unknown.
  std::string pre_activation = {};
};

struct Node {
  std::string name;     // unique; the importer names unnamed nodes "<op>_<index>"
  std::string op_type;  // ONNX op type ("Conv", "Gemm", ...)
  std::vector<std::string> inputs;   // value names; "" marks an omitted optional input
  std::vector<std::string> outputs;  // value names
  std::map<std::string, AttributeValue> attributes;
  std::vector<PostOp> post_ops;      // applied in order to outputs[0]
};

// A graph input or output. A dimension of -1 is dynamic (e.g. the batch).
struct ValueInfo {
  std::string name;
  std::vector<int64_t> shape;
};

struct Graph {
  std::string name;
  int64_t opset_version = 0;
  std::vector<ValueInfo> inputs;   // runtime inputs only, never initializers
  std::vector<ValueInfo> outputs;
  std::vector<Node> nodes;         // always in topological order
  std::map<std::string, Constant> constants;  // by value name
  // Attributes the IR cannot hold (graph- or tensor-typed), by node name, as
  // "name (TYPE)": such a node cannot run, but the importer leaves the
  // verdict to the runtime, which knows which ops it supports.
  std::map<std::string, std::vector<std::string>> unrepresented_attributes;
};

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_GRAPH_GRAPH_H_
