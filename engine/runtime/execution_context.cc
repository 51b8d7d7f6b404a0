#include "engine/runtime/execution_context.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/runtime/plan_compiler.h"
#include "engine/status_macros.h"

namespace quantd::engine {

using dnnl::memory;

ExecutionContext::ExecutionContext(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)) {}

absl::StatusOr<std::unique_ptr<ExecutionContext>> ExecutionContext::Create(
    std::shared_ptr<const Plan> plan) {
  std::unique_ptr<ExecutionContext> context(new ExecutionContext(std::move(plan)));
  const Plan& p = *context->plan_;
  try {
    context->stream_ = dnnl::stream(p.engine);
    for (const size_t size : p.storage_sizes) {
      context->storage_.emplace_back(
          memory::desc({static_cast<memory::dim>(std::max<size_t>(size, 1))}, memory::data_type::u8,
                       memory::format_tag::a),
          p.engine);
    }
    context->memories_.reserve(p.buffers.size());
    for (size_t b = 0; b < p.buffers.size(); ++b) {
      const PlanBuffer& buffer = p.buffers[b];
      if (buffer.constant) {
        context->memories_.push_back(buffer.constant);
      } else if (buffer.alias_of >= 0) {
        context->memories_.emplace_back(buffer.desc, p.engine,
                                        context->memories_[buffer.alias_of].get_data_handle());
      } else {
        context->memories_.emplace_back(
            buffer.desc, p.engine, context->storage_[p.storage_of_buffer[b]].get_data_handle());
      }
    }
    if (p.scratchpad_size > 0) {
      context->scratchpad_ = memory(memory::desc({static_cast<memory::dim>(p.scratchpad_size)},
                                                 memory::data_type::u8, memory::format_tag::a),
                                    p.engine);
    }
    for (const PlanStep& step : p.steps) {
      std::unordered_map<int, memory> args;
      for (const auto& [arg, buffer] : step.args) args[arg] = context->memories_[buffer];
      if (step.scratchpad.get_size() > 0) {
        args[DNNL_ARG_SCRATCHPAD] =
            memory(step.scratchpad, p.engine, context->scratchpad_.get_data_handle());
      }
      context->step_args_.push_back(std::move(args));
    }
  } catch (const dnnl::error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("could not allocate activation memory: ", e.what()));
  }
  return context;
}

absl::Status ExecutionContext::CopyInputs(absl::Span<const Tensor* const> inputs) {
  const Plan& p = *plan_;
  if (inputs.size() != p.inputs.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the plan has ", p.inputs.size(), " inputs; got ", inputs.size()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = *inputs[i];
    memory& input_memory = memories_[p.inputs[i].buffer];
    if (input.data.size() * sizeof(float) != input_memory.get_desc().get_size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input '", p.inputs[i].name, "' has ", input.data.size(),
          " values; the plan expects shape [", absl::StrJoin(p.inputs[i].shape, ","), "]"));
    }
    std::memcpy(input_memory.get_data_handle(), input.data.data(),
                input.data.size() * sizeof(float));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Tensor>> ExecutionContext::Run(const Tensor& input,
                                                          const ActivationObserver* observer) {
  const Tensor* const inputs[] = {&input};
  return Run(inputs, observer);
}

absl::StatusOr<std::vector<Tensor>> ExecutionContext::Run(absl::Span<const Tensor* const> inputs,
                                                          const ActivationObserver* observer) {
  const Plan& p = *plan_;
  RETURN_IF_ERROR(CopyInputs(inputs));

  size_t next_observed = 0;
  auto report_until = [&](size_t steps_done) -> absl::Status {
    while (observer != nullptr && next_observed < p.observed.size() &&
           p.observed[next_observed].after_step <= static_cast<int>(steps_done)) {
      RETURN_IF_ERROR(Report(p.observed[next_observed], *observer));
      ++next_observed;
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(report_until(0));
  for (size_t i = 0; i < p.steps.size(); ++i) {
    try {
      const PlanStep& step = p.steps[i];
      if (step.kernel) {
        step.kernel->Run(step_args_[i].at(DNNL_ARG_SRC).get_data_handle(),
                         step_args_[i].at(DNNL_ARG_DST).get_data_handle());
      } else {
        step.primitive.execute(stream_, step_args_[i]);
      }
    } catch (const dnnl::error& e) {
      return absl::InternalError(
          absl::StrCat("node '", p.steps[i].node, "': oneDNN execution failed: ", e.what()));
    }
    if (observer != nullptr) {
      stream_.wait();
      RETURN_IF_ERROR(report_until(i + 1));
    }
  }
  stream_.wait();

  std::vector<Tensor> outputs;
  outputs.reserve(p.outputs.size());
  for (const PlanOutput& output : p.outputs) {
    Tensor tensor{output.name, output.shape, {}};
    tensor.data.resize(tensor.NumElements());
    std::memcpy(tensor.data.data(), memories_[output.buffer].get_data_handle(),
                tensor.data.size() * sizeof(float));
    outputs.push_back(std::move(tensor));
  }
  return outputs;
}

absl::Status ExecutionContext::Report(const ObservedValue& value,
                                      const ActivationObserver& observer) {
  Tensor tensor{value.name, value.shape, {}};
  tensor.data.resize(tensor.NumElements());
  try {
    const memory& source = memories_[value.buffer];
    const memory::dims dims = source.get_desc().dims();
    const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
    memory target(plain, plan_->engine, tensor.data.data());
    dnnl::primitive_attr attr;
    if (value.scale != 1.0f) attr.set_output_scales(0, {1.0f / value.scale});
    const dnnl::reorder::primitive_desc pd(plan_->engine, source.get_desc(), plan_->engine, plain,
                                           attr);
    dnnl::reorder(pd).execute(stream_, const_cast<memory&>(source), target);
    stream_.wait();
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("could not observe value '", value.name, "': ", e.what()));
  }
  observer(value.name, tensor);
  return absl::OkStatus();
}

}  // namespace quantd::engine
