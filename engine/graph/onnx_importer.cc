#include "engine/graph/onnx_importer.h"

#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "onnx/checker.h"
#include "onnx/onnx_pb.h"

namespace quantd::engine {
namespace {

// raw_data is little-endian by the ONNX spec; we copy it byte for byte.
static_assert(std::endian::native == std::endian::little,
              "the ONNX importer assumes a little-endian host");

bool IsDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

std::string Describe(const onnx::NodeProto& node) {
  return absl::StrCat("node '", node.name(), "' (", node.op_type(), ")");
}

std::string DataTypeName(int32_t data_type) {
  if (!onnx::TensorProto_DataType_IsValid(data_type)) {
    return absl::StrCat("<invalid ", data_type, ">");
  }
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(data_type));
}

absl::StatusOr<int64_t> DefaultOpsetVersion(const onnx::ModelProto& model) {
  for (const onnx::OperatorSetIdProto& opset : model.opset_import()) {
    if (IsDefaultDomain(opset.domain())) return opset.version();
  }
  return absl::InvalidArgumentError("ONNX model imports no opset for the default domain (ai.onnx)");
}

// Node names identify nodes in every later error message, so they must be
// unique and non-empty. An explicit name keeps priority over generated ones.
void AssignNodeNames(onnx::GraphProto& graph) {
  std::unordered_set<std::string> explicit_names;
  for (const onnx::NodeProto& node : graph.node()) {
    if (!node.name().empty()) explicit_names.insert(node.name());
  }
  std::unordered_set<std::string> used;
  for (int i = 0; i < graph.node_size(); ++i) {
    onnx::NodeProto& node = *graph.mutable_node(i);
    if (!node.name().empty() && used.insert(node.name()).second) continue;
    const std::string base =
        node.name().empty() ? absl::StrCat(node.op_type(), "_", i) : node.name();
    std::string name = base;
    for (int suffix = 1; used.count(name) > 0 || explicit_names.count(name) > 0; ++suffix) {
      name = absl::StrCat(base, "_", suffix);
    }
    used.insert(name);
    node.set_name(name);
  }
}

absl::Status CheckDomains(const onnx::GraphProto& graph) {
  for (const onnx::NodeProto& node : graph.node()) {
    if (!IsDefaultDomain(node.domain())) {
      return absl::UnimplementedError(
          absl::StrCat(Describe(node), ": op '", node.op_type(), "' is from domain '",
                       node.domain(), "'; quantd supports only the default ONNX domain"));
    }
  }
  return absl::OkStatus();
}

// The ONNX spec requires topologically sorted nodes, but some exporters and
// hand-edited models break that; the checker would reject them, so we sort
// first (Kahn's algorithm, keeping file order among independent nodes).
absl::Status SortNodesTopologically(onnx::GraphProto& graph) {
  std::unordered_set<std::string> available;
  for (const onnx::ValueInfoProto& input : graph.input()) {
    available.insert(input.name());
  }
  for (const onnx::TensorProto& init : graph.initializer()) {
    available.insert(init.name());
  }
  const int num_nodes = graph.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < num_nodes; ++i) {
    const onnx::NodeProto& node = graph.node(i);
    for (const std::string& output : node.output()) {
      if (output.empty()) continue;
      if (available.count(output) > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            Describe(node), ": output '", output, "' is already a graph input or initializer"));
      }
      auto [it, inserted] = producer.emplace(output, i);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat("value '", output, "' is produced by both ",
                                                       Describe(graph.node(it->second)), " and ",
                                                       Describe(node)));
      }
    }
  }

  std::vector<std::vector<int>> consumers(num_nodes);
  std::vector<int> pending_inputs(num_nodes, 0);
  for (int i = 0; i < num_nodes; ++i) {
    const onnx::NodeProto& node = graph.node(i);
    for (const std::string& input : node.input()) {
      if (input.empty() || available.count(input) > 0) continue;
      const auto it = producer.find(input);
      if (it == producer.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Describe(node), ": input '", input,
                         "' is not a graph input, an initializer or any node's output"));
      }
      consumers[it->second].push_back(i);
      ++pending_inputs[i];
    }
  }

  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < num_nodes; ++i) {
    if (pending_inputs[i] == 0) ready.push(i);
  }
  std::vector<int> order;
  order.reserve(num_nodes);
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int consumer : consumers[i]) {
      if (--pending_inputs[consumer] == 0) ready.push(consumer);
    }
  }
  if (static_cast<int>(order.size()) < num_nodes) {
    std::vector<std::string> stuck;
    for (int i = 0; i < num_nodes && stuck.size() < 5; ++i) {
      if (pending_inputs[i] > 0) stuck.push_back(graph.node(i).name());
    }
    return absl::InvalidArgumentError(
        absl::StrCat("graph has a cycle through ", num_nodes - order.size(),
                     " node(s), including '", absl::StrJoin(stuck, "', '"), "'"));
  }

  bool already_sorted = true;
  for (int i = 0; i < num_nodes; ++i) already_sorted &= order[i] == i;
  if (already_sorted) return absl::OkStatus();
  google::protobuf::RepeatedPtrField<onnx::NodeProto> sorted;
  for (int i : order) *sorted.Add() = std::move(*graph.mutable_node(i));
  graph.mutable_node()->Swap(&sorted);
  return absl::OkStatus();
}

