#include "engine/runtime/plan_compiler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "engine/runtime/memory_plan.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/strided_copy.h"
#include "engine/runtime/strided_layout.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using dnnl::memory;

bool IsViewOp(const std::string& op_type) {
  const OpDefinition* definition = FindOp(op_type);
  return definition != nullptr && definition->view;
}

}  // namespace

QuantParams QuantParamsForRange(const TensorRange& range) {
  return QuantParamsForGrid(ActivationGridForRange(range, QuantizationOptions{}));
}

QuantParams QuantParamsForGrid(const ActivationGrid& grid) {
  QuantParams q;
  q.type = grid.is_signed() ? memory::data_type::s8 : memory::data_type::u8;
  q.scale = grid.scale;
  return q;
}

PlanCompiler::PlanCompiler(const Graph& graph, const PlanOptions& options)
    : graph_(graph), options_(options), shapes_(graph), plan_(std::make_unique<Plan>()) {
  for (const Node& node : graph_.nodes) {
    for (const std::string& input : node.inputs) {
      if (!input.empty()) consumers_[input].push_back(&node);
    }
    for (const PostOp& op : node.post_ops) {
      if (op.kind == PostOp::Kind::kSum) consumers_[op.sum_input].push_back(&node);
    }
  }
  for (const ValueInfo& output : graph_.outputs) is_graph_output_[output.name] = true;
  if (options_.int8 || options_.simulated) {
    excluded_ = ExcludedNodes(graph_, options_.quantization);
    BuildConcatScaleGroups();
  }
}

void PlanCompiler::BuildConcatScaleGroups() {
  if (options_.calibration == nullptr) return;
  std::map<std::string, std::string> parent;
  auto find = [&](std::string v) {
    while (parent.count(v) > 0 && parent[v] != v) v = parent[v];
    return v;
  };
  for (const Node& node : graph_.nodes) {
    if (node.op_type != "Concat" || node.outputs.empty() || Excluded(node)) continue;
    const std::string root = find(node.outputs[0]);
    parent.emplace(root, root);
    for (const std::string& input : node.inputs) {
      if (input.empty() || FindConstant(input) != nullptr) continue;
      const std::string other = find(input);
      parent[other] = root;
    }
  }
  std::map<std::string, TensorRange> group_range;
  for (const auto& [value, unused] : parent) {
    const auto it = options_.calibration->ranges.find(value);
    if (it == options_.calibration->ranges.end()) continue;
    const std::string root = find(value);
    auto [range, inserted] = group_range.emplace(root, it->second);
    if (!inserted) {
      range->second.min = std::min(range->second.min, it->second.min);
      range->second.max = std::max(range->second.max, it->second.max);
    }
  }
  for (const auto& [value, unused] : parent) {
    const auto it = group_range.find(find(value));
    if (it != group_range.end()) concat_group_range_[value] = it->second;
  }
}

const TensorRange* PlanCompiler::CalibratedRange(const std::string& name) const {
  if (const auto it = concat_group_range_.find(name); it != concat_group_range_.end()) {
    return &it->second;
  }
  if (options_.calibration == nullptr) return nullptr;
  const auto it = options_.calibration->ranges.find(name);
  return it == options_.calibration->ranges.end() ? nullptr : &it->second;
}

