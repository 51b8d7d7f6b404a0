#include "engine/runtime/input_binding.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

}  // namespace

absl::Status ValidateInput(const ValueInfo& model_input, const Tensor& input) {
  bool ok = input.shape.size() == model_input.shape.size();
  for (size_t i = 0; ok && i < input.shape.size(); ++i) {
    ok = input.shape[i] >= 1 &&
         (model_input.shape[i] <= 0 || model_input.shape[i] == input.shape[i]);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("input shape ", ShapeString(input.shape), " does not match model input '",
                     model_input.name, "' ", ShapeString(model_input.shape)));
  }
  if (static_cast<int64_t>(input.data.size()) != input.NumElements()) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", model_input.name, "' has ", input.data.size(), " values but shape ",
                     ShapeString(input.shape), " needs ", input.NumElements()));
  }
  return absl::OkStatus();
}

std::string DescribeInputs(const std::vector<ValueInfo>& inputs) {
  std::vector<std::string> parts;
  for (const ValueInfo& input : inputs) {
    parts.push_back(absl::StrCat("'", input.name, "' ", ShapeString(input.shape)));
  }
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<BoundInputs> BindInputs(const std::vector<ValueInfo>& model_inputs,
                                       const std::vector<Tensor>& inputs) {
  BoundInputs bound(model_inputs.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    size_t slot = i;
    if (!inputs[i].name.empty()) {
      const auto it = std::find_if(model_inputs.begin(), model_inputs.end(),
                                   [&](const ValueInfo& v) { return v.name == inputs[i].name; });
      if (it == model_inputs.end()) {
        return absl::InvalidArgumentError(absl::StrCat("input '", inputs[i].name,
                                                       "' is not a model input; the model takes ",
                                                       DescribeInputs(model_inputs)));
      }
      slot = static_cast<size_t>(it - model_inputs.begin());
    } else if (i >= model_inputs.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input #", i, " has no name and the model has no input at its position; ",
                       "it takes ", DescribeInputs(model_inputs)));
    }
    if (bound[slot] != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("model input '", model_inputs[slot].name, "' is given twice"));
    }
    RETURN_IF_ERROR(ValidateInput(model_inputs[slot], inputs[i]));
    bound[slot] = &inputs[i];
  }
  for (size_t slot = 0; slot < bound.size(); ++slot) {
    if (bound[slot] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("missing model input '",
                                                     model_inputs[slot].name, "' ",
                                                     ShapeString(model_inputs[slot].shape)));
    }
  }
  return bound;
}

}  // namespace quantd::engine
