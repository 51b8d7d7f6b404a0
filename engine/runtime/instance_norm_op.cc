// InstanceNormalization (style-transfer and GAN generators): each channel of
// each sample normalized over its spatial elements, then scaled and shifted
// per channel by constants, computed by quantd in double precision on plain
// f32 values.

#include <cmath>
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

class InstanceNormKernel : public HostKernel {
 public:
  InstanceNormKernel(int64_t samples, std::vector<float> scale, std::vector<float> bias,
                     int64_t spatial, float epsilon)
      : samples_(samples),
        scale_(std::move(scale)),
        bias_(std::move(bias)),
        spatial_(spatial),
        epsilon_(epsilon) {}

  void Run(const void* src, void* dst) const override {
    const auto* in = static_cast<const float*>(src);
    auto* out = static_cast<float*>(dst);
    const int64_t channels = static_cast<int64_t>(scale_.size());
#pragma omp parallel for schedule(static) if (samples_ * channels > 1)
    for (int64_t plane = 0; plane < samples_ * channels; ++plane) {
      const float* x = in + plane * spatial_;
      float* y = out + plane * spatial_;
      double mean = 0, variance = 0;
      for (int64_t i = 0; i < spatial_; ++i) mean += x[i];
      mean /= double(spatial_);
      for (int64_t i = 0; i < spatial_; ++i) variance += (x[i] - mean) * (x[i] - mean);
      variance /= double(spatial_);
      const int64_t c = plane % channels;
      const double gain = scale_[c] / std::sqrt(variance + epsilon_);
      for (int64_t i = 0; i < spatial_; ++i) y[i] = float((x[i] - mean) * gain + bias_[c]);
    }
  }

 private:
  int64_t samples_;
  std::vector<float> scale_, bias_;
  int64_t spatial_;
  float epsilon_;
};

// Scale or B: a float constant of one value per channel.
absl::StatusOr<std::vector<float>> PerChannel(PlanCompiler& c, const Node& node, size_t index,
                                              int64_t channels) {
  const Constant* constant =
      node.inputs.size() > index ? c.FindConstant(node.inputs[index]) : nullptr;
  if (constant == nullptr || constant->type != Constant::Type::kFloat32 ||
      constant->NumElements() != channels) {
    return absl::UnimplementedError(absl::StrCat(
        NodeLabel(node), ": input ", index, " must be a float constant of ", channels, " values"));
  }
  return constant->floats;
}

absl::Status CompileInstanceNorm(PlanCompiler& c, const Node& node) {
  RETURN_IF_ERROR(RequireRuntimeInput(c, node, 3));
  const std::string& x = node.inputs[0];
  const std::vector<int64_t> dims = c.Dims(x);
  if (dims.size() < 3 || dims.size() > 6) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": input of rank ", dims.size(),
                                                   " (needs N, C and spatial axes)"));
  }
  ASSIGN_OR_RETURN(std::vector<float> scale, PerChannel(c, node, 1, dims[1]));
  ASSIGN_OR_RETURN(std::vector<float> bias, PerChannel(c, node, 2, dims[1]));
  const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
  ASSIGN_OR_RETURN(const int src_buffer, c.BufferFor(x, plain, 1.0f, node.name));
  const int dst_buffer = c.AddBuffer(plain);
  c.AddHostStep(node.name,
                std::make_shared<const InstanceNormKernel>(
                    dims[0], std::move(scale), std::move(bias),
                    NumElements(dims) / dims[0] / dims[1], FloatAttr(node, "epsilon", 1e-5f)),
                src_buffer, dst_buffer);
  c.DefineValue(node.outputs[0], dims, dst_buffer, QuantParams{});
  return absl::OkStatus();
}

}  // namespace

void RegisterInstanceNormOps(std::vector<OpDefinition>& ops) {
  ops.push_back({.op_type = "InstanceNormalization",
                 .shape = SameShapeAsInput,
                 .compile = CompileInstanceNorm});
}

}  // namespace quantd::engine
