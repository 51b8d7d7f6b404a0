#include "server/wire/kserve_tensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "server/wire/proto_conversion.h"
#include "server/wire/tensor_checks.h"

namespace quantd::server {
namespace {

using InputTensor = inference::ModelInferRequest::InferInputTensor;

// "'a', 'b'": the model's input names, for error messages.
std::string InputNames(const v1::Model& model) {
  std::vector<std::string> names;
  for (const v1::TensorInfo& input : model.inputs())
    names.push_back(absl::StrCat("'", input.name(), "'"));
  return absl::StrJoin(names, ", ");
}

const v1::TensorInfo* FindModelInput(const v1::Model& model, const std::string& name) {
  for (const v1::TensorInfo& input : model.inputs()) {
    if (input.name() == name) return &input;
  }
  return nullptr;
}

// Checks the request's list of inputs against the model's: each known, once,
// all present, and the raw contents one per input when used.
absl::Status CheckInputList(const inference::ModelInferRequest& request, const v1::Model& model) {
  std::set<std::string> seen;
  for (const InputTensor& input : request.inputs()) {
    if (FindModelInput(model, input.name()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown input '", input.name(), "'; the model's inputs are ", InputNames(model)));
    }
    if (!seen.insert(input.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat("input '", input.name(), "' is given twice"));
    }
  }
  for (const v1::TensorInfo& expected : model.inputs()) {
    if (!seen.contains(expected.name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", expected.name(), "' is missing; the model's inputs are ", InputNames(model)));
    }
  }
  if (!request.raw_input_contents().empty() &&
      request.raw_input_contents_size() != request.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_input_contents has ", request.raw_input_contents_size(), " entries for ",
        request.inputs_size(), " inputs; send one per input, in the order of `inputs`"));
  }
  return absl::OkStatus();
}

// One input's values, from its contents or from `raw` (nullptr: none).
absl::StatusOr<engine::Tensor> ToEngineInput(const InputTensor& input, const std::string* raw,
                                             const v1::Model& model) {
  const std::string what = absl::StrCat("input '", input.name(), "'");
  if (input.datatype() != kKServeFp32) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has datatype '", input.datatype(), "'; quantd's models take FP32"));
  }
  ASSIGN_OR_RETURN(const int64_t values, CountValues(what, input.shape()));
  RETURN_IF_ERROR(CheckFitsModelTensor(what, input.shape(), *FindModelInput(model, input.name())));
  engine::Tensor tensor;
  tensor.name = input.name();
  tensor.shape.assign(input.shape().begin(), input.shape().end());
  const int64_t given =
      raw != nullptr ? static_cast<int64_t>(raw->size()) : input.contents().fp32_contents_size();
  int64_t wanted = values;
  // A shape of 2^62 values times 4 bytes would wrap around to a small count.
  if (raw != nullptr && __builtin_mul_overflow(values, int64_t{sizeof(float)}, &wanted)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " shape ", ShapeToString(input.shape()), " holds more bytes than 2^63"));
  }
  if (given != wanted) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " shape ", ShapeToString(input.shape()), " needs ", wanted,
        raw != nullptr ? " bytes of raw_input_contents, got " : " fp32_contents values, got ",
        given));
  }
  if (raw != nullptr) {
    // Little-endian float32, as on every machine quantd builds for.
    static_assert(std::endian::native == std::endian::little);
    tensor.data.resize(static_cast<size_t>(values));
    std::memcpy(tensor.data.data(), raw->data(), raw->size());
  } else {
    tensor.data.assign(input.contents().fp32_contents().begin(),
                       input.contents().fp32_contents().end());
  }
  return tensor;
}

}  // namespace

absl::StatusOr<std::vector<engine::Tensor>> InputsFromModelInfer(
    const inference::ModelInferRequest& request, const v1::Model& model) {
  RETURN_IF_ERROR(CheckInputList(request, model));
  const bool raw = !request.raw_input_contents().empty();
  std::vector<engine::Tensor> tensors;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const InputTensor& input = request.inputs(i);
    if (raw && input.has_contents()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", input.name(),
                       "' has contents while raw_input_contents is used; send the "
                       "values of every input one way"));
    }
    ASSIGN_OR_RETURN(engine::Tensor tensor,
                     ToEngineInput(input, raw ? &request.raw_input_contents(i) : nullptr, model));
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

absl::Status SetModelInferOutputs(const std::vector<engine::Tensor>& outputs,
                                  const inference::ModelInferRequest& request,
                                  inference::ModelInferResponse& response) {
  std::set<std::string> requested;
  for (const auto& output : request.outputs()) {
    const bool exists = std::any_of(outputs.begin(), outputs.end(), [&](const engine::Tensor& t) {
      return t.name == output.name();
    });
    if (!exists) {
      std::vector<std::string> names;
      for (const engine::Tensor& t : outputs) names.push_back(absl::StrCat("'", t.name, "'"));
      return absl::InvalidArgumentError(absl::StrCat("requested output '", output.name(),
                                                     "' is not an output of the model; its "
                                                     "outputs are ",
                                                     absl::StrJoin(names, ", ")));
    }
    requested.insert(output.name());
  }
  for (const engine::Tensor& output : outputs) {
    if (!requested.empty() && !requested.contains(output.name)) continue;
    inference::ModelInferResponse::InferOutputTensor& tensor = *response.add_outputs();
    tensor.set_name(output.name);
    tensor.set_datatype(kKServeFp32);
    tensor.mutable_shape()->Add(output.shape.begin(), output.shape.end());
    response.add_raw_output_contents()->assign(reinterpret_cast<const char*>(output.data.data()),
                                               output.data.size() * sizeof(float));
  }
  return absl::OkStatus();
}

int64_t ModelInferOutputBytes(const std::vector<engine::Tensor>& outputs) {
  int64_t bytes = 0;
  for (const engine::Tensor& output : outputs) {
    // The values, plus name, shape and framing.
    bytes += static_cast<int64_t>(output.data.size() * sizeof(float) + output.name.size()) + 64 +
             static_cast<int64_t>(output.shape.size()) * 10;
  }
  return bytes;
}

}  // namespace quantd::server