absl::StatusOr<std::shared_ptr<const Plan>> PlanCompiler::Compile(
    const std::vector<std::vector<int64_t>>& input_shapes) {
  if (options_.int8 && options_.simulated) {
    return absl::InvalidArgumentError("a plan is either int8 or simulated, not both");
  }
  if (options_.int8 || options_.simulated) {
    if (options_.calibration == nullptr) {
      return absl::InvalidArgumentError("int8 and simulated plans need a calibration table");
    }
    QuantizationOptions quantization = options_.quantization;
    quantization.simulate = quantization.simulate || options_.simulated;
    if (options_.int8 && quantization.simulated()) {
      return absl::InvalidArgumentError(
          "quantization: fewer than 8 bits (or simulate) need a simulated plan");
    }
    RETURN_IF_ERROR(ValidateQuantizationOptions(quantization, graph_));
  }
  RETURN_IF_ERROR(shapes_.Run(input_shapes));
  try {
    plan_->engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    for (size_t i = 0; i < graph_.inputs.size(); ++i) {
      RETURN_IF_ERROR(DefineInput(graph_.inputs[i].name, input_shapes[i]));
    }

    for (const Node& node : graph_.nodes) {
      if (shapes_.Evaluated(node)) continue;  // its outputs are constants of this Plan
      const size_t first_step = plan_->steps.size();
      RETURN_IF_ERROR(CompileNode(node));
      RecordExecution(node, first_step);
      for (const std::string& output : node.outputs) {
        if (HasValue(output)) Observe(output);
      }
    }
    for (const ValueInfo& output : graph_.outputs) {
      ASSIGN_OR_RETURN(PlanOutput plan_output, CompileOutput(output.name));
      plan_->outputs.push_back(std::move(plan_output));
    }
    CountBoundaries();
    AssignStorage(*plan_);
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("oneDNN error while compiling the plan: ", e.what()));
  }
  return std::shared_ptr<const Plan>(std::move(plan_));
}

absl::Status PlanCompiler::DefineInput(const std::string& name, const std::vector<int64_t>& shape) {
  // oneDNN has no memory of rank 0, and plain layouts up to rank 6.
  if (shape.empty() || PlainTag(shape.size()) == memory::format_tag::undef) {
    return absl::UnimplementedError(absl::StrCat("graph input '", name, "' has rank ", shape.size(),
                                                 "; the runtime takes inputs of rank 1 to 6"));
  }
  const int buffer = AddBuffer(memory::desc(shape, memory::data_type::f32, PlainTag(shape.size())));
  plan_->inputs.push_back(PlanInput{name, shape, buffer});
  DefineValue(name, shape, buffer, QuantParams{});
  Observe(name);
  return absl::OkStatus();
}

absl::StatusOr<PlanOutput> PlanCompiler::CompileOutput(const std::string& name) {
  if (HasValue(name)) {
    const std::vector<int64_t> dims = Dims(name);
    const memory::desc plain(dims, memory::data_type::f32, PlainTag(dims.size()));
    ASSIGN_OR_RETURN(const int buffer, BufferFor(name, plain, 1.0f, "graph output"));
    return PlanOutput{name, buffer, dims};
  }
  // Computed from constants alone (folded, or evaluated for these input
  // shapes): the Plan holds the answer.
  const Constant* constant = FindConstant(name);
  if (constant == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("graph output '", name, "' is never produced"));
  }
  // Integers (a Shape, a Size) are served as float32 like every output, when
  // each is exactly a float.
  std::vector<float> values = constant->floats;
  if (constant->type != Constant::Type::kFloat32) {
    values.clear();
    for (int64_t v : constant->ints) {
      if (v > (int64_t{1} << 24) || v < -(int64_t{1} << 24)) {
        return absl::UnimplementedError(absl::StrCat("graph output '", name, "' holds the integer ",
                                                     v, ", beyond float32's exact range"));
      }
      values.push_back(static_cast<float>(v));
    }
  }
  // oneDNN has no memory of rank 0: a scalar is held as one element.
  const std::vector<int64_t> dims =
      constant->dims.empty() ? std::vector<int64_t>{1} : constant->dims;
  const int buffer = AddF32Constant(dims, PlainTag(dims.size()), values.data());
  return PlanOutput{name, buffer, constant->dims};
}

const std::vector<int64_t>* PlanCompiler::InferredDims(const std::string& name) const {
  return shapes_.RuntimeDims(name);
}

absl::Status PlanCompiler::CompileNode(const Node& node) {
  for (const std::string& input : node.inputs) {
    if (!input.empty() && !HasValue(input) && FindConstant(input) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input '", input, "' is not defined"));
    }
  }
  const OpDefinition* definition = FindOp(node.op_type);
  if (definition == nullptr) {
    return absl::UnimplementedError(absl::StrCat("op '", node.op_type, "' (node '", node.name,
                                                 "') is not supported by the runtime"));
  }
  if (const auto it = graph_.unrepresented_attributes.find(node.name);
      it != graph_.unrepresented_attributes.end()) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": attribute ", it->second[0],
                                                 " has a type quantd cannot represent"));
  }
  if (!node.post_ops.empty() && !definition->takes_post_ops) {
    return absl::UnimplementedError(
        absl::StrCat(NodeLabel(node), ": fused post-ops on a ", node.op_type));
  }
  return definition->compile(*this, node);
}

