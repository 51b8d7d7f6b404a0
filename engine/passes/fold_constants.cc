#include "engine/passes/fold_constants.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/graph/graph.h"
#include "engine/graph/window_geometry.h"
#include "engine/passes/constant_evaluation.h"
#include "engine/passes/graph_rewrite.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

using constant_evaluation::Dim;
using constant_evaluation::EvaluateNode;
using constant_evaluation::IsEvaluableOp;
using constant_evaluation::Folded;
using constant_evaluation::FromConstant;
using constant_evaluation::IntVector;
using constant_evaluation::Known;
using constant_evaluation::KnownInts;
using constant_evaluation::NormalizeAxis;
using constant_evaluation::Product;
using constant_evaluation::SymbolSource;
using constant_evaluation::SymShape;
using constant_evaluation::ToConstant;
using constant_evaluation::Value;
using constant_evaluation::Values;

class ConstantFolder {
 public:
  explicit ConstantFolder(Graph& graph) : graph_(graph) {}

  absl::Status Run();

 private:
  const Value* Lookup(const std::string& name);
  const SymShape* ShapeOf(const std::string& name);
  bool RewriteReshapeTarget(Node& node);
  void InferShape(const Node& node);
  std::optional<SymShape> InferOutputShape(const Node& node);
  Dim ProductDim(const SymShape& shape, size_t begin, size_t end);
  std::optional<SymShape> BroadcastShapes(const Node& node);
  std::optional<SymShape> WindowShape(const Node& node, const SymShape& x, Dim channels,
                                      const std::vector<int64_t>& kernel);
  void RemoveDeadShapeNodes();

  Graph& graph_;
  std::map<std::string, Value> values_;  // constants and partly symbolic results
  std::map<std::string, SymShape> shapes_;
  SymbolSource symbols_;
};


const Value* ConstantFolder::Lookup(const std::string& name) {
  if (const auto it = values_.find(name); it != values_.end()) return &it->second;
  const auto it = graph_.constants.find(name);
  if (it == graph_.constants.end()) return nullptr;
  return &values_.emplace(name, FromConstant(it->second)).first->second;
}

const SymShape* ConstantFolder::ShapeOf(const std::string& name) {
  if (const auto it = shapes_.find(name); it != shapes_.end()) return &it->second;
  // Reads dims without Lookup(), which would copy weights into values_.
  const std::vector<int64_t>* dims = nullptr;
  if (const auto it = values_.find(name); it != values_.end()) {
    dims = &it->second.dims;
  } else if (const auto c = graph_.constants.find(name); c != graph_.constants.end()) {
    dims = &c->second.dims;
  }
  if (dims == nullptr) return nullptr;
  SymShape shape;
  for (int64_t d : *dims) shape.push_back(Known(d));
  return &shapes_.emplace(name, std::move(shape)).first->second;
}

// A Reshape whose target holds symbols: each symbol must be the data's own
// dimension at the same position, which ONNX spells 0 ("copy").
bool ConstantFolder::RewriteReshapeTarget(Node& node) {
  if (node.inputs.size() < 2 || IntAttr(node, "allowzero", 0) != 0) return false;
  const auto it = values_.find(node.inputs[1]);
  const SymShape* data = ShapeOf(node.inputs[0]);
  if (it == values_.end() || data == nullptr || it->second.dims.size() != 1) return false;
  Constant target{
      .type = Constant::Type::kInt64, .dims = it->second.dims, .floats = {}, .ints = {}};
  for (size_t i = 0; i < it->second.ints.size(); ++i) {
    const Dim& d = it->second.ints[i];
    if (d.known()) {
      target.ints.push_back(d.value);
    } else if (i < data->size() && (*data)[i] == d) {
      target.ints.push_back(0);
    } else {
      return false;
    }
  }
  const std::string name = UniqueValueName(graph_, absl::StrCat(node.name, "_shape"));
  values_[name] = FromConstant(target);
  graph_.constants[name] = std::move(target);
  node.inputs[1] = name;
  return true;
}

Dim ConstantFolder::ProductDim(const SymShape& shape, size_t begin, size_t end) {
  int64_t known = 1;
  std::vector<Dim> symbols;
  for (size_t i = begin; i < end && i < shape.size(); ++i) {
    if (shape[i].known()) {
      known *= shape[i].value;
    } else {
      symbols.push_back(shape[i]);
    }
  }
  if (symbols.empty()) return Known(known);
  if (symbols.size() == 1 && known == 1) return symbols[0];
  return symbols_.Fresh();
}

