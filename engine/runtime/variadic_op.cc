// Sum, Mean, Max and Min of one or more inputs, with ONNX multidirectional
// broadcasting, in f32: every input broadcast to the output's shape (runtime
// values by BroadcastF32, constants expanded at compile time) and combined by
// a chain of oneDNN binaries in plain layout; Mean scales the last by 1/n.
// Fusion never targets these ops, so int8 inputs are read dequantized.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

dnnl::algorithm Combining(const std::string& op_type) {
  if (op_type == "Max") return dnnl::algorithm::binary_max;
  if (op_type == "Min") return dnnl::algorithm::binary_min;
  return dnnl::algorithm::binary_add;  // Sum, Mean
}

// A constant input repeated to `out` along its broadcast dims.
absl::StatusOr<int> ExpandedConstant(PlanCompiler& c, const Node& node, const std::string& name,
                                     const std::vector<int64_t>& out) {
  const Constant* constant = c.FindConstant(name);
  if (constant == nullptr || constant->type != Constant::Type::kFloat32) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": input '", name, "' is not a float tensor"));
  }
  std::vector<int64_t> dims = constant->dims;
  dims.insert(dims.begin(), out.size() - dims.size(), 1);
  std::vector<float> values(NumElements(out));
  std::vector<int64_t> index(out.size(), 0);
  for (float& value : values) {
    int64_t source = 0;
    for (size_t d = 0; d < out.size(); ++d)
      source = source * dims[d] + (dims[d] == 1 ? 0 : index[d]);
    value = constant->floats[source];
    for (size_t d = out.size(); d-- > 0;) {
      if (++index[d] < out[d]) break;
      index[d] = 0;
    }
  }
  return c.AddF32Constant(out, PlainTag(out.size()), values.data());
}

absl::Status CompileVariadic(PlanCompiler& c, const Node& node) {
  const std::vector<int64_t>* inferred =
      node.outputs.empty() ? nullptr : c.InferredDims(node.outputs[0]);
  if (node.inputs.empty() || inferred == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs"));
  }
  const std::vector<int64_t> out = *inferred;
  if (out.empty() || out.size() > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": rank ", out.size()));
  }
  const memory::desc plain(out, memory::data_type::f32, PlainTag(out.size()));
  std::vector<int> sources;
  for (const std::string& input : node.inputs) {
    if (c.HasValue(input)) {
      ASSIGN_OR_RETURN(const int buffer, BroadcastF32(c, input, out, node));
      sources.push_back(buffer);
    } else {
      ASSIGN_OR_RETURN(const int buffer, ExpandedConstant(c, node, input, out));
      sources.push_back(buffer);
    }
  }
  const bool mean = node.op_type == "Mean";
  const float mean_scale = 1.0f / static_cast<float>(sources.size());
  int result = c.AddBuffer(plain);
  try {
    if (sources.size() == 1) {
      // One input: itself (its mean too), in a buffer of the node's own.
      RETURN_IF_ERROR(c.AddReorderStep(node.name, sources[0], result, 1.0f));
    }
    for (size_t i = 1; i < sources.size(); ++i) {
      dnnl::primitive_attr attr = StepAttr();
      if (mean && i + 1 == sources.size()) {
        dnnl::post_ops scale;
        scale.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, mean_scale, 0.0f);
        attr.set_post_ops(scale);
      }
      const dnnl::binary::primitive_desc pd(
          dnnl::binary::desc(Combining(node.op_type), plain, plain, plain), attr, c.engine());
      const int first = i == 1 ? sources[0] : result;
      const int dst = i == 1 ? result : c.AddBuffer(plain);
      c.AddStep(node.name, dnnl::binary(pd),
                {{DNNL_ARG_SRC_0, first}, {DNNL_ARG_SRC_1, sources[i]}, {DNNL_ARG_DST, dst}});
      result = dst;
    }
  } catch (const dnnl::error& e) {
    return DnnlError(node, e);
  }
  c.DefineValue(node.outputs[0], out, result, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterVariadicOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type : {"Sum", "Mean", "Max", "Min"}) {
    ops.push_back({.op_type = op_type, .shape = BroadcastInputs, .compile = CompileVariadic});
  }
}

}  // namespace quantd::engine
