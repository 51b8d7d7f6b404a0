#ifndef QUANTD_ENGINE_RUNTIME_PLAN_COMPILER_H_
#define QUANTD_ENGINE_RUNTIME_PLAN_COMPILER_H_

// Compiles a post-pass Graph into a Plan for one shape of each graph input.
// The per-operator compile functions (conv_op.cc, inner_product_op.cc, ...)
// build on the PlanCompiler's value bookkeeping: where each value lives
// (buffer, layout, data type, quantization scale) and how to get it into the
// layout a primitive asks for.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/graph/node_attributes.h"
#include "engine/quant/calibration_table.h"
#include "engine/quant/quantization_options.h"
#include "engine/runtime/constant_cache.h"
#include "engine/runtime/op_registry.h"
#include "engine/runtime/plan.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/runtime/shape_inference.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace quantd::engine {

struct PlanOptions {
  // Real int8: quantized weights and activations run int8 oneDNN kernels.
  bool int8 = false;
  // Simulated: an fp32 Plan whose weights and quantized activations are
  // rounded to `quantization`'s bit widths (fake quantization). Exclusive
  // with int8.
  bool simulated = false;
  const CalibrationTable* calibration = nullptr;  // required when int8 or simulated
  QuantizationOptions quantization = {};
  // fp32 3x3 convolutions may use Winograd where oneDNN has a kernel for them.
  bool fp32_winograd = true;
  // Reordered weights shared with the session's other Plans (null: this Plan
  // keeps its own). Every Plan compiled with one cache must use the same
  // graph and the same options otherwise.
  std::shared_ptr<ConstantCache> constants;
};

// Compiles `graph` (after RunStandardPasses) for `input_shapes`, one per
// graph input in graph order.
absl::StatusOr<std::shared_ptr<const Plan>> CompilePlan(
    const Graph& graph, const std::vector<std::vector<int64_t>>& input_shapes,
    const PlanOptions& options);
// The same for a graph with one input.
absl::StatusOr<std::shared_ptr<const Plan>> CompilePlan(const Graph& graph,
                                                        const std::vector<int64_t>& input_shape,
                                                        const PlanOptions& options);

// Symmetric u8 (min >= 0) or s8 parameters for a calibrated range (the
// default QuantizationOptions).
QuantParams QuantParamsForRange(const TensorRange& range);
// Storage of a real int8 activation on `grid` (which has no zero point).
QuantParams QuantParamsForGrid(const ActivationGrid& grid);

class PlanCompiler {
 public:
  PlanCompiler(const Graph& graph, const PlanOptions& options);

  absl::StatusOr<std::shared_ptr<const Plan>> Compile(
      const std::vector<std::vector<int64_t>>& input_shapes);

  // --- For the operator compile functions. ---
  const Graph& graph() const { return graph_; }
  const dnnl::engine& engine() const { return plan_->engine; }
  bool int8() const { return options_.int8; }
  bool simulated() const { return options_.simulated; }
  const QuantizationOptions& quantization() const { return options_.quantization; }
  // Whether `node` runs fp32 in an int8 or simulated Plan.
  bool Excluded(const Node& node) const { return excluded_.count(node.name) > 0; }
  bool fp32_winograd() const { return options_.fp32_winograd; }

  // Every value's dims for this Plan's input shapes, inferred before any node
  // compiles (so a producer can look at how its consumers will read).
  const ShapeContext& shapes() const { return shapes_; }
  // The inferred dims of a runtime value (nullptr: none inferred).
  const std::vector<int64_t>* InferredDims(const std::string& name) const;

  bool HasValue(const std::string& name) const;
  const std::vector<int64_t>& Dims(const std::string& name) const;
  QuantParams Quant(const std::string& name) const;
  // The producer's memory desc (materializes views first).
  absl::StatusOr<dnnl::memory::desc> CurrentDesc(const std::string& name);
  // If `name` is a Flatten/Reshape view of another value: that value.
  std::optional<std::string> ViewSource(const std::string& name) const;

  // A graph constant, or one made while compiling this Plan.
  const Constant* FindConstant(const std::string& name) const;
  // Adds a constant for this Plan only (e.g. the weights of an op compiled as
  // a convolution); returns its name, unique in the graph.
  std::string AddPlanConstant(const std::string& name_hint, Constant constant);
  // Calibrated parameters for `name` (nullopt when not int8 or uncalibrated).
  std::optional<QuantParams> CalibratedQuant(const std::string& name) const;
  // The calibrated grid of `name` (nullopt when neither int8 nor simulated,
  // or uncalibrated).
  std::optional<ActivationGrid> CalibratedGrid(const std::string& name) const;
  // Simulated Plans: the grid `name`'s f32 values already lie on (set by a
  // producer that fake-quantized them), if any.
  std::optional<ActivationGrid> Grid(const std::string& name) const;
  void SetGrid(const std::string& name, const ActivationGrid& grid);
  // Whether every consumer of `name` reads it as int8 (and it is no graph
  // output, and no consumer is excluded): then producers may store it
  // quantized (or, simulated, fake-quantize it).
  bool ConsumersTakeInt8(const std::string& name) const;
  // Whether `node` is the last reader of `name` and reads it only as its kSum
  // input, so the node may accumulate into the value's buffer in place.
  bool IsLastUseAsSum(const std::string& name, const Node& node) const;
  // The buffer holding `name` (-1 for a view not yet materialized).
  int BufferOf(const std::string& name) const { return values_.at(name).buffer; }
  const dnnl::memory::desc& BufferDesc(int buffer) const { return plan_->buffers[buffer].desc; }