std::optional<SymShape> ConstantFolder::BroadcastShapes(const Node& node) {
  std::vector<const SymShape*> shapes;
  size_t rank = 0;
  for (const std::string& input : node.inputs) {
    if (input.empty()) continue;
    const SymShape* s = ShapeOf(input);
    if (s == nullptr) return std::nullopt;
    shapes.push_back(s);
    rank = std::max(rank, s->size());
  }
  // Per position: a known size other than 1 wins; symbols survive only when
  // every non-1 operand agrees on them.
  SymShape out(rank, Known(1));
  for (size_t i = 0; i < rank; ++i) {
    std::vector<Dim> candidates;
    for (const SymShape* s : shapes) {
      if (i + s->size() < rank) continue;
      const Dim& d = (*s)[i + s->size() - rank];
      if (!(d.known() && d.value == 1)) candidates.push_back(d);
    }
    if (candidates.empty()) continue;
    const auto known =
        std::find_if(candidates.begin(), candidates.end(), [](const Dim& d) { return d.known(); });
    if (known != candidates.end()) {
      out[i] = *known;
    } else if (std::all_of(candidates.begin(), candidates.end(),
                           [&](const Dim& d) { return d == candidates[0]; })) {
      out[i] = candidates[0];
    } else {
      out[i] = symbols_.Fresh();
    }
  }
  return out;
}

// Conv and pooling output: batch and channels, then one spatial size per
// kernel dimension (engine/graph/window_geometry.h); a dynamic spatial size
// stays a symbol.
std::optional<SymShape> ConstantFolder::WindowShape(const Node& node, const SymShape& x,
                                                    Dim channels,
                                                    const std::vector<int64_t>& kernel) {
  const size_t spatial = kernel.size();
  if (x.size() != spatial + 2) return std::nullopt;
  const absl::StatusOr<WindowAttributes> window = ReadWindowAttributes(node, kernel);
  if (!window.ok() || window->kernel.size() != spatial) return std::nullopt;
  SymShape out = {x[0], channels};
  for (size_t i = 0; i < spatial; ++i) {
    if (!x[i + 2].known()) {
      out.push_back(symbols_.Fresh());
      continue;
    }
    WindowAttributes axis = *window;
    axis.kernel = {window->kernel[i]};
    axis.strides = {window->strides[i]};
    axis.dilations = {window->dilations[i]};
    axis.pads = {window->pads[i], window->pads[i + spatial]};
    const absl::StatusOr<WindowGeometry> geometry =
        ComputeWindowGeometry(node, axis, {x[i + 2].value});
    if (!geometry.ok()) return std::nullopt;
    out.push_back(Known(geometry->out[0]));
  }
  return out;
}

const std::set<std::string>& SameShapeOps() {
  static const auto* const kOps = new std::set<std::string>{"Relu",       "Clip",
                                                            "Sigmoid",    "HardSigmoid",
                                                            "HardSwish",  "Tanh",
                                                            "LeakyRelu",  "Elu",
                                                            "Selu",       "Softplus",
                                                            "Softsign",   "Softmax",
                                                            "LogSoftmax", "Dropout",
                                                            "Identity",   "BatchNormalization",
                                                            "LRN",        "InstanceNormalization",
                                                            "Abs",        "Neg",
                                                            "Exp",        "Log",
                                                            "Sqrt",       "Erf",
                                                            "Reciprocal", "Floor",
                                                            "Ceil",       "Cast"};
  return *kOps;
}

