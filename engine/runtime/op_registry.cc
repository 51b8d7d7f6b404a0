#include "engine/runtime/op_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/graph/node_attributes.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

struct Registry {
  std::vector<OpDefinition> definitions;
  std::vector<const OpDefinition*> sorted;
  std::map<std::string, const OpDefinition*, std::less<>> by_type;
};

const Registry& TheRegistry() {
  static const Registry* const registry = [] {
    auto* r = new Registry;
    RegisterConvOps(r->definitions);
    RegisterConvTransposeOps(r->definitions);
    RegisterInnerProductOps(r->definitions);
    RegisterPoolingOps(r->definitions);
    RegisterEltwiseOps(r->definitions);
    RegisterBinaryOps(r->definitions);
    RegisterBatchNormOps(r->definitions);
    RegisterLayerNormOps(r->definitions);
    RegisterReshapeOps(r->definitions);
    RegisterResizeOps(r->definitions);
    RegisterConcatOps(r->definitions);
    RegisterSoftmaxOps(r->definitions);
    RegisterPReluOps(r->definitions);
    RegisterDataMovementOps(r->definitions);
    RegisterSliceOps(r->definitions);
    RegisterReduceOps(r->definitions);
    RegisterShapeOps(r->definitions);
    RegisterVariadicOps(r->definitions);
    RegisterUnaryMathOps(r->definitions);
    RegisterInstanceNormOps(r->definitions);
    RegisterTileOps(r->definitions);
    RegisterArgExtremeOps(r->definitions);
    for (const OpDefinition& definition : r->definitions) {
      // A second registration of one op type would make the table ambiguous:
      // fail loudly at start-up rather than pick one.
      if (!r->by_type.emplace(definition.op_type, &definition).second) {
        std::fprintf(stderr, "op '%s' is registered twice\n", definition.op_type.c_str());
        std::abort();
      }
      r->sorted.push_back(&definition);
    }
    std::sort(r->sorted.begin(), r->sorted.end(),
              [](const OpDefinition* a, const OpDefinition* b) { return a->op_type < b->op_type; });
    return r;
  }();
  return *registry;
}

}  // namespace

const OpDefinition* FindOp(std::string_view op_type) {
  const Registry& registry = TheRegistry();
  const auto it = registry.by_type.find(op_type);
  return it == registry.by_type.end() ? nullptr : it->second;
}

const std::vector<const OpDefinition*>& AllOps() { return TheRegistry().sorted; }

bool Int8FirstInput(const PlanCompiler& /*compiler*/, const Node& /*node*/, size_t index) {
  return index == 0;
}

int64_t NumElements(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

absl::Status CheckComputedSize(const Node& node, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > kMaxComputedElements) {
      return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": output [",
                                                     absl::StrJoin(dims, ","), "] exceeds ",
                                                     kMaxComputedElements, " elements"));
    }
  }
  return absl::OkStatus();
}

int64_t MacsPerOutputTimesWeightRow(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* out = shapes.Dims(node.outputs[0]);
  const std::vector<int64_t>* w = node.inputs.size() > 1 ? shapes.Dims(node.inputs[1]) : nullptr;
  if (out == nullptr || w == nullptr || w->empty() || (*w)[0] == 0) return 0;
  return NumElements(*out) * (NumElements(*w) / (*w)[0]);
}

absl::StatusOr<std::vector<Shape>> SameShapeAsInput(const Node& node, const ShapeContext& shapes) {
  const std::vector<int64_t>* dims = node.inputs.empty() ? nullptr : shapes.Dims(node.inputs[0]);
  if (dims == nullptr)
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs an input"));
  return std::vector<Shape>(node.outputs.size(), *dims);
}

absl::StatusOr<std::vector<Shape>> BroadcastInputs(const Node& node, const ShapeContext& shapes) {
  std::vector<Shape> inputs;
  for (const std::string& input : node.inputs) {
    if (input.empty()) continue;
    const std::vector<int64_t>* dims = shapes.Dims(input);
    if (dims == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(NodeLabel(node), ": input '", input, "' is not defined"));
    }
    inputs.push_back(*dims);
  }
  if (inputs.empty() || node.outputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(NodeLabel(node), ": needs inputs"));
  }
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(node, inputs));
  return std::vector<Shape>{std::move(out)};
}

absl::StatusOr<Shape> BroadcastShapes(const Node& node, const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& shape : shapes) rank = std::max(rank, shape.size());
  Shape out(rank, 1);
  for (const Shape& shape : shapes) {
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t& d = out[rank - shape.size() + i];
      const int64_t s = shape[i];
      if (s == d || s == 1) continue;
      if (d != 1) {
        std::vector<std::string> listed;
        for (const Shape& each : shapes)
          listed.push_back(absl::StrCat("[", absl::StrJoin(each, ","), "]"));
        return absl::InvalidArgumentError(absl::StrCat(
            NodeLabel(node), ": shapes ", absl::StrJoin(listed, " and "), " do not broadcast"));
      }
      d = s;
    }
  }
  return out;
}

}  // namespace quantd::engine