absl::Status RunOnnxChecker(const onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("ONNX checker rejected the model: ", e.what()));
  }
  return absl::OkStatus();
}

// Reads `count` elements either from raw_data (stored as `Raw`) or from the
// typed repeated field ONNX assigns to this data type.
template <typename Raw, typename Field, typename Out>
absl::Status ReadElements(const onnx::TensorProto& tensor, const Field& typed, int64_t count,
                          std::vector<Out>& out) {
  if (tensor.has_raw_data()) {
    const std::string& raw = tensor.raw_data();
    const uint64_t expected = static_cast<uint64_t>(count) * sizeof(Raw);
    if (raw.size() != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor.name(), "': raw_data holds ", raw.size(), " bytes but ", count,
          " elements of ", DataTypeName(tensor.data_type()), " need ", expected));
    }
    out.resize(count);
    for (int64_t i = 0; i < count; ++i) {
      Raw value;
      std::memcpy(&value, raw.data() + i * sizeof(Raw), sizeof(Raw));
      out[i] = static_cast<Out>(value);
    }
    return absl::OkStatus();
  }
  if (typed.size() != count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", tensor.name(), "' holds ", typed.size(), " values but its dims need ", count));
  }
  out.resize(count);
  for (int64_t i = 0; i < count; ++i) out[i] = static_cast<Out>(typed.Get(i));
  return absl::OkStatus();
}

absl::StatusOr<Constant> ConvertTensor(const onnx::TensorProto& tensor) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensor.name(),
                     "' keeps its data in an external file; upload a self-contained model"));
  }
  if (tensor.has_segment()) {
    return absl::UnimplementedError(
        absl::StrCat("tensor '", tensor.name(), "' is segmented; quantd cannot read it"));
  }
  Constant constant;
  // Bounds the element count so a corrupt shape cannot overflow int64 or
  // size an allocation beyond what a 2 GiB protobuf can carry.
  constexpr int64_t kMaxElements = int64_t{1} << 31;
  int64_t count = 1;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0 || (dim > 0 && count > kMaxElements / dim)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", tensor.name(), "' has an invalid dimension ", dim,
                       " (dims must be >= 0 and hold at most ", kMaxElements, " elements)"));
    }
    count *= dim;
    constant.dims.push_back(dim);
  }
  using T = onnx::TensorProto;
  // ONNX stores the small integer types and bool in int32_data and uint32 in
  // uint64_data; raw_data uses each type's own width.
  switch (tensor.data_type()) {
    case T::FLOAT:
      constant.type = Constant::Type::kFloat32;
      RETURN_IF_ERROR(ReadElements<float>(tensor, tensor.float_data(), count, constant.floats));
      break;
    case T::DOUBLE:
      constant.type = Constant::Type::kFloat32;
      RETURN_IF_ERROR(ReadElements<double>(tensor, tensor.double_data(), count, constant.floats));
      break;
    case T::INT64:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<int64_t>(tensor, tensor.int64_data(), count, constant.ints));
      break;
    case T::INT32:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<int32_t>(tensor, tensor.int32_data(), count, constant.ints));
      break;
    case T::INT16:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<int16_t>(tensor, tensor.int32_data(), count, constant.ints));
      break;
    case T::UINT16:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<uint16_t>(tensor, tensor.int32_data(), count, constant.ints));
      break;
    case T::INT8:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<int8_t>(tensor, tensor.int32_data(), count, constant.ints));
      break;
    case T::UINT8:
    case T::BOOL:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<uint8_t>(tensor, tensor.int32_data(), count, constant.ints));
      break;
    case T::UINT32:
      constant.type = Constant::Type::kInt64;
      RETURN_IF_ERROR(ReadElements<uint32_t>(tensor, tensor.uint64_data(), count, constant.ints));
      break;
    default:
      return absl::UnimplementedError(absl::StrCat(
          "tensor '", tensor.name(), "' has data type ", DataTypeName(tensor.data_type()),
          "; quantd reads float, double and integer tensors up to int64"));
  }
  return constant;
}