std::optional<SymShape> ConstantFolder::InferOutputShape(const Node& node) {
  const std::string& op = node.op_type;
  if (node.inputs.empty() || node.inputs[0].empty()) return std::nullopt;
  const SymShape* x_ptr = ShapeOf(node.inputs[0]);
  if (x_ptr == nullptr) return std::nullopt;
  const SymShape x = *x_ptr;
  const int64_t rank = static_cast<int64_t>(x.size());
  if (SameShapeOps().count(op) > 0) return x;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" || op == "PRelu" ||
      op == "Max" || op == "Min" || op == "Sum" || op == "Mean") {
    return BroadcastShapes(node);
  }
  if (op == "Conv") {
    const SymShape* w = node.inputs.size() > 1 ? ShapeOf(node.inputs[1]) : nullptr;
    if (w == nullptr || w->size() < 3) return std::nullopt;
    std::vector<int64_t> kernel;
    for (size_t i = 2; i < w->size(); ++i) {
      if (!(*w)[i].known()) return std::nullopt;
      kernel.push_back((*w)[i].value);
    }
    return WindowShape(node, x, (*w)[0], FindIntsAttr(node, "kernel_shape").value_or(kernel));
  }
  if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") {
    const std::optional<std::vector<int64_t>> kernel = FindIntsAttr(node, "kernel_shape");
    if (!kernel || rank < 3) return std::nullopt;
    return WindowShape(node, x, x[1], *kernel);
  }
  if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "GlobalLpPool") {
    if (rank < 3) return std::nullopt;
    SymShape out(x.begin(), x.begin() + 2);
    out.resize(rank, Known(1));
    return out;
  }
  if (op == "Flatten") {
    const std::optional<int64_t> axis = IntAttr(node, "axis", 1) == rank
                                            ? std::optional<int64_t>(rank)
                                            : NormalizeAxis(IntAttr(node, "axis", 1), rank);
    if (!axis) return std::nullopt;
    return SymShape{ProductDim(x, 0, *axis), ProductDim(x, *axis, rank)};
  }
  if (op == "Gemm" || op == "MatMul") {
    const SymShape* b = node.inputs.size() > 1 ? ShapeOf(node.inputs[1]) : nullptr;
    if (b == nullptr || rank < 2 || b->size() < 2) return std::nullopt;
    if (op == "Gemm") {
      if (rank != 2 || b->size() != 2) return std::nullopt;
      return SymShape{x[IntAttr(node, "transA", 0) != 0 ? 1 : 0],
                      (*b)[IntAttr(node, "transB", 0) != 0 ? 0 : 1]};
    }
    if (b->size() != 2) return std::nullopt;
    SymShape out(x.begin(), x.end() - 1);
    out.push_back(b->back());
    return out;
  }
  if (op == "Reshape") {
    const Value* target = node.inputs.size() > 1 ? Lookup(node.inputs[1]) : nullptr;
    const std::optional<std::vector<int64_t>> dims = target ? KnownInts(*target) : std::nullopt;
    if (!dims || IntAttr(node, "allowzero", 0) != 0) return std::nullopt;
    SymShape out;
    int infer = -1;
    for (size_t i = 0; i < dims->size(); ++i) {
      if ((*dims)[i] == 0 && i < x.size()) {
        out.push_back(x[i]);
      } else if ((*dims)[i] == -1) {
        infer = static_cast<int>(i);
        out.push_back(Known(1));
      } else {
        out.push_back(Known((*dims)[i]));
      }
    }
    if (infer >= 0) {
      // in = known_in * symbols_in; out without the -1 = known_out * symbols_out.
      std::multiset<int64_t> symbols;
      int64_t known_in = 1, known_out = 1;
      for (const Dim& d : x) {
        if (d.known()) {
          known_in *= d.value;
        } else {
          symbols.insert(d.symbol);
        }
      }
      for (const Dim& d : out) {
        if (d.known()) {
          known_out *= d.value;
        } else if (const auto it = symbols.find(d.symbol); it != symbols.end()) {
          symbols.erase(it);
        } else {
          return std::nullopt;
        }
      }
      if (known_out == 0 || known_in % known_out != 0) return std::nullopt;
      if (symbols.empty()) {
        out[infer] = Known(known_in / known_out);
      } else {
        out[infer] = symbols.size() == 1 && known_in == known_out
                         ? Dim{.value = 0, .symbol = *symbols.begin()}
                         : symbols_.Fresh();
      }
    }
    return out;
  }
  if (op == "Transpose") {
    std::vector<int64_t> perm = FindIntsAttr(node, "perm").value_or(std::vector<int64_t>());
    if (perm.empty()) {
      for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
    }
    if (static_cast<int64_t>(perm.size()) != rank) return std::nullopt;
    SymShape out;
    for (int64_t p : perm) {
      if (p < 0 || p >= rank) return std::nullopt;
      out.push_back(x[p]);
    }
    return out;
  }
  if (op == "Concat") {
    const std::optional<int64_t> axis = NormalizeAxis(IntAttr(node, "axis", 0), rank);
    if (!axis) return std::nullopt;
    SymShape out = x;
    int64_t total = 0;
    bool known = true;
    for (const std::string& input : node.inputs) {
      const SymShape* s = ShapeOf(input);
      if (s == nullptr || static_cast<int64_t>(s->size()) != rank) return std::nullopt;
      known &= (*s)[*axis].known();
      total += (*s)[*axis].value;
    }
    out[*axis] = known ? Known(total) : symbols_.Fresh();
    return out;
  }
  return std::nullopt;
}

