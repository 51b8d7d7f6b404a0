#ifndef QUANTD_ENGINE_PASSES_CONSTANT_EVALUATION_H_
#define QUANTD_ENGINE_PASSES_CONSTANT_EVALUATION_H_

// Evaluation of single ONNX ops on tensors known at load time, for the
// FoldConstants pass (fold_constants.h). Integer tensors may be partly
// symbolic, so the shape arithmetic exporters emit around a dynamic batch
// still evaluates.
//
// Internal to engine/passes. The names live in their own namespace because
// they are generic (Value, Dim, Product) and engine/runtime declares
// attribute readers with the same signatures but other semantics.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/graph/node_attributes.h"

namespace quantd::engine::constant_evaluation {

// An integer element or dimension: a known value, or a symbol standing for a
// size only known at run time (the batch). Equal symbols are equal sizes.
struct Dim {
  int64_t value = 0;
  int64_t symbol = 0;  // 0 when the value is known
  bool known() const { return symbol == 0; }
  bool operator==(const Dim&) const = default;
};
using SymShape = std::vector<Dim>;

inline Dim Known(int64_t v) { return Dim{.value = v, .symbol = 0}; }

// Hands out symbols for sizes only known at run time, each one distinct from
// every symbol handed out before. One per FoldConstants run.
class SymbolSource {
 public:
  Dim Fresh() { return Dim{.value = 0, .symbol = next_symbol_++}; }

 private:
  int64_t next_symbol_ = 1;
};

// A tensor computed at load time. Float tensors are always fully known;
// integer ones may hold symbols (the output of Shape on a dynamic tensor).
struct Value {
  Constant::Type type = Constant::Type::kInt64;
  std::vector<int64_t> dims;
  std::vector<float> floats;
  std::vector<Dim> ints;

  bool is_float() const { return type == Constant::Type::kFloat32; }
  int64_t size() const { return static_cast<int64_t>(is_float() ? floats.size() : ints.size()); }
  bool known() const {
    return std::all_of(ints.begin(), ints.end(), [](const Dim& d) { return d.known(); });
  }
};

using Values = std::vector<Value>;
// nullopt: the folder does not handle this node (op, attributes or types).
using Folded = std::optional<Values>;

// Product of dims[begin, end).
int64_t Product(const std::vector<int64_t>& dims, size_t begin, size_t end);
int64_t Product(const std::vector<int64_t>& dims, size_t begin = 0);

Value FromConstant(const Constant& c);
Constant ToConstant(const Value& v);
Value IntVector(const std::vector<Dim>& elems, std::vector<int64_t> dims);
// The integer elements, when every one is known.
std::optional<std::vector<int64_t>> KnownInts(const Value& v);

// Normalizes a possibly negative axis against `rank`; nullopt when invalid.
std::optional<int64_t> NormalizeAxis(int64_t axis, int64_t rank);

// The most elements a tensor computed from constants (at load time, or when a
// Plan is compiled for an input shape) may have. A model asking for more
// (ConstantOfShape of [65536, 65536], Range over 2^40, ...) is refused with
// INVALID_ARGUMENT naming the node and this limit instead of making the
// server allocate gigabytes while it merely inspects the model.
inline constexpr int64_t kMaxEvaluatedElements = int64_t{1} << 24;

// The element count of `dims`; INVALID_ARGUMENT naming `node` for a negative
// dimension or a count above kMaxEvaluatedElements (also catches products
// that would overflow).
absl::StatusOr<int64_t> CheckedElementCount(const Node& node, const std::vector<int64_t>& dims);

// Whether EvaluateNode handles `op_type` (the ops of exporters' shape
// arithmetic, and element-wise Add/Sub/Mul/Div).
bool IsEvaluableOp(std::string_view op_type);

// Evaluates `node` from what is known of its inputs: `in` holds one entry per
// input (nullptr: omitted, or not known), `input0_shape` the shape of input 0
// when known (Shape and Size need nothing else, so they evaluate on runtime
// tensors). Returns the node's outputs, nullopt when the node cannot be
// evaluated (an unknown input, an op or attribute combination it does not
// handle), or INVALID_ARGUMENT naming the node (an index out of range, a
// result beyond kMaxEvaluatedElements).
absl::StatusOr<Folded> EvaluateNode(const Node& node, const std::vector<const Value*>& in,
                                    const SymShape* input0_shape, SymbolSource& symbols);

}  // namespace quantd::engine::constant_evaluation

#endif  // QUANTD_ENGINE_PASSES_CONSTANT_EVALUATION_H_