  int AddBuffer(const dnnl::memory::desc& desc);
  int AddConstant(dnnl::memory memory);
  // Another view (`desc`, same bytes) of buffer `target`.
  int AddAlias(const dnnl::memory::desc& desc, int target);
  // A constant memory of plain layout `tag` holding `data` (f32).
  int AddF32Constant(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag,
                     const float* data);
  // Reorders plain f32 `data` (`dims`, `tag`) into `desc`, once, at compile
  // time; with `scales`/`mask` quantizes (s8 weights). `owner` names the node
  // whose weights these are: with PlanOptions::constants, a Plan of the same
  // session that already reordered them into the same `desc` lends its copy.
  absl::StatusOr<int> AddReorderedConstant(const std::string& owner, const dnnl::memory::dims& dims,
                                           dnnl::memory::format_tag tag, const float* data,
                                           const dnnl::memory::desc& desc, int mask,
                                           const std::vector<float>& scales);
  void AddStep(const std::string& node, dnnl::primitive primitive,
               std::unordered_map<int, int> args);
  // Adds a step running `kernel` from buffer `from` into buffer `to`.
  void AddHostStep(const std::string& node, std::shared_ptr<const HostKernel> kernel, int from,
                   int to);
  // Records that the Plan rounds `name` onto `quant` although `name` has no
  // buffer of its own here (e.g. a fused activation's input; QDQ export).
  void RecordQuantizedValue(const std::string& name, QuantParams quant);
  // Adds a step reordering buffer `from` into buffer `to` with x_to = x_from *
  // scale (type conversion and layout change included).
  absl::Status AddReorderStep(const std::string& node, int from, int to, float scale);

  // Buffer holding `name` in exactly `desc` with quantization multiplier
  // `scale` (1 for f32), reordering (and caching the copy) when needed.
  absl::StatusOr<int> BufferFor(const std::string& name, const dnnl::memory::desc& desc,
                                float scale, const std::string& node);
  // Buffer holding `name` as f32 in its current layout.
  absl::StatusOr<int> F32BufferFor(const std::string& name, const std::string& node);
  // Simulated Plans: buffer holding `name` in f32 `desc`, on its grid: as
  // stored when a producer fake-quantized it, else fake-quantized here with
  // its calibrated grid (unchanged when uncalibrated).
  absl::StatusOr<int> FakeQuantizedBufferFor(const std::string& name,
                                             const dnnl::memory::desc& desc,
                                             const std::string& node);
  // Adds steps fake-quantizing f32 buffer `from` onto `grid` into a new
  // buffer of the same desc; returns it.
  absl::StatusOr<int> AddFakeQuantSteps(const std::string& node, int from,
                                        const ActivationGrid& grid);

  // Records that int8 `node` reads its input 0 as `quant` (QDQ export).
  void RecordInt8Input(const Node& node, QuantParams quant);
  // Records `name` as produced into `buffer`.
  void DefineValue(const std::string& name, std::vector<int64_t> dims, int buffer,
                   QuantParams quant);
  // Records `name` as a row-major reshape of `source` (no step until a
  // consumer needs its own buffer).
  void DefineView(const std::string& name, std::vector<int64_t> dims, const std::string& source);

 private:
  struct ValueState {
    std::vector<int64_t> dims;
    int buffer = -1;  // -1 for a view not yet materialized
    QuantParams quant;
    std::string view_of;
    struct Copy {
      dnnl::memory::desc desc;
      float scale;
      int buffer;
    };
    std::vector<Copy> copies;
    std::optional<ActivationGrid> grid;  // simulated: values already on this grid
    std::vector<Copy> fake_quantized_copies;
  };

  // Defines graph input `name` of `shape`: a plain f32 buffer the
  // ExecutionContext fills.
  absl::Status DefineInput(const std::string& name, const std::vector<int64_t>& shape);
  // The plain f32 buffer graph output `name` is read from.
  absl::StatusOr<PlanOutput> CompileOutput(const std::string& name);
  // Concat inputs and outputs share one grid (int8: a concat then copies
  // bytes): the union of their calibrated ranges, per group.
  void BuildConcatScaleGroups();
  const TensorRange* CalibratedRange(const std::string& name) const;
  absl::Status CompileNode(const Node& node);
  // Records how `node` (whose steps start at `first_step`) runs.
  void RecordExecution(const Node& node, size_t first_step);
  std::string Fp32Reason(const Node& node) const;
  void CountBoundaries();
  // Whether `consumer` reads `name` (its input, or its residual sum) as int8.
  bool ReadsInt8(const Node& consumer, const std::string& name) const;
  absl::Status Materialize(const std::string& name);
  ValueState& State(const std::string& name);
  void Observe(const std::string& name);
  // The buffer whose bytes `buffer` views (itself unless an alias).
  int RootBuffer(int buffer) const;
  // Whether `value` (its buffer or any of its copies) lives in `root`'s bytes.
  bool SharesStorage(const ValueState& value, int root) const;