void ConstantFolder::InferShape(const Node& node) {
  if (node.outputs.empty() || node.outputs[0].empty()) return;
  if (std::optional<SymShape> shape = InferOutputShape(node)) {
    shapes_[node.outputs[0]] = std::move(*shape);
  }
}

absl::Status ConstantFolder::Run() {
  for (const ValueInfo& input : graph_.inputs) {
    SymShape shape;
    for (int64_t d : input.shape) shape.push_back(d >= 0 ? Known(d) : symbols_.Fresh());
    shapes_[input.name] = std::move(shape);
  }
  std::vector<bool> folded(graph_.nodes.size(), false);
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    Node& node = graph_.nodes[n];
    if (IsEvaluableOp(node.op_type) && !node.inputs.empty()) {
      std::vector<const Value*> in;
      bool all_values = true;
      for (const std::string& input : node.inputs) {
        in.push_back(input.empty() ? nullptr : Lookup(input));
        all_values &= input.empty() || in.back() != nullptr;
      }
      Folded results;
      if (node.op_type == "Shape" || node.op_type == "Size" || all_values) {
        ASSIGN_OR_RETURN(results,
                         EvaluateNode(node, in, ShapeOf(node.inputs[0]), symbols_));
      }
      if (results && results->size() == node.outputs.size()) {
        bool keep = false;
        for (size_t i = 0; i < node.outputs.size(); ++i) {
          keep |= !(*results)[i].known() || IsGraphOutput(graph_, node.outputs[i]);
          values_[node.outputs[i]] = (*results)[i];
        }
        if (!keep) {
          for (size_t i = 0; i < node.outputs.size(); ++i) {
            graph_.constants[node.outputs[i]] = ToConstant((*results)[i]);
          }
          folded[n] = true;
          continue;
        }
      }
    }
    if (node.op_type == "Reshape" && node.inputs.size() > 1 &&
        graph_.constants.count(node.inputs[1]) == 0 && values_.count(node.inputs[1]) > 0) {
      RewriteReshapeTarget(node);
    }
    InferShape(node);
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!folded[n]) kept.push_back(std::move(graph_.nodes[n]));
  }
  graph_.nodes = std::move(kept);
  RemoveDeadShapeNodes();
  return absl::OkStatus();
}

// Symbolic shape arithmetic whose consumers were rewritten leaves nodes no
// one reads; they are pure, so dropping them is safe.
void ConstantFolder::RemoveDeadShapeNodes() {
  std::map<std::string, int> uses;
  for (const Node& node : graph_.nodes) {
    for (const std::string& input : node.inputs) ++uses[input];
    for (const PostOp& post_op : node.post_ops) {
      if (post_op.kind == PostOp::Kind::kSum) ++uses[post_op.sum_input];
    }
  }
  for (const ValueInfo& output : graph_.outputs) ++uses[output.name];
  std::vector<bool> dead(graph_.nodes.size(), false);
  for (size_t n = graph_.nodes.size(); n-- > 0;) {
    const Node& node = graph_.nodes[n];
    if (!IsEvaluableOp(node.op_type) || !node.post_ops.empty()) continue;
    bool used = false;
    for (const std::string& output : node.outputs) used |= uses[output] > 0;
    if (used) continue;
    dead[n] = true;
    for (const std::string& input : node.inputs) --uses[input];
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (!dead[n]) kept.push_back(std::move(graph_.nodes[n]));
  }
  graph_.nodes = std::move(kept);
}

}  // namespace

absl::Status FoldConstants(Graph& graph) { return ConstantFolder(graph).Run(); }

}  // namespace quantd::engine