void PlanCompiler::RecordExecution(const Node& node, size_t first_step) {
  NodeExecution execution;
  execution.node = node.name;
  execution.op_type = node.op_type;
  const OpDefinition* definition = FindOp(node.op_type);
  if (definition != nullptr && definition->macs != nullptr) {
    execution.macs = definition->macs(node, shapes_);
  }
  auto quantized = [&](int buffer) {
    const memory::data_type type = plan_->buffers[buffer].desc.data_type();
    return type == memory::data_type::u8 || type == memory::data_type::s8;
  };
  for (size_t i = first_step; i < plan_->steps.size(); ++i) {
    const PlanStep& step = plan_->steps[i];
    if (step.IsReorder()) {
      // Data movement (Slice, Transpose) of int8 values; a reorder that only
      // converts a value on its way in or out does not make the node int8.
      execution.int8 |=
          quantized(step.args.at(DNNL_ARG_FROM)) && quantized(step.args.at(DNNL_ARG_TO));
      continue;
    }
    for (const auto& [arg, buffer] : step.args) execution.int8 |= quantized(buffer);
  }
  if (definition != nullptr && definition->view && !node.inputs.empty() &&
      HasValue(node.inputs[0])) {
    execution.int8 = Quant(node.inputs[0]).quantized();
  }
  if (options_.int8 && !execution.int8) execution.fp32_reason = Fp32Reason(node);
  plan_->coverage.nodes.push_back(std::move(execution));
}

std::string PlanCompiler::Fp32Reason(const Node& node) const {
  if (Excluded(node)) return "excluded by the quantization options";
  const OpDefinition* definition = FindOp(node.op_type);
  if (definition == nullptr || definition->int8_input == nullptr) {
    return absl::StrCat("quantd has no int8 kernel for ", node.op_type);
  }
  bool reads_int8 = false;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const std::string& input = node.inputs[i];
    if (input.empty() || !HasValue(input) || !definition->int8_input(*this, node, i)) continue;
    reads_int8 = true;
    if (Quant(input).quantized()) continue;
    if (!CalibratedGrid(input)) return absl::StrCat("input '", input, "' has no calibrated range");
    return absl::StrCat("input '", input, "' arrives as f32");
  }
  // E.g. a MatMul of two runtime values: the op has int8 kernels, this form not.
  if (!reads_int8) return absl::StrCat("quantd has no int8 kernel for this ", node.op_type);
  return "no input it reads as int8 is quantized";
}

void PlanCompiler::CountBoundaries() {
  auto quantized = [](const memory::desc& desc) {
    return desc.data_type() == memory::data_type::u8 || desc.data_type() == memory::data_type::s8;
  };
  for (const PlanStep& step : plan_->steps) {
    if (!step.IsReorder()) continue;
    const memory::desc& from = plan_->buffers[step.args.at(DNNL_ARG_FROM)].desc;
    const memory::desc& to = plan_->buffers[step.args.at(DNNL_ARG_TO)].desc;
    if (!quantized(from) && quantized(to)) {
      ++plan_->coverage.boundaries.quantize;
    } else if (quantized(from) && !quantized(to)) {
      ++plan_->coverage.boundaries.dequantize;
    } else if (quantized(from) && quantized(to) &&
               (from.data_type() != to.data_type() || step.reorder_scale != 1.0f)) {
      ++plan_->coverage.boundaries.requantize;
    } else {
      ++plan_->coverage.boundaries.relayout;
    }
  }
}

bool PlanCompiler::HasValue(const std::string& name) const { return values_.count(name) > 0; }

PlanCompiler::ValueState& PlanCompiler::State(const std::string& name) { return values_.at(name); }

const std::vector<int64_t>& PlanCompiler::Dims(const std::string& name) const {
  return values_.at(name).dims;
}

QuantParams PlanCompiler::Quant(const std::string& name) const {
  const ValueState& state = values_.at(name);
  // A view not materialized yet holds its source's values.
  if (state.buffer < 0 && !state.view_of.empty()) return Quant(state.view_of);
  return state.quant;
}