  const Graph& graph_;
  PlanOptions options_;
  ShapeInference shapes_;
  std::unique_ptr<Plan> plan_;
  std::map<std::string, ValueState> values_;
  std::map<std::string, std::vector<const Node*>> consumers_;
  std::map<std::string, bool> is_graph_output_;
  std::set<std::string> excluded_;
  std::map<std::string, TensorRange> concat_group_range_;  // by member value
};

// Shared by the op files.
// Attributes every plan primitive starts from. The scratchpad is supplied by
// the ExecutionContext: oneDNN's default library-owned scratchpad would tie a
// primitive to the thread that created it.
dnnl::primitive_attr StepAttr();
absl::Status DnnlError(const Node& node, const dnnl::error& e);
// OK when inputs[0] is a runtime value; Unimplemented for a constant (which
// constant folding should have removed), InvalidArgument for a malformed node.
absl::Status RequireRuntimeInput(PlanCompiler& c, const Node& node, size_t min_inputs = 1);
dnnl::memory::format_tag PlainTag(size_t rank);
// A buffer holding runtime value `name` as plain f32, broadcast (ONNX,
// right-aligned) to `out`: the value's own when it has those dims, else one
// a step fills by adding it to zeros (oneDNN's binary broadcasts only its
// second source). UNIMPLEMENTED when it does not broadcast to `out`.
absl::StatusOr<int> BroadcastF32(PlanCompiler& c, const std::string& name,
                                 const std::vector<int64_t>& out, const Node& node);
// The domain a primitive's post-ops compute in. An int8 producer whose fused
// post-ops all commute with scaling (ReLU, Clip, the residual sum) runs them
// directly on x_real * dst_scale, folded into its output scales; with a
// Sigmoid, HardSwish, ... they run on real values and a final eltwise
// multiplies by `final_scale` into the quantized destination.
struct PostOpDomain {
  float scale = 1.0f;        // post-ops see x_real * scale
  float final_scale = 1.0f;  // != 1: a last step multiplies by it
};
PostOpDomain ChoosePostOpDomain(const Node& node, QuantParams dst_quant);
// How oneDNN's sum post-op reads the residual placed in dst: scale into the
// post-ops' domain, and the data type to reinterpret dst's bytes as (undef:
// dst's own type).
struct ResidualSum {
  float scale = 1.0f;
  dnnl::memory::data_type type = dnnl::memory::data_type::undef;
};
ResidualSum SumParams(PlanCompiler& c, const Node& node, QuantParams dst_quant,
                      PostOpDomain domain);
// A PostOp other than kSum as oneDNN eltwise operations, applied in order
// (HardSigmoid needs two).
struct EltwiseStage {
  dnnl::algorithm algorithm;
  float alpha = 0.0f;
  float beta = 0.0f;
};
std::vector<EltwiseStage> EltwiseStages(const PostOp& op);
// Whether a post-op commutes with scaling x by a positive factor (so it may
// run on a quantized destination with its bounds scaled).
bool IsScaleInvariant(const PostOp& op);
// dnnl::post_ops for the node's fused PostOps in `domain` (f32 producers:
// the default, real values).
absl::StatusOr<dnnl::post_ops> MakePostOps(const Node& node, PostOpDomain domain, ResidualSum sum);
// The destination buffer of a primitive with the node's post-ops. With a
// kSum, oneDNN accumulates into dst: when this node is the residual's last
// reader and the layouts match, dst *is* the residual's buffer (in place);
// otherwise a step first copies the residual into dst as SumParams() expects.
absl::StatusOr<int> SumDestination(PlanCompiler& c, const Node& node,
                                   const dnnl::memory::desc& dst_desc, QuantParams dst_quant);
// The output grid of a quantized conv/inner-product node (nullopt: f32).
std::optional<ActivationGrid> ChooseDstGrid(PlanCompiler& c, const Node& node);
// The output quantization of an int8 conv/inner-product node.
QuantParams ChooseDstQuant(PlanCompiler& c, const Node& node);
// Eltwise stages rounding f32 values onto `grid` (simulated Plans): scale,
// round, clip, scale back.
std::vector<EltwiseStage> FakeQuantStages(const ActivationGrid& grid);
// The same stages appended as post-ops.
void AppendFakeQuant(dnnl::post_ops& ops, const ActivationGrid& grid);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_PLAN_COMPILER_H_