// Constant (opset 1-13+): exactly one of its value attributes holds the data.
absl::StatusOr<Constant> ConvertConstantNode(const onnx::NodeProto& node) {
  if (node.output_size() != 1 || node.attribute_size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(node), ": expected one output and one value attribute"));
  }
  const onnx::AttributeProto& attr = node.attribute(0);
  Constant constant;
  if (attr.name() == "value") {
    return ConvertTensor(attr.t());
  } else if (attr.name() == "value_float") {
    constant.floats = {attr.f()};
  } else if (attr.name() == "value_floats") {
    constant.floats.assign(attr.floats().begin(), attr.floats().end());
    constant.dims = {static_cast<int64_t>(constant.floats.size())};
  } else if (attr.name() == "value_int") {
    constant.type = Constant::Type::kInt64;
    constant.ints = {attr.i()};
  } else if (attr.name() == "value_ints") {
    constant.type = Constant::Type::kInt64;
    constant.ints.assign(attr.ints().begin(), attr.ints().end());
    constant.dims = {static_cast<int64_t>(constant.ints.size())};
  } else {
    return absl::UnimplementedError(
        absl::StrCat(Describe(node), ": attribute '", attr.name(),
                     "' is not supported; quantd reads numeric constants only"));
  }
  return constant;
}

absl::StatusOr<ValueInfo> ConvertValueInfo(const onnx::ValueInfoProto& info, const char* role) {
  if (!info.type().has_tensor_type()) {
    return absl::UnimplementedError(
        absl::StrCat(role, " '", info.name(), "' is not a tensor; quantd serves tensors"));
  }
  const onnx::TypeProto::Tensor& tensor_type = info.type().tensor_type();
  // An absent element type (UNDEFINED) is taken as float: some exporters omit
  // it on outputs. Integer and bool outputs (an ArgMax's indices, a
  // comparison's mask) are served as float32 values like every other output.
  const bool integer_output = std::string_view(role) == "graph output" &&
                              (tensor_type.elem_type() == onnx::TensorProto::INT64 ||
                               tensor_type.elem_type() == onnx::TensorProto::INT32 ||
                               tensor_type.elem_type() == onnx::TensorProto::INT16 ||
                               tensor_type.elem_type() == onnx::TensorProto::INT8 ||
                               tensor_type.elem_type() == onnx::TensorProto::UINT16 ||
                               tensor_type.elem_type() == onnx::TensorProto::UINT8 ||
                               tensor_type.elem_type() == onnx::TensorProto::BOOL);
  if (tensor_type.elem_type() != onnx::TensorProto::FLOAT &&
      tensor_type.elem_type() != onnx::TensorProto::UNDEFINED && !integer_output) {
    return absl::UnimplementedError(absl::StrCat(role, " '", info.name(), "' has element type ",
                                                 DataTypeName(tensor_type.elem_type()),
                                                 "; quantd serves float32 tensors only"));
  }
  ValueInfo value{.name = info.name(), .shape = {}};
  for (const onnx::TensorShapeProto::Dimension& dim : tensor_type.shape().dim()) {
    value.shape.push_back(dim.has_dim_value() && dim.dim_value() >= 0 ? dim.dim_value() : -1);
  }
  return value;
}

// Attributes the IR cannot hold (graphs, tensors, string lists) mostly occur
// on operators quantd does not run. They are listed in `unrepresented`: the
// runtime refuses a node it supports that has any (without the attribute it
// would mean something else), and an unsupported op is refused anyway.
absl::Status ConvertAttribute(const onnx::NodeProto& node, const onnx::AttributeProto& attr,
                              Node& out, std::vector<std::string>& unrepresented) {
  using A = onnx::AttributeProto;
  switch (attr.type()) {
    case A::INT:
      out.attributes[attr.name()] = static_cast<int64_t>(attr.i());
      return absl::OkStatus();
    case A::FLOAT:
      out.attributes[attr.name()] = attr.f();
      return absl::OkStatus();
    case A::STRING:
      out.attributes[attr.name()] = attr.s();
      return absl::OkStatus();
    case A::INTS:
      out.attributes[attr.name()] = std::vector<int64_t>(attr.ints().begin(), attr.ints().end());
      return absl::OkStatus();
    case A::FLOATS:
      out.attributes[attr.name()] = std::vector<float>(attr.floats().begin(), attr.floats().end());
      return absl::OkStatus();
    case A::TENSOR:
      // ConstantOfShape-9's fill value is a one-element tensor; the IR keeps it
      // as a scalar attribute so FoldConstants can evaluate the node.
      if (node.op_type() == "ConstantOfShape" && attr.name() == "value") {
        ASSIGN_OR_RETURN(const Constant value, ConvertTensor(attr.t()));
        if (value.NumElements() != 1) {
          return absl::InvalidArgumentError(
              absl::StrCat(Describe(node), ": attribute 'value' must hold one element, not ",
                           value.NumElements()));
        }
        if (value.type == Constant::Type::kFloat32) {
          out.attributes[attr.name()] = value.floats[0];
        } else {
          out.attributes[attr.name()] = value.ints[0];
        }
        return absl::OkStatus();
      }
      [[fallthrough]];
    default:
      unrepresented.push_back(
          absl::StrCat(attr.name(), " (", A::AttributeType_Name(attr.type()), ")"));
      return absl::OkStatus();
  }
}