std::optional<std::string> PlanCompiler::ViewSource(const std::string& name) const {
  const ValueState& state = values_.at(name);
  if (state.view_of.empty()) return std::nullopt;
  return state.view_of;
}

absl::StatusOr<memory::desc> PlanCompiler::CurrentDesc(const std::string& name) {
  RETURN_IF_ERROR(Materialize(name));
  return plan_->buffers[State(name).buffer].desc;
}

const Constant* PlanCompiler::FindConstant(const std::string& name) const {
  return shapes_.FindConstant(name);
}

std::string PlanCompiler::AddPlanConstant(const std::string& name_hint, Constant constant) {
  return shapes_.AddConstant(name_hint, std::move(constant));
}

std::optional<QuantParams> PlanCompiler::CalibratedQuant(const std::string& name) const {
  if (!options_.int8) return std::nullopt;
  const std::optional<ActivationGrid> grid = CalibratedGrid(name);
  if (!grid) return std::nullopt;
  return QuantParamsForGrid(*grid);
}

std::optional<ActivationGrid> PlanCompiler::CalibratedGrid(const std::string& name) const {
  if (!(options_.int8 || options_.simulated) || options_.calibration == nullptr) {
    return std::nullopt;
  }
  const TensorRange* range = CalibratedRange(name);
  if (range == nullptr) return std::nullopt;
  return ActivationGridForRange(*range, options_.quantization);
}

std::optional<ActivationGrid> PlanCompiler::Grid(const std::string& name) const {
  return values_.at(name).grid;
}

void PlanCompiler::SetGrid(const std::string& name, const ActivationGrid& grid) {
  State(name).grid = grid;
}

bool PlanCompiler::ConsumersTakeInt8(const std::string& name) const {
  if (!(options_.int8 || options_.simulated) || is_graph_output_.count(name) > 0) return false;
  const auto it = consumers_.find(name);
  if (it == consumers_.end() || it->second.empty()) return false;
  for (const Node* consumer : it->second) {
    if (shapes_.Evaluated(*consumer)) continue;  // reads only the shape
    if (Excluded(*consumer)) return false;
    if (IsViewOp(consumer->op_type)) {
      if (!ConsumersTakeInt8(consumer->outputs[0])) return false;
    } else if (!ReadsInt8(*consumer, name)) {
      return false;
    }
  }
  return true;
}

bool PlanCompiler::ReadsInt8(const Node& consumer, const std::string& name) const {
  const OpDefinition* definition = FindOp(consumer.op_type);
  if (definition == nullptr || definition->int8_input == nullptr) return false;
  bool read = false;
  for (size_t i = 0; i < consumer.inputs.size(); ++i) {
    if (consumer.inputs[i] != name) continue;
    if (!definition->int8_input(*this, consumer, i)) return false;
    read = true;
  }
  // Otherwise `name` is the node's residual: a fused sum reads it in the
  // node's own (int8) destination domain.
  return read || definition->takes_post_ops;
}

absl::Status RequireRuntimeInput(PlanCompiler& c, const Node& node, size_t min_inputs) {
  if (node.inputs.size() < min_inputs || node.outputs.empty() || node.inputs[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(NodeLabel(node), ": needs ", min_inputs, " input(s) and an output"));
  }
  if (!c.HasValue(node.inputs[0])) {
    return absl::UnimplementedError(absl::StrCat(NodeLabel(node), ": input '", node.inputs[0],
                                                 "' is a constant; the runtime computes only on "
                                                 "values derived from the graph inputs"));
  }
  return absl::OkStatus();
}

