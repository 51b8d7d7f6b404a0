#ifndef QUANTD_ENGINE_RUNTIME_OP_REGISTRY_H_
#define QUANTD_ENGINE_RUNTIME_OP_REGISTRY_H_

// The one table of the ONNX operators quantd runs, in the spirit of ncnn's
// layer registry and ONNX Runtime's kernel registry. Each operator family
// (conv_op.cc, pooling_op.cc, ...) registers its ops once, with everything the
// rest of the engine needs to know about them:
//  - the upload-time support check (InspectModel reports ops with no entry),
//  - the shape rule (the Plan compiler infers every value's dims for the
//    input shape before it compiles a node),
//  - the compile function (oneDNN primitives for one node),
//  - the int8 capability (which inputs it reads as u8/s8 in an int8 Plan, so
//    their producers may store them quantized), and whether it takes fused
//    post-ops or is a view.
// Adding an op is one entry in its family file plus its differential test.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/graph/graph.h"

namespace quantd::engine {

class PlanCompiler;

// What a shape rule may look at: the dims of any input (a runtime value whose
// shape is already inferred, or a constant) and the contents of constants.
class ShapeContext {
 public:
  virtual ~ShapeContext() = default;
  // nullptr when `value` is neither inferred yet nor a constant.
  virtual const std::vector<int64_t>* Dims(const std::string& value) const = 0;
  virtual const Constant* FindConstant(const std::string& value) const = 0;
  virtual int64_t opset_version() const = 0;
};

using Shape = std::vector<int64_t>;
// One shape per node output. Errors name the node: INVALID_ARGUMENT for a
// malformed node, UNIMPLEMENTED for a valid one quantd cannot run.
using ShapeRule = absl::StatusOr<std::vector<Shape>> (*)(const Node& node,
                                                         const ShapeContext& shapes);
using CompileFunction = absl::Status (*)(PlanCompiler& compiler, const Node& node);
// Whether `node` reads its input `index` as int8 when the Plan is int8 and
// the input's producer stored it quantized. Called before `node` is
// compiled, with every value's dims already inferred.
using Int8Input = bool (*)(const PlanCompiler& compiler, const Node& node, size_t index);
// Multiply-accumulates of one run of `node` (its inputs' and outputs' dims
// inferred); the int8 coverage report weighs nodes by them.
using MacCount = int64_t (*)(const Node& node, const ShapeContext& shapes);

struct OpDefinition {
  std::string op_type;
  // Both nullptr for ops evaluated only on constants and shapes while a Plan
  // compiles (shape_ops.cc).
  ShapeRule shape = nullptr;
  CompileFunction compile = nullptr;
  Int8Input int8_input = nullptr;  // nullptr: reads f32 only
  MacCount macs = nullptr;         // nullptr: no multiply-accumulates to speak of
  // Fused activations (and, on Conv, a residual sum) may be moved into the
  // node as PostOps.
  bool takes_post_ops = false;
  // A row-major reinterpretation of its input (Flatten, Reshape, Identity,
  // Dropout): no step until a consumer needs its own buffer, and int8 flows
  // through it when every consumer of its output reads int8.
  bool view = false;
};

// nullptr when quantd does not run `op_type` (default ONNX domain).
const OpDefinition* FindOp(std::string_view op_type);
// Every registered op, sorted by op type.
const std::vector<const OpDefinition*>& AllOps();

// Int8Input for ops that read only their first input as int8.
bool Int8FirstInput(const PlanCompiler& compiler, const Node& node, size_t index);
// Product of `dims` (1 for a scalar).
int64_t NumElements(const std::vector<int64_t>& dims);
// Ops whose output size a model's attributes or constants choose (Tile's
// repeats, Pad's pads) keep it below this many elements (1 GiB of f32), so a
// model cannot make the server allocate without bound.
inline constexpr int64_t kMaxComputedElements = int64_t{1} << 28;
// INVALID_ARGUMENT naming `node` when `dims` hold more than
// kMaxComputedElements elements (products that overflow included).
absl::Status CheckComputedSize(const Node& node, const std::vector<int64_t>& dims);
// MacCount for ops whose every output element takes one dot product over
// the elements of their second input (the weight) except its first axis:
// Conv ([OC, C/group, kH, kW]).
int64_t MacsPerOutputTimesWeightRow(const Node& node, const ShapeContext& shapes);
// A shape rule for ops whose outputs have their first input's shape.
absl::StatusOr<std::vector<Shape>> SameShapeAsInput(const Node& node, const ShapeContext& shapes);
// A shape rule for ops whose single output is their (non-empty) inputs'
// shapes broadcast together (ONNX multidirectional broadcasting).
absl::StatusOr<std::vector<Shape>> BroadcastInputs(const Node& node, const ShapeContext& shapes);
// numpy broadcasting of `shapes`; INVALID_ARGUMENT names the node.
absl::StatusOr<Shape> BroadcastShapes(const Node& node, const std::vector<Shape>& shapes);

// Registration, one function per operator family file.
void RegisterConvOps(std::vector<OpDefinition>& ops);           // conv_op.cc
void RegisterConvTransposeOps(std::vector<OpDefinition>& ops);  // conv_transpose_op.cc
void RegisterInnerProductOps(std::vector<OpDefinition>& ops);   // inner_product_op.cc
void RegisterPoolingOps(std::vector<OpDefinition>& ops);        // pooling_op.cc
void RegisterEltwiseOps(std::vector<OpDefinition>& ops);        // eltwise_op.cc
void RegisterBinaryOps(std::vector<OpDefinition>& ops);         // binary_op.cc
void RegisterBatchNormOps(std::vector<OpDefinition>& ops);      // batch_norm_op.cc
void RegisterLayerNormOps(std::vector<OpDefinition>& ops);      // layer_norm_op.cc
void RegisterReshapeOps(std::vector<OpDefinition>& ops);        // reshape_op.cc
void RegisterResizeOps(std::vector<OpDefinition>& ops);         // resize_op.cc
void RegisterConcatOps(std::vector<OpDefinition>& ops);         // concat_op.cc
void RegisterSoftmaxOps(std::vector<OpDefinition>& ops);        // softmax_op.cc
void RegisterPReluOps(std::vector<OpDefinition>& ops);          // prelu_op.cc
void RegisterDataMovementOps(std::vector<OpDefinition>& ops);   // data_movement_op.cc
void RegisterSliceOps(std::vector<OpDefinition>& ops);          // slice_op.cc
void RegisterReduceOps(std::vector<OpDefinition>& ops);         // reduce_op.cc
void RegisterShapeOps(std::vector<OpDefinition>& ops);          // shape_ops.cc
void RegisterVariadicOps(std::vector<OpDefinition>& ops);       // variadic_op.cc
void RegisterUnaryMathOps(std::vector<OpDefinition>& ops);      // unary_math_op.cc
void RegisterInstanceNormOps(std::vector<OpDefinition>& ops);   // instance_norm_op.cc
void RegisterTileOps(std::vector<OpDefinition>& ops);           // tile_op.cc
void RegisterArgExtremeOps(std::vector<OpDefinition>& ops);     // arg_extreme_op.cc

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_OP_REGISTRY_H_