absl::StatusOr<Node> ConvertNode(const onnx::NodeProto& proto, Graph& graph) {
  Node node;
  node.name = proto.name();
  node.op_type = proto.op_type();
  node.inputs.assign(proto.input().begin(), proto.input().end());
  node.outputs.assign(proto.output().begin(), proto.output().end());
  std::vector<std::string> unrepresented;
  for (const onnx::AttributeProto& attr : proto.attribute()) {
    RETURN_IF_ERROR(ConvertAttribute(proto, attr, node, unrepresented));
  }
  if (!unrepresented.empty()) graph.unrepresented_attributes[node.name] = std::move(unrepresented);
  return node;
}

// Frees each initializer's bytes once converted, so that a model's weights
// are held about once, not twice, while it is imported (ViT-B: 346 MB).
absl::StatusOr<Graph> ConvertGraph(onnx::GraphProto& proto, int64_t opset_version) {
  if (proto.sparse_initializer_size() > 0) {
    return absl::UnimplementedError(absl::StrCat(
        "sparse initializer '", proto.sparse_initializer(0).values().name(), "' is not supported"));
  }
  Graph graph;
  graph.name = proto.name();
  graph.opset_version = opset_version;
  for (onnx::TensorProto& init : *proto.mutable_initializer()) {
    ASSIGN_OR_RETURN(Constant constant, ConvertTensor(init));
    std::string name = init.name();
    onnx::TensorProto().Swap(&init);  // the temporary takes the bytes away
    graph.constants[std::move(name)] = std::move(constant);
  }
  // Before IR version 4 initializers were also listed as graph inputs; they
  // are weights, not something a client sends.
  for (const onnx::ValueInfoProto& input : proto.input()) {
    if (graph.constants.count(input.name()) > 0) continue;
    ASSIGN_OR_RETURN(ValueInfo value, ConvertValueInfo(input, "graph input"));
    graph.inputs.push_back(std::move(value));
  }
  if (graph.inputs.empty()) {
    return absl::InvalidArgumentError(
        "ONNX model has no runtime inputs (every graph input, if any, is an "
        "initializer)");
  }
  for (const onnx::NodeProto& node_proto : proto.node()) {
    if (node_proto.op_type() == "Constant") {
      ASSIGN_OR_RETURN(Constant constant, ConvertConstantNode(node_proto));
      graph.constants[node_proto.output(0)] = std::move(constant);
      continue;
    }
    ASSIGN_OR_RETURN(Node node, ConvertNode(node_proto, graph));
    graph.nodes.push_back(std::move(node));
  }
  for (const onnx::ValueInfoProto& output : proto.output()) {
    ASSIGN_OR_RETURN(ValueInfo value, ConvertValueInfo(output, "graph output"));
    graph.outputs.push_back(std::move(value));
  }
  if (graph.outputs.empty()) {
    return absl::InvalidArgumentError("ONNX model has no graph outputs");
  }
  return graph;
}

}  // namespace

absl::StatusOr<Graph> ImportOnnxModel(std::string_view onnx_bytes) {
  if (onnx_bytes.empty()) {
    return absl::InvalidArgumentError("ONNX model is empty (0 bytes)");
  }
  if (onnx_bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ONNX model is ", onnx_bytes.size(), " bytes; protobuf cannot parse more than 2 GiB"));
  }
  onnx::ModelProto model;
  bool parsed = false;
  try {
    parsed = model.ParseFromArray(onnx_bytes.data(), static_cast<int>(onnx_bytes.size()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot parse ONNX model: ", e.what()));
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bytes are not an ONNX model (protobuf parse failed on ", onnx_bytes.size(), " bytes)"));
  }
  if (!model.has_graph()) {
    return absl::InvalidArgumentError("ONNX model has no graph");
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  AssignNodeNames(graph);
  RETURN_IF_ERROR(CheckDomains(graph));
  ASSIGN_OR_RETURN(const int64_t opset_version, DefaultOpsetVersion(model));
  RETURN_IF_ERROR(SortNodesTopologically(graph));
  RETURN_IF_ERROR(RunOnnxChecker(model));
  return ConvertGraph(graph, opset_version);
}

}  // namespace quantd::engine