bool PlanCompiler::IsLastUseAsSum(const std::string& name, const Node& node) const {
  if (is_graph_output_.count(name) > 0) return false;
  const ValueState& state = values_.at(name);
  if (state.buffer < 0 || !state.view_of.empty()) return false;
  const int root = RootBuffer(state.buffer);
  for (const PlanInput& input : plan_->inputs) {
    if (root == RootBuffer(input.buffer)) return false;
  }
  for (const std::string& input : node.inputs) {
    if (input == name) return false;  // read as a source while being overwritten
  }
  for (const Node* consumer : consumers_.at(name)) {
    if (shapes_.Evaluated(*consumer)) continue;  // reads only the shape
    // Views alias the buffer; later nodes still need the value.
    if (IsViewOp(consumer->op_type) || consumer > &node) return false;
  }
  // The buffer may be an alias (a residual block's output written in place
  // over the previous residual, as another type): every other value stored
  // in the same bytes must be dead by now, or overwriting it loses it.
  for (const auto& [other_name, other] : values_) {
    if (other_name == name || !SharesStorage(other, root)) continue;
    if (is_graph_output_.count(other_name) > 0) return false;
    const auto consumers = consumers_.find(other_name);
    if (consumers == consumers_.end()) continue;
    for (const Node* consumer : consumers->second) {
      if (consumer >= &node) return false;
    }
  }
  return true;
}

int PlanCompiler::RootBuffer(int buffer) const {
  if (buffer < 0) return buffer;
  while (plan_->buffers[buffer].alias_of >= 0) buffer = plan_->buffers[buffer].alias_of;
  return buffer;
}

bool PlanCompiler::SharesStorage(const ValueState& value, int root) const {
  if (value.buffer >= 0 && RootBuffer(value.buffer) == root) return true;
  for (const ValueState::Copy& copy : value.copies) {
    if (RootBuffer(copy.buffer) == root) return true;
  }
  for (const ValueState::Copy& copy : value.fake_quantized_copies) {
    if (RootBuffer(copy.buffer) == root) return true;
  }
  return false;
}

int PlanCompiler::AddBuffer(const memory::desc& desc) {
  plan_->buffers.push_back(PlanBuffer{desc, {}, -1});
  return static_cast<int>(plan_->buffers.size()) - 1;
}

int PlanCompiler::AddAlias(const memory::desc& desc, int target) {
  while (plan_->buffers[target].alias_of >= 0) target = plan_->buffers[target].alias_of;
  plan_->buffers.push_back(PlanBuffer{desc, {}, target});
  return static_cast<int>(plan_->buffers.size()) - 1;
}

int PlanCompiler::AddConstant(memory mem) {
  plan_->buffers.push_back(PlanBuffer{mem.get_desc(), mem, -1});
  return static_cast<int>(plan_->buffers.size()) - 1;
}

int PlanCompiler::AddF32Constant(const memory::dims& dims, memory::format_tag tag,
                                 const float* data) {
  memory mem(memory::desc(dims, memory::data_type::f32, tag), plan_->engine);
  std::memcpy(mem.get_data_handle(), data, mem.get_desc().get_size());
  return AddConstant(std::move(mem));
}

absl::StatusOr<int> PlanCompiler::AddReorderedConstant(const std::string& owner,
                                                       const memory::dims& dims,
                                                       memory::format_tag tag, const float* data,
                                                       const memory::desc& desc, int mask,
                                                       const std::vector<float>& scales) {
  ConstantCache* const cache = options_.constants.get();
  std::optional<ConstantCache::Key> key;
  if (cache != nullptr) {
    const memory::desc plain(dims, memory::data_type::f32, tag);
    const absl::string_view source_bytes(reinterpret_cast<const char*>(data), plain.get_size());
    key = ConstantCache::Key{owner, absl::Hash<absl::string_view>{}(source_bytes), desc, mask,
                             scales};
    if (std::optional<memory> shared = cache->Find(*key)) return AddConstant(*std::move(shared));
  }
  try {
    const memory::desc plain(dims, memory::data_type::f32, tag);
    memory src(plain, plan_->engine, const_cast<float*>(data));
    memory dst(desc, plan_->engine);
    dnnl::primitive_attr attr;
    if (!scales.empty()) attr.set_output_scales(mask, scales);
    const dnnl::reorder::primitive_desc pd(plan_->engine, plain, plan_->engine, desc, attr);
    dnnl::stream stream(plan_->engine);
    dnnl::reorder(pd).execute(stream, src, dst);
    stream.wait();
    if (cache != nullptr) dst = cache->Insert(*std::move(key), std::move(dst));
    return AddConstant(std::move(dst));
  } catch (const dnnl::error& e) {
    return absl::InternalError(absl::StrCat("could not reorder a constant: ", e.what()));
  }
}

