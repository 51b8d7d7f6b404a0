// Element-wise math oneDNN 2.6 has no kernel for, or none accurate to ONNX's
// test tolerance (its log is off by up to 3.4e-6 near log(1) = 0): Log,
// trigonometric and hyperbolic functions and their inverses, Floor, Ceil,
// Sign, Erf, Softsign, Shrink and ThresholdedRelu, computed by quantd in
// double precision on plain f32 values.

#include <cmath>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/runtime/host_kernel.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;
using Function = std::function<double(double)>;

// The op's function, with its attributes bound.
Function FunctionOf(const Node& node) {
  static const std::map<std::string, double (*)(double)> kPlain = {
      {"Log", [](double x) { return std::log(x); }},
      {"Sin", [](double x) { return std::sin(x); }},
      {"Cos", [](double x) { return std::cos(x); }},
      {"Tan", [](double x) { return std::tan(x); }},
      {"Asin", [](double x) { return std::asin(x); }},
      {"Acos", [](double x) { return std::acos(x); }},
      {"Atan", [](double x) { return std::atan(x); }},
      {"Sinh", [](double x) { return std::sinh(x); }},
      {"Cosh", [](double x) { return std::cosh(x); }},
      {"Asinh", [](double x) { return std::asinh(x); }},
      {"Acosh", [](double x) { return std::acosh(x); }},
      {"Atanh", [](double x) { return std::atanh(x); }},
      {"Floor", [](double x) { return std::floor(x); }},
      {"Ceil", [](double x) { return std::ceil(x); }},
      {"Erf", [](double x) { return std::erf(x); }},
      {"Sign", [](double x) { return double((x > 0) - (x < 0)); }},
      {"Softsign", [](double x) { return x / (1 + std::fabs(x)); }},
  };
  if (const auto it = kPlain.find(node.op_type); it != kPlain.end()) return it->second;
  if (node.op_type == "Shrink") {
    const double bias = FloatAttr(node, "bias", 0.0f), lambd = FloatAttr(node, "lambd", 0.5f);
    return [bias, lambd](double x) { return x < -lambd ? x + bias : (x > lambd ? x - bias : 0.0); };
  }
  const double alpha = FloatAttr(node, "alpha", 1.0f);  // ThresholdedRelu
  return [alpha](double x) { return x > alpha ? x : 0.0; };
}

class UnaryMathKernel : public HostKernel {
 public:
  UnaryMathKernel(Function function, size_t count)
      : function_(std::move(function)), count_(count) {}
  void Run(const void* src, void* dst) const override {
    const auto* in = static_cast<const float*>(src);
    auto* out = static_cast<float*>(dst);
    const auto n = static_cast<std::ptrdiff_t>(count_);
#pragma omp parallel for schedule(static) if (n > 16384)
    for (std::ptrdiff_t i = 0; i < n; ++i) out[i] = static_cast<float>(function_(in[i]));
  }

 private:
  Function function_;
  size_t count_;
};

// Plain layout: a blocked one's padding would be mapped too.
absl::Status CompileUnaryMath(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  if (dims.empty() || dims.size() > 6) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": rank ", dims.size()));
  }
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(plain);
  c.AddHostStep(node.name,
                std::make_shared<const UnaryMathKernel>(FunctionOf(node),
                                                        static_cast<size_t>(NumElements(dims))),
                src_buffer, dst_buffer);
  c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterUnaryMathOps(std::vector<OpDefinition>& ops) {
  for (const char* op_type :
       {"Log", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
        "Atanh", "Floor", "Ceil", "Erf", "Sign", "Softsign", "Shrink", "ThresholdedRelu"}) {
    ops.push_back({.op_type = op_type, .shape = SameShapeAsInput, .compile = CompileUnaryMath});
  }
}

}  // namespace quantd::engine
