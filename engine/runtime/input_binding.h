#ifndef QUANTD_ENGINE_RUNTIME_INPUT_BINDING_H_
#define QUANTD_ENGINE_RUNTIME_INPUT_BINDING_H_

// Which graph input each of a caller's tensors feeds, checked against the
// shapes the model declares: the contract of InferenceSession::Run. Free of
// oneDNN.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/tensor.h"

namespace quantd::engine {

// The caller's tensors in graph-input order (not owned).
using BoundInputs = std::vector<const Tensor*>;

// Matches `inputs` to `model_inputs`: a named tensor to the graph input of its
// name, an unnamed one to the graph input at its own position; every graph
// input exactly once, each tensor fitting its input (ValidateInput).
// INVALID_ARGUMENT naming the input otherwise: an unknown name, an unnamed
// tensor past the last graph input, a graph input given twice or not at all.
absl::StatusOr<BoundInputs> BindInputs(const std::vector<ValueInfo>& model_inputs,
                                       const std::vector<Tensor>& inputs);

// OK when `input` fits `model_input`: the same rank, every fixed dim equal,
// every dim >= 1, and as many values as its shape holds. INVALID_ARGUMENT
// naming the input and both shapes otherwise.
absl::Status ValidateInput(const ValueInfo& model_input, const Tensor& input);

// The graph inputs with their shapes, for messages: 'a' [-1,3,8,8], 'b' [-1,4].
std::string DescribeInputs(const std::vector<ValueInfo>& inputs);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_INPUT_BINDING_H_
