#include "engine/runtime/shape_inference.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/graph/node_attributes.h"
#include "engine/passes/constant_evaluation.h"
#include "engine/status_macros.h"

namespace quantd::engine {

absl::Status ShapeInference::Run(const std::vector<std::vector<int64_t>>& input_shapes) {
  dims_.clear();
  constants_.clear();
  evaluated_.clear();
  if (input_shapes.size() != graph_.inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model has ", graph_.inputs.size(), " inputs; got shapes for ", input_shapes.size()));
  }
  for (size_t i = 0; i < input_shapes.size(); ++i) dims_[graph_.inputs[i].name] = input_shapes[i];
  for (const Node& node : graph_.nodes) {
    for (const std::string& input : node.inputs) {
      if (!input.empty() && Dims(input) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(NodeLabel(node), ": input '", input, "' is not defined"));
      }
    }
    ASSIGN_OR_RETURN(const bool evaluated, Evaluate(node));
    if (evaluated) continue;
    const OpDefinition* definition = FindOp(node.op_type);
    if (definition == nullptr) {
      return absl::UnimplementedError(absl::StrCat("op '", node.op_type, "' (node '", node.name,
                                                   "') is not supported by the runtime"));
    }
    if (definition->shape == nullptr) {
      return absl::UnimplementedError(absl::StrCat(
          NodeLabel(node), ": runs only on constants and on shapes known when the model is "
                           "compiled for an input shape; here an input is computed from the "
                           "input's values"));
    }
    ASSIGN_OR_RETURN(const std::vector<Shape> outputs, definition->shape(node, *this));
    if (outputs.size() != node.outputs.size()) {
      return absl::InternalError(absl::StrCat(NodeLabel(node), ": its shape rule gave ",
                                              outputs.size(), " shapes for ", node.outputs.size(),
                                              " outputs"));
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!node.outputs[i].empty()) dims_[node.outputs[i]] = outputs[i];
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ShapeInference::Evaluate(const Node& node) {
  namespace ce = constant_evaluation;
  if (!ce::IsEvaluableOp(node.op_type)) return false;
  std::vector<ce::Value> values;
  values.reserve(node.inputs.size());
  std::vector<const ce::Value*> in;
  for (const std::string& input : node.inputs) {
    const Constant* constant = input.empty() ? nullptr : FindConstant(input);
    if (constant == nullptr) {
      in.push_back(nullptr);
      continue;
    }
    values.push_back(ce::FromConstant(*constant));
    in.push_back(&values.back());
  }
  std::optional<ce::SymShape> input0_shape;
  if (!node.inputs.empty() && !node.inputs[0].empty()) {
    if (const std::vector<int64_t>* dims = Dims(node.inputs[0])) {
      input0_shape.emplace();
      for (int64_t d : *dims) input0_shape->push_back(ce::Known(d));
    }
  }
  ce::SymbolSource symbols;
  ASSIGN_OR_RETURN(const ce::Folded folded,
                   ce::EvaluateNode(node, in, input0_shape ? &*input0_shape : nullptr, symbols));
  if (!folded || folded->size() != node.outputs.size()) return false;
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (!(*folded)[i].known() || node.outputs[i].empty()) return false;
  }
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    constants_[node.outputs[i]] = ce::ToConstant((*folded)[i]);
  }
  evaluated_.insert(&node);
  return true;
}

const std::vector<int64_t>* ShapeInference::Dims(const std::string& value) const {
  if (const std::vector<int64_t>* dims = RuntimeDims(value)) return dims;
  const Constant* constant = FindConstant(value);
  return constant == nullptr ? nullptr : &constant->dims;
}

const std::vector<int64_t>* ShapeInference::RuntimeDims(const std::string& value) const {
  const auto it = dims_.find(value);
  return it == dims_.end() ? nullptr : &it->second;
}

const Constant* ShapeInference::FindConstant(const std::string& value) const {
  if (const auto it = graph_.constants.find(value); it != graph_.constants.end()) {
    return &it->second;
  }
  const auto it = constants_.find(value);
  return it == constants_.end() ? nullptr : &it->second;
}

std::string ShapeInference::AddConstant(const std::string& name_hint, Constant constant) {
  std::string name = name_hint;
  for (int suffix = 1; FindConstant(name) != nullptr || dims_.count(name) > 0; ++suffix) {
    name = absl::StrCat(name_hint, "_", suffix);
  }
  constants_[name] = std::move(constant);
  return name;
}

}  // namespace quantd::engine