void PlanCompiler::AddStep(const std::string& node, dnnl::primitive primitive,
                           std::unordered_map<int, int> args) {
  const dnnl_memory_desc_t* scratchpad =
      dnnl_primitive_desc_query_md(primitive.get_primitive_desc(), dnnl_query_scratchpad_md, 0);
  PlanStep step{node, std::move(primitive), std::move(args), {}};
  if (scratchpad != nullptr) step.scratchpad = memory::desc(*scratchpad);
  plan_->scratchpad_size = std::max(plan_->scratchpad_size, step.scratchpad.get_size());
  plan_->steps.push_back(std::move(step));
}

void PlanCompiler::AddHostStep(const std::string& node, std::shared_ptr<const HostKernel> kernel,
                               int from, int to) {
  PlanStep step{node, {}, {{DNNL_ARG_SRC, from}, {DNNL_ARG_DST, to}}, {}};
  step.kernel = std::move(kernel);
  plan_->steps.push_back(std::move(step));
}

void PlanCompiler::RecordQuantizedValue(const std::string& name, QuantParams quant) {
  plan_->quantized_values[name] = quant;
}

absl::Status PlanCompiler::AddReorderStep(const std::string& node, int from, int to, float scale) {
  if (scale == 1.0f) {
    if (std::optional<StridedCopy> copy =
            PlanStridedCopy(plan_->buffers[from].desc, plan_->buffers[to].desc)) {
      AddHostStep(node, std::make_shared<const StridedCopyKernel>(*std::move(copy)), from, to);
      return absl::OkStatus();
    }
  }
  try {
    dnnl::primitive_attr attr = StepAttr();
    if (scale != 1.0f) attr.set_output_scales(0, {scale});
    const dnnl::reorder::primitive_desc pd(plan_->engine, plan_->buffers[from].desc, plan_->engine,
                                           plan_->buffers[to].desc, attr);
    AddStep(node, dnnl::reorder(pd), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
    plan_->steps.back().reorder_scale = scale;
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("node '", node, "': could not create a reorder: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PlanCompiler::BufferFor(const std::string& name, const memory::desc& desc,
                                            float scale, const std::string& node) {
  RETURN_IF_ERROR(Materialize(name));
  ValueState& state = State(name);
  if (plan_->buffers[state.buffer].desc == desc && state.quant.scale == scale) {
    return state.buffer;
  }
  for (const ValueState::Copy& copy : state.copies) {
    if (copy.desc == desc && copy.scale == scale) return copy.buffer;
  }
  if (state.quant.scale == scale && SameLayout(plan_->buffers[state.buffer].desc, desc)) {
    // The bytes are already laid out as asked (the descs differ only in the
    // strides of one-element dims): read them through an alias.
    const int alias = AddAlias(desc, state.buffer);
    State(name).copies.push_back(ValueState::Copy{desc, scale, alias});
    return alias;
  }
  const int buffer = AddBuffer(desc);
  RETURN_IF_ERROR(AddReorderStep(node, state.buffer, buffer, scale / state.quant.scale));
  State(name).copies.push_back(ValueState::Copy{desc, scale, buffer});
  return buffer;
}

absl::StatusOr<int> PlanCompiler::F32BufferFor(const std::string& name, const std::string& node) {
  ASSIGN_OR_RETURN(memory::desc desc, CurrentDesc(name));
  // Same layout, f32 elements: the blocking description does not depend on
  // the data type.
  desc.data.data_type = dnnl_f32;
  return BufferFor(name, desc, 1.0f, node);
}

absl::StatusOr<int> PlanCompiler::FakeQuantizedBufferFor(const std::string& name,
                                                         const memory::desc& desc,
                                                         const std::string& node) {
  ASSIGN_OR_RETURN(const int buffer, BufferFor(name, desc, 1.0f, node));
  const std::optional<ActivationGrid> grid = CalibratedGrid(name);
  if (State(name).grid || !grid) return buffer;
  for (const ValueState::Copy& copy : State(name).fake_quantized_copies) {
    if (copy.desc == desc) return copy.buffer;
  }
  ASSIGN_OR_RETURN(const int fake, AddFakeQuantSteps(node, buffer, *grid));
  State(name).fake_quantized_copies.push_back(ValueState::Copy{desc, 1.0f, fake});
  return fake;
}

absl::StatusOr<int> PlanCompiler::AddFakeQuantSteps(const std::string& node, int from,
                                                    const ActivationGrid& grid) {
  // Four eltwise steps rather than one with post-ops: oneDNN 2.6 runs an
  // eltwise primitive with post-ops only in its reference kernel.
  const memory::desc desc = plan_->buffers[from].desc;
  const int to = AddBuffer(desc);
  int src = from;
  try {
    for (const EltwiseStage& stage : FakeQuantStages(grid)) {
      const dnnl::eltwise_forward::desc op_desc(dnnl::prop_kind::forward_inference, stage.algorithm,
                                                desc, stage.alpha, stage.beta);
      const dnnl::eltwise_forward::primitive_desc pd(op_desc, StepAttr(), plan_->engine);
      AddStep(node, dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, to}});
      src = to;
    }
  } catch (const dnnl::error& e) {
    return absl::InternalError(
        absl::StrCat("node '", node, "': could not create fake quantization: ", e.what()));
  }
  return to;
}

void PlanCompiler::RecordInt8Input(const Node& node, QuantParams quant) {
  plan_->int8_inputs[node.name] = quant;
}

void PlanCompiler::DefineValue(const std::string& name, std::vector<int64_t> dims, int buffer,
                               QuantParams quant) {
  if (quant.quantized()) plan_->quantized_values[name] = quant;
  ValueState state;
  state.dims = std::move(dims);
  state.buffer = buffer;
  state.quant = quant;
  values_[name] = std::move(state);
}

void PlanCompiler::DefineView(const std::string& name, std::vector<int64_t> dims,
                              const std::string& source) {
  ValueState state;
  state.dims = std::move(dims);
  state.view_of = source;
  values_[name] = std::move(state);
}

absl::Status PlanCompiler::Materialize(const std::string& name) {
  if (State(name).buffer >= 0) return absl::OkStatus();
  // A reshape does not change an int8 value's grid: the view keeps its
  // source's type and scale.
  const std::string source = State(name).view_of;
  RETURN_IF_ERROR(Materialize(source));
  const QuantParams quant = Quant(source);
  const std::vector<int64_t> dims = State(name).dims;
  int buffer = State(source).buffer;
  // Where strides can express the reshape, the view reads the source's bytes
  // in the layout they are in (channels-last stays channels-last); else from
  // a plain copy.
  std::optional<memory::desc> view = ReshapedView(plan_->buffers[buffer].desc, dims);
  if (!view) {
    const std::vector<int64_t>& source_dims = Dims(source);
    const memory::desc plain(source_dims, quant.type, PlainTag(source_dims.size()));
    ASSIGN_OR_RETURN(buffer, BufferFor(source, plain, quant.scale, "view of " + source));
    view = memory::desc(dims, quant.type, PlainTag(dims.size()));
  }
  ValueState& state = State(name);
  state.buffer = AddAlias(*view, buffer);
  state.quant = quant;
  return absl::OkStatus();
}

void PlanCompiler::Observe(const std::string& name) {
  // A view is reported through the buffer of the value it reshapes.
  std::string source = name;
  while (values_.at(source).buffer < 0) source = values_.at(source).view_of;
  const ValueState& state = values_.at(source);
  plan_->observed.push_back(ObservedValue{name, static_cast<int>(plan_->steps.size()), state.buffer,
                                          Dims(name), state.quant.scale});
}

absl::StatusOr<std::shared_ptr<const Plan>> CompilePlan(
    const Graph& graph, const std::vector<std::vector<int64_t>>& input_shapes,
    const PlanOptions& options) {
  PlanCompiler compiler(graph, options);
  return compiler.Compile(input_shapes);
}

absl::StatusOr<std::shared_ptr<const Plan>> CompilePlan(const Graph& graph,
                                                        const std::vector<int64_t>& input_shape,
                                                        const PlanOptions& options) {
  return CompilePlan(graph, std::vector<std::vector<int64_t>>{input_shape}, options);
}

}  // namespace quantd::engine
