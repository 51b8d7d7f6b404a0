#include "engine/export/qdq_export.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/export/quantized_values.h"
#include "engine/graph/batch_norm_affine.h"
#include "engine/graph/onnx_importer.h"
#include "engine/passes/standard_passes.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "onnx/onnx_pb.h"

namespace quantd::engine {
namespace {

// Per-axis DequantizeLinear (the per-channel weight scales) needs opset 13.
constexpr int64_t kMinOpset = 13;

bool SameGrid(const ActivationGrid& a, const ActivationGrid& b) {
  return a.scale == b.scale && a.zero_point == b.zero_point && a.qmin == b.qmin && a.qmax == b.qmax;
}

void SetAttribute(onnx::NodeProto& node, const std::string& name, const AttributeValue& value) {
  onnx::AttributeProto* attr = node.add_attribute();
  attr->set_name(name);
  if (const auto* i = std::get_if<int64_t>(&value)) {
    attr->set_type(onnx::AttributeProto::INT);
    attr->set_i(*i);
  } else if (const auto* f = std::get_if<float>(&value)) {
    attr->set_type(onnx::AttributeProto::FLOAT);
    attr->set_f(*f);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    attr->set_type(onnx::AttributeProto::STRING);
    attr->set_s(*s);
  } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&value)) {
    attr->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : *ints) attr->add_ints(v);
  } else if (const auto* floats = std::get_if<std::vector<float>>(&value)) {
    attr->set_type(onnx::AttributeProto::FLOATS);
    for (float v : *floats) attr->add_floats(v);
  }
}

void SetValueInfo(onnx::ValueInfoProto& info, const ValueInfo& value) {
  info.set_name(value.name);
  onnx::TypeProto::Tensor* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  for (size_t i = 0; i < value.shape.size(); ++i) {
    onnx::TensorShapeProto::Dimension* dim = shape->add_dim();
    if (value.shape[i] > 0) {
      dim->set_dim_value(value.shape[i]);
    } else {
      dim->set_dim_param(i == 0 ? "N" : absl::StrCat("d", i));
    }
  }
}

// [K, OC] row-major -> [OC, K] row-major (as inner_product_op.cc reads B).
std::vector<float> Transposed(const Constant& m) {
  const int64_t rows = m.dims[0], cols = m.dims[1];
  std::vector<float> t(m.floats.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = m.floats[r * cols + c];
  }
  return t;
}

// A Conv/Gemm/MatMul's weights as quantd's runtime reads them: [OC, ...]
// row-major, with Gemm's alpha, beta and transB applied.
struct WeightedOp {
  std::vector<int64_t> weight_dims;
  std::vector<float> weights;
  std::optional<std::vector<float>> bias;
};

class QdqWriter {
 public:
  // `unfused_output`: node name -> first output in the graph without fusion.
  QdqWriter(const Graph& graph, std::map<std::string, std::string> unfused_output,
            const CalibrationTable& calibration, const QuantizationOptions& options,
            const QdqExportOptions& export_options, QuantizedValues quantized)
      : graph_(graph),
        calibration_(calibration),
        options_(options),
        signed_as_uint8_(export_options.signed_activations_as_uint8),
        round_before_residual_add_(export_options.round_before_residual_add),
        quantized_(std::move(quantized)),
        unfused_output_(std::move(unfused_output)) {
    for (const ValueInfo& input : graph.inputs) used_names_.insert(input.name);
    for (const ValueInfo& output : graph.outputs) used_names_.insert(output.name);
    for (const Node& node : graph.nodes) {
      used_names_.insert(node.name);
      used_names_.insert(node.inputs.begin(), node.inputs.end());
      used_names_.insert(node.outputs.begin(), node.outputs.end());
    }
    for (const auto& [name, constant] : graph.constants) used_names_.insert(name);
  }

  absl::StatusOr<std::string> Write() {
    opset_ = std::max(kMinOpset, graph_.opset_version);
    model_.set_ir_version(8);
    model_.set_producer_name("quantd");
    model_.set_producer_version("qdq-export-1");
    onnx::GraphProto* g = model_.mutable_graph();
    g->set_name(graph_.name.empty() ? "quantd_qdq" : graph_.name);
    for (const ValueInfo& input : graph_.inputs) SetValueInfo(*g->add_input(), input);
    for (const ValueInfo& output : graph_.outputs) SetValueInfo(*g->add_output(), output);
    for (const Node& node : graph_.nodes) RETURN_IF_ERROR(EmitNode(node));
    onnx::OperatorSetIdProto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(opset_);

    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      if (!model_.SerializeToCodedStream(&coded)) {
        return absl::InternalError("could not serialize the QDQ model");
      }
    }
    return bytes;
  }

 private:
  onnx::GraphProto& G() { return *model_.mutable_graph(); }

  // `base`, or `base` with a numeric suffix when the graph already uses it.
  std::string Unique(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_names_.count(name) > 0; ++i) name = absl::StrCat(base, "_", i);
    used_names_.insert(name);
    return name;
  }

  onnx::NodeProto* AddNode(const std::string& op, const std::string& name,
                           const std::vector<std::string>& inputs,
                           const std::vector<std::string>& outputs) {
    onnx::NodeProto* node = G().add_node();
    node->set_op_type(op);
    node->set_name(name);
    for (const std::string& input : inputs) node->add_input(input);
    for (const std::string& output : outputs) node->add_output(output);
    return node;
  }

  template <typename T>
  std::string AddInitializer(const std::string& base, onnx::TensorProto::DataType type,
                             const std::vector<int64_t>& dims, const std::vector<T>& values) {
    const std::string name = Unique(base);
    onnx::TensorProto* tensor = G().add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(type);
    for (int64_t d : dims) tensor->add_dims(d);
    if constexpr (std::is_same_v<T, float>) {
      for (float v : values) tensor->add_float_data(v);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      for (int64_t v : values) tensor->add_int64_data(v);
    } else {
      // int8, uint8 and int32 all travel in int32_data (ONNX TensorProto).
      for (T v : values) tensor->add_int32_data(static_cast<int32_t>(v));
    }
    return name;
  }

  // A graph constant as an initializer (once), by its own name.
  std::string ConstantInput(const std::string& name) {
    if (emitted_constants_.count(name) > 0) return name;
    emitted_constants_.insert(name);
    const Constant& c = graph_.constants.at(name);
    onnx::TensorProto* tensor = G().add_initializer();
    tensor->set_name(name);
    for (int64_t d : c.dims) tensor->add_dims(d);
    if (c.type == Constant::Type::kFloat32) {
      tensor->set_data_type(onnx::TensorProto::FLOAT);
      for (float v : c.floats) tensor->add_float_data(v);
    } else {
      tensor->set_data_type(onnx::TensorProto::INT64);
      for (int64_t v : c.ints) tensor->add_int64_data(v);
    }
    return name;
  }

  std::string InputName(const std::string& name) {
    if (!name.empty() && graph_.constants.count(name) > 0) return ConstantInput(name);
    return name;
  }

  // Scale and zero point initializers of an activation grid, in ONNX's
  // convention: real = (q - zero_point) * scale, scale = 1 / quantd's multiplier.
  std::pair<std::string, std::string> GridParams(const std::string& value,
                                                 const ActivationGrid& grid) {
    const std::string scale =
        AddInitializer<float>(value + "_scale", onnx::TensorProto::FLOAT, {}, {1.0f / grid.scale});
    std::string zero_point;
    if (!grid.is_signed()) {
      zero_point = AddInitializer<uint8_t>(value + "_zero_point", onnx::TensorProto::UINT8, {},
                                           {static_cast<uint8_t>(grid.zero_point)});
    } else if (signed_as_uint8_) {
      zero_point = AddInitializer<uint8_t>(value + "_zero_point", onnx::TensorProto::UINT8, {},
                                           {static_cast<uint8_t>(grid.zero_point + 128)});
    } else {
      zero_point = AddInitializer<int8_t>(value + "_zero_point", onnx::TensorProto::INT8, {},
                                          {static_cast<int8_t>(grid.zero_point)});
    }
    return {scale, zero_point};
  }

  // QuantizeLinear -> DequantizeLinear of float tensor `from` onto `grid`;
  // the DequantizeLinear writes `to`.
  void EmitQdq(const std::string& from, const std::string& to, const ActivationGrid& grid) {
    const auto [scale, zero_point] = GridParams(to, grid);
    const std::string quantized = Unique(to + "_quantized");
    AddNode("QuantizeLinear", Unique(to + "_QuantizeLinear"), {from, scale, zero_point},
            {quantized});
    AddNode("DequantizeLinear", Unique(to + "_DequantizeLinear"), {quantized, scale, zero_point},
            {to});
  }

  // `value` as an int8 node reads it: on `grid`. A value stored on that grid
  // already is its own DequantizeLinear output; others are quantized here,
  // once per grid.
  std::string QuantizedInput(const std::string& value, const ActivationGrid& grid) {
    if (const std::optional<ActivationGrid> stored = quantized_.StoredGrid(value);
        stored && SameGrid(*stored, grid)) {
      return value;
    }
    const auto key = std::make_tuple(value, grid.scale, grid.zero_point, grid.qmin);
    if (const auto it = requantized_.find(key); it != requantized_.end()) return it->second;
    const std::string dequantized = Unique(value + "_dequantized");
    EmitQdq(value, dequantized, grid);
    requantized_[key] = dequantized;
    return dequantized;
  }

  // GELU written out as PyTorch exports it before opset 20 (ONNX Runtime
  // fuses that form back): x * (1 + Erf(x / sqrt 2)) * 0.5.
  onnx::NodeProto* EmitGelu(const std::string& name, const std::string& x,
                            const std::string& output) {
    auto scalar = [&](const std::string& suffix, float value) {
      return AddInitializer<float>(name + suffix, onnx::TensorProto::FLOAT, {}, {value});
    };
    const std::string scaled = Unique(name + "_scaled"), erf = Unique(name + "_erf"),
                      plus_one = Unique(name + "_plus_one"), product = Unique(name + "_product");
    AddNode("Div", scaled, {x, scalar("_sqrt2", static_cast<float>(std::sqrt(2.0)))}, {scaled});
    AddNode("Erf", erf, {scaled}, {erf});
    AddNode("Add", plus_one, {erf, scalar("_one", 1.0f)}, {plus_one});
    AddNode("Mul", product, {x, plus_one}, {product});
    return AddNode("Mul", name, {product, scalar("_half", 0.5f)}, {output});
  }

  // LayerNormalization (an opset-17 op) written out as PyTorch exports it
  // before opset 17, over the last axis.
  onnx::NodeProto* EmitLayerNorm(const Node& node, const std::string& x, const std::string& output) {
    const std::string& name = node.name;
    auto value = [&](const char* suffix) { return Unique(name + suffix); };
    const std::string mean = value("_mean"), centered = value("_centered"),
                      squared = value("_squared"), variance = value("_variance"),
                      shifted = value("_plus_eps"), deviation = value("_deviation"),
                      normalized = value("_normalized");
    // ReduceMean's axes: an attribute before opset 18, an input from it on.
    auto reduce_last_axis = [&](const std::string& in, const std::string& out) {
      if (opset_ >= 18) {
        AddNode("ReduceMean", out,
                {in, AddInitializer<int64_t>(out + "_axes", onnx::TensorProto::INT64, {1}, {-1})},
                {out});
      } else {
        SetAttribute(*AddNode("ReduceMean", out, {in}, {out}), "axes", std::vector<int64_t>{-1});
      }
    };
    reduce_last_axis(x, mean);
    AddNode("Sub", centered, {x, mean}, {centered});
    AddNode("Pow", squared,
            {centered, AddInitializer<float>(name + "_two", onnx::TensorProto::FLOAT, {}, {2.0f})},
            {squared});
    reduce_last_axis(squared, variance);
    const float epsilon = [&] {
      const auto it = node.attributes.find("epsilon");
      const float* f = it == node.attributes.end() ? nullptr : std::get_if<float>(&it->second);
      return f != nullptr ? *f : 1e-5f;
    }();
    AddNode("Add", shifted,
            {variance,
             AddInitializer<float>(name + "_epsilon", onnx::TensorProto::FLOAT, {}, {epsilon})},
            {shifted});
    AddNode("Sqrt", deviation, {shifted}, {deviation});
    AddNode("Div", normalized, {centered, deviation}, {normalized});
    if (node.inputs.size() < 3 || node.inputs[2].empty()) {
      return AddNode("Mul", name, {normalized, InputName(node.inputs[1])}, {output});
    }
    const std::string scaled = value("_scaled");
    AddNode("Mul", scaled, {normalized, InputName(node.inputs[1])}, {scaled});
    return AddNode("Add", name, {scaled, InputName(node.inputs[2])}, {output});
  }

  absl::Status EmitNode(const Node& node) {
    const std::string& op = node.op_type;
    if (node.outputs.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("node '", node.name, "' has no output"));
    }
    if (op == "Gelu" || op == "LayerNormalization") {
      // Ops of opsets 20 and 17 that quantd collapsed from their written-out
      // forms go back to those forms.
      const bool rewritten = !node.post_ops.empty() || quantized_.StoredGrid(node.outputs[0]);
      const std::string output =
          rewritten ? Unique(node.outputs[0] + "_float") : node.outputs[0];
      const std::string x = InputName(node.inputs[0]);
      onnx::NodeProto* last =
          op == "Gelu" ? EmitGelu(node.name, x, output) : EmitLayerNorm(node, x, output);
      if (rewritten) return EmitPostOpsAndOutput(node, last, /*int8=*/false);
      return absl::OkStatus();
    }
    // A MatMul of two runtime values (attention) runs f32: written as is.
    const bool weighted =
        op == "Conv" || op == "Gemm" ||
        (op == "MatMul" && node.inputs.size() == 2 && graph_.constants.count(node.inputs[1]) > 0);
    if (weighted) return EmitWeighted(node);
    if (op == "BatchNormalization" && quantized_.RunsInt8(node)) return EmitBatchNormAsConv(node);
    if (op == "Upsample" || (op == "Resize" && graph_.opset_version < 11)) {
      return absl::UnimplementedError(absl::StrCat("QDQ export: node '", node.name, "' (", op,
                                                   ") of opset ", graph_.opset_version,
                                                   " has no opset-", opset_, " form here"));
    }
    if ((op == "Softmax" || op == "LogSoftmax") && graph_.opset_version < 13) {
      // Opset 13 changed what `axis` means (one axis instead of flattening).
      return absl::UnimplementedError(absl::StrCat("QDQ export: node '", node.name, "' (", op,
                                                   ") of opset ", graph_.opset_version,
                                                   " would change meaning at opset 13"));
    }
    std::vector<std::string> inputs;
    for (const std::string& input : node.inputs) inputs.push_back(InputName(input));
    if (op == "Where" && !node.inputs.empty() && graph_.constants.count(node.inputs[0]) > 0) {
      // quantd keeps a folded Equal's booleans as int64 0/1; Where wants bool.
      const std::string condition = Unique(node.inputs[0] + "_bool");
      onnx::NodeProto* cast =
          AddNode("Cast", Unique(node.name + "_condition"), {inputs[0]}, {condition});
      SetAttribute(*cast, "to", int64_t{onnx::TensorProto::BOOL});
      inputs[0] = condition;
    }
    std::map<std::string, AttributeValue> attributes = node.attributes;
    // Opsets before 11 carry Clip bounds and Pad amounts as attributes;
    // from 11 on they are inputs.
    if (op == "Clip" && inputs.size() == 1) {
      inputs.push_back(
          ScalarInput(node.name + "_min", attributes, "min", std::numeric_limits<float>::lowest()));
      inputs.push_back(
          ScalarInput(node.name + "_max", attributes, "max", std::numeric_limits<float>::max()));
    }
    if (op == "Pad" && attributes.count("pads") > 0) {
      const auto pads = std::get<std::vector<int64_t>>(attributes.at("pads"));
      inputs.push_back(AddInitializer<int64_t>(node.name + "_pads", onnx::TensorProto::INT64,
                                               {static_cast<int64_t>(pads.size())}, pads));
      attributes.erase("pads");
      inputs.push_back(ScalarInput(node.name + "_value", attributes, "value", 0.0f));
    }
    const std::string emitted_op = op == "Dropout" ? "Identity" : op;
    std::vector<std::string> outputs = node.outputs;
    if (op == "Dropout") {
      outputs.resize(1);
      inputs.resize(1);
      attributes.clear();
    }
    const bool rewritten = !node.post_ops.empty() || quantized_.StoredGrid(outputs[0]);
    if (rewritten) outputs[0] = Unique(outputs[0] + "_float");
    onnx::NodeProto* proto = AddNode(emitted_op, node.name, inputs, outputs);
    for (const auto& [name, value] : attributes) SetAttribute(*proto, name, value);
    if (rewritten) return EmitPostOpsAndOutput(node, proto, /*int8=*/false);
    return absl::OkStatus();
  }

  // Takes attribute `name` (a float) out of `attributes` as a scalar initializer.
  std::string ScalarInput(const std::string& base,
                          std::map<std::string, AttributeValue>& attributes,
                          const std::string& name, float def) {
    float value = def;
    if (const auto it = attributes.find(name); it != attributes.end()) {
      if (const auto* f = std::get_if<float>(&it->second)) value = *f;
      attributes.erase(it);
    }
    return AddInitializer<float>(base, onnx::TensorProto::FLOAT, {}, {value});
  }

  absl::StatusOr<WeightedOp> ReadWeights(const Node& node) {
    auto constant = [&](size_t i) -> const Constant* {
      if (node.inputs.size() <= i || node.inputs[i].empty()) return nullptr;
      const auto it = graph_.constants.find(node.inputs[i]);
      if (it == graph_.constants.end() || it->second.type != Constant::Type::kFloat32) {
        return nullptr;
      }
      return &it->second;
    };
    const Constant* w = constant(1);
    if (w == nullptr || w->dims.size() < 2) {
      return absl::UnimplementedError(absl::StrCat("QDQ export: node '", node.name, "' (",
                                                   node.op_type, "): weights must be constant"));
    }
    WeightedOp op;
    if (node.op_type == "Conv") {
      op.weight_dims = w->dims;
      op.weights = w->floats;
      if (const Constant* b = constant(2)) op.bias = b->floats;
      return op;
    }
    if (w->dims.size() != 2) {
      return absl::UnimplementedError(
          absl::StrCat("QDQ export: node '", node.name, "': B must be a 2-D constant"));
    }
    const auto trans_b_attr = node.attributes.find("transB");
    const bool trans_b = node.op_type == "Gemm" && trans_b_attr != node.attributes.end() &&
                         std::holds_alternative<int64_t>(trans_b_attr->second) &&
                         std::get<int64_t>(trans_b_attr->second) != 0;
    auto float_attr = [&](const char* name, float def) {
      const auto it = node.attributes.find(name);
      if (it == node.attributes.end()) return def;
      const auto* f = std::get_if<float>(&it->second);
      return f != nullptr ? *f : def;
    };
    op.weights = trans_b ? w->floats : Transposed(*w);
    const int64_t oc = trans_b ? w->dims[0] : w->dims[1];
    op.weight_dims = {oc, static_cast<int64_t>(op.weights.size()) / oc};
    if (node.op_type == "Gemm") {
      const float alpha = float_attr("alpha", 1.0f);
      const float beta = float_attr("beta", 1.0f);
      for (float& v : op.weights) v *= alpha;
      if (const Constant* c = constant(2)) {
        if (c->NumElements() != oc && c->NumElements() != 1) {
          return absl::UnimplementedError(absl::StrCat("QDQ export: node '", node.name,
                                                       "': C must have ", oc, " elements or one"));
        }
        op.bias = std::vector<float>(oc);
        for (int64_t i = 0; i < oc; ++i) {
          (*op.bias)[i] = beta * c->floats[c->NumElements() == 1 ? 0 : i];
        }
      }
    }
    return op;
  }

  // Conv, Gemm (written with transB = 1, the layout quantd's inner product
  // uses, so per-channel scales sit on axis 0) and MatMul (written as MatMul,
  // since its A may have any rank: B [K, N], scales on axis 1).
  absl::Status EmitWeighted(const Node& node) {
    ASSIGN_OR_RETURN(WeightedOp op, ReadWeights(node));
    return EmitWeightedOp(node, op, node.op_type == "Conv", node.attributes);
  }

  // A BatchNormalization that quantd runs as an int8 1x1 depthwise
  // convolution (engine/runtime/batch_norm_op.cc) is exported as that
  // convolution, with its weights quantized as quantd quantizes them.
  absl::Status EmitBatchNormAsConv(const Node& node) {
    auto param = [&](size_t i) -> const Constant& { return graph_.constants.at(node.inputs[i]); };
    const ChannelAffine affine = BatchNormAffine(node, param(1), param(2), param(3), param(4));
    const int64_t channels = static_cast<int64_t>(affine.scale.size());
    WeightedOp op;
    op.weight_dims = {channels, 1, 1, 1};
    op.weights.assign(affine.scale.begin(), affine.scale.end());
    op.bias = std::vector<float>(affine.shift.begin(), affine.shift.end());
    return EmitWeightedOp(node, op, /*conv=*/true, {{"group", channels}});
  }

  absl::Status EmitWeightedOp(const Node& node, const WeightedOp& op, bool conv,
                              const std::map<std::string, AttributeValue>& conv_attributes) {
    const int64_t oc = op.weight_dims[0];
    const bool int8 = quantized_.RunsInt8(node);
    const bool matmul = !conv && node.op_type == "MatMul";
    std::vector<std::string> inputs;
    if (int8) {
      const ActivationGrid input_grid = quantized_.int8_node_input.at(node.name);
      inputs.push_back(QuantizedInput(node.inputs[0], input_grid));
      const std::vector<float> multipliers = WeightScales(op.weights, oc, options_);
      inputs.push_back(QuantizedWeights(node, op, multipliers, /*as_matmul_b=*/!conv && matmul));
      if (op.bias) inputs.push_back(QuantizedBias(node, *op.bias, input_grid, multipliers));
    } else if (matmul) {
      inputs.push_back(node.inputs[0]);
      const int64_t k = op.weight_dims[1];
      std::vector<float> b(op.weights.size());
      for (int64_t o = 0; o < oc; ++o) {
        for (int64_t i = 0; i < k; ++i) b[i * oc + o] = op.weights[o * k + i];
      }
      inputs.push_back(
          AddInitializer<float>(node.name + "_weight", onnx::TensorProto::FLOAT, {k, oc}, b));
    } else {
      inputs.push_back(node.inputs[0]);
      inputs.push_back(AddInitializer<float>(node.name + "_weight", onnx::TensorProto::FLOAT,
                                             op.weight_dims, op.weights));
      if (op.bias) {
        inputs.push_back(
            AddInitializer<float>(node.name + "_bias", onnx::TensorProto::FLOAT, {oc}, *op.bias));
      }
    }
    const bool rewritten =
        !node.post_ops.empty() || quantized_.StoredGrid(node.outputs[0]).has_value();
    const std::string output = rewritten ? Unique(node.outputs[0] + "_float") : node.outputs[0];
    onnx::NodeProto* proto =
        AddNode(conv ? "Conv" : matmul ? "MatMul" : "Gemm", node.name, inputs, {output});
    if (conv) {
      for (const auto& [name, value] : conv_attributes) SetAttribute(*proto, name, value);
    } else if (!matmul) {
      SetAttribute(*proto, "transB", int64_t{1});
    }
    if (rewritten) return EmitPostOpsAndOutput(node, proto, int8);
    return absl::OkStatus();
  }

  // s8 weights exactly as oneDNN's reorder makes them: round to nearest
  // even, saturate to [-128, 127].
  // `as_matmul_b`: stored as MatMul's B, [K, OC], with the scales on axis 1.
  std::string QuantizedWeights(const Node& node, const WeightedOp& op,
                               const std::vector<float>& multipliers, bool as_matmul_b = false) {
    const int64_t oc = op.weight_dims[0];
    const int64_t per_channel = static_cast<int64_t>(op.weights.size()) / oc;
    std::vector<int8_t> q(op.weights.size());
    for (int64_t c = 0; c < oc; ++c) {
      for (int64_t i = 0; i < per_channel; ++i) {
        const float v = std::nearbyint(op.weights[c * per_channel + i] * multipliers[c]);
        const size_t at = as_matmul_b ? static_cast<size_t>(i * oc + c)
                                      : static_cast<size_t>(c * per_channel + i);
        q[at] = static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
      }
    }
    const std::vector<int64_t> weight_dims =
        as_matmul_b ? std::vector<int64_t>{per_channel, oc} : op.weight_dims;
    const std::string weights = AddInitializer<int8_t>(node.name + "_weight_quantized",
                                                       onnx::TensorProto::INT8, weight_dims, q);
    const bool per_tensor = options_.weight_granularity == WeightGranularity::kPerTensor;
    std::vector<float> scales;
    for (float m : multipliers) scales.push_back(1.0f / m);
    if (per_tensor) scales.resize(1);
    const std::vector<int64_t> dims =
        per_tensor ? std::vector<int64_t>{} : std::vector<int64_t>{oc};
    const std::string scale =
        AddInitializer<float>(node.name + "_weight_scale", onnx::TensorProto::FLOAT, dims, scales);
    const std::string zero_point =
        AddInitializer<int8_t>(node.name + "_weight_zero_point", onnx::TensorProto::INT8, dims,
                               std::vector<int8_t>(scales.size(), 0));
    const std::string dequantized = Unique(node.name + "_weight_dequantized");
    onnx::NodeProto* dq =
        AddNode("DequantizeLinear", Unique(node.name + "_weight_DequantizeLinear"),
                {weights, scale, zero_point}, {dequantized});
    if (!per_tensor) SetAttribute(*dq, "axis", int64_t{as_matmul_b ? 1 : 0});
    return dequantized;
  }

  // int32 bias on the accumulator's grid, input_scale * weight_scale[c].
  // (quantd adds the f32 bias in that domain unrounded; the difference is
  // under half an accumulator step.) A bias that does not fit in int32 on
  // that grid (a layer whose input range is tiny next to its bias, such as
  // LRASPP's high_classifier with random weights: input ~4e-9, bias ~0.03)
  // stays float: saturated it would be another function, and quantd adds it
  // in f32 too.
  std::string QuantizedBias(const Node& node, const std::vector<float>& bias,
                            const ActivationGrid& input, const std::vector<float>& multipliers) {
    const int64_t oc = static_cast<int64_t>(bias.size());
    std::vector<int32_t> q(oc);
    std::vector<float> scales(oc);
    constexpr double kLimit = std::numeric_limits<int32_t>::max();
    for (int64_t c = 0; c < oc; ++c) {
      const double multiplier = static_cast<double>(input.scale) * multipliers[c];
      const double rounded = std::nearbyint(bias[c] * multiplier);
      if (std::fabs(rounded) > kLimit) {
        return AddInitializer<float>(node.name + "_bias", onnx::TensorProto::FLOAT, {oc}, bias);
      }
      q[c] = static_cast<int32_t>(rounded);
      scales[c] = static_cast<float>(1.0 / multiplier);
    }
    const std::string values =
        AddInitializer<int32_t>(node.name + "_bias_quantized", onnx::TensorProto::INT32, {oc}, q);
    const std::string scale =
        AddInitializer<float>(node.name + "_bias_scale", onnx::TensorProto::FLOAT, {oc}, scales);
    const std::string zero_point =
        AddInitializer<int32_t>(node.name + "_bias_zero_point", onnx::TensorProto::INT32, {oc},
                                std::vector<int32_t>(oc, 0));
    const std::string dequantized = Unique(node.name + "_bias_dequantized");
    onnx::NodeProto* dq = AddNode("DequantizeLinear", Unique(node.name + "_bias_DequantizeLinear"),
                                  {values, scale, zero_point}, {dequantized});
    SetAttribute(*dq, "axis", int64_t{0});
    return dequantized;
  }

  // Writes `node`'s fused post-ops after `producer` (whose output is the raw
  // result) and, when quantd stores the result quantized, its
  // QuantizeLinear/DequantizeLinear. The final float tensor carries the
  // node's output name.
  absl::Status EmitPostOpsAndOutput(const Node& node, onnx::NodeProto* producer, bool int8) {
    const std::string& out = node.outputs[0];
    const std::optional<ActivationGrid> grid = quantized_.StoredGrid(out);
    // ONNX Runtime's quantizer drops a Relu (or Clip(0, >= max)) before an
    // unsigned zero-point-0 QuantizeLinear: the quantization clamps the same
    // way. Then the producer's QuantizeLinear takes the activation's range.
    size_t end = node.post_ops.size();
    if (grid && !grid->is_signed() && grid->zero_point == 0 && end > 0) {
      const PostOp& last = node.post_ops.back();
      const TensorRange& range = calibration_.ranges.at(out);
      if (last.kind == PostOp::Kind::kRelu ||
          (last.kind == PostOp::Kind::kClip && last.alpha == 0.0f && last.beta >= range.max)) {
        --end;
      }
    }
    onnx::NodeProto* last = producer;
    std::string current = producer->output(0);
    for (size_t i = 0; i < end; ++i) {
      const PostOp& op = node.post_ops[i];
      const std::string next = Unique(absl::StrCat(out, "_post", i));
      if (op.kind == PostOp::Kind::kSum) {
        // quantd adds the residual to the unrounded result. ONNX Runtime forms
        // QLinearConv + QLinearAdd only with the Conv output quantized, so with
        // round_before_residual_add it gets a Q/DQ on its own calibrated range
        // (the unfused graph's value).
        // quantd never stores this value, so its grid is the export's choice:
        // u8 with a zero point over [min, max] rounds half as coarsely as s8
        // symmetric on a range around zero, the closest to quantd's unrounded sum.
        if (round_before_residual_add_ && int8 && i == 0 && grid &&
            current == producer->output(0)) {
          const auto pre_sum = unfused_output_.find(node.name);
          if (pre_sum != unfused_output_.end()) {
            if (const auto range = calibration_.ranges.find(pre_sum->second);
                range != calibration_.ranges.end()) {
              QuantizationOptions asymmetric = options_;
              asymmetric.symmetric_activations = false;
              producer->set_output(0, Unique(pre_sum->second));
              const std::string dequantized = Unique(pre_sum->second + "_dequantized");
              EmitQdq(producer->output(0), dequantized,
                      ActivationGridForRange(range->second, asymmetric));
              current = dequantized;
            }
          }
        }
        last = AddNode("Add", Unique(absl::StrCat(node.name, "_add")), {current, op.sum_input},
                       {next});
      } else {
        // quantd rounds the raw result onto its own grid before an activation
        // it looks up in a table (table_activation.h).
        if (const std::optional<ActivationGrid> raw =
                op.pre_activation.empty() ? std::nullopt : quantized_.StoredGrid(op.pre_activation);
            raw && int8 && current == producer->output(0)) {
          const std::string rounded = Unique(op.pre_activation + "_rounded");
          EmitQdq(current, rounded, *raw);
          current = rounded;
        }
        ASSIGN_OR_RETURN(last, EmitActivation(node, op, i, current, next));
      }
      current = next;
    }
    if (grid) {
      EmitQdq(current, out, *grid);
    } else {
      last->set_output(0, out);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<onnx::NodeProto*> EmitActivation(const Node& node, const PostOp& op, size_t index,
                                                  const std::string& input,
                                                  const std::string& output) {
    const std::string name = Unique(absl::StrCat(node.name, "_act", index));
    switch (op.kind) {
      case PostOp::Kind::kRelu:
        return AddNode("Relu", name, {input}, {output});
      case PostOp::Kind::kLeakyRelu: {
        onnx::NodeProto* n = AddNode("LeakyRelu", name, {input}, {output});
        SetAttribute(*n, "alpha", op.alpha);
        return n;
      }
      case PostOp::Kind::kClip: {
        const std::string lo =
            AddInitializer<float>(name + "_min", onnx::TensorProto::FLOAT, {}, {op.alpha});
        const std::string hi =
            AddInitializer<float>(name + "_max", onnx::TensorProto::FLOAT, {}, {op.beta});
        return AddNode("Clip", name, {input, lo, hi}, {output});
      }
      case PostOp::Kind::kSigmoid:
        return AddNode("Sigmoid", name, {input}, {output});
      case PostOp::Kind::kTanh:
        return AddNode("Tanh", name, {input}, {output});
      case PostOp::Kind::kHardSigmoid: {
        onnx::NodeProto* n = AddNode("HardSigmoid", name, {input}, {output});
        SetAttribute(*n, "alpha", op.alpha);
        SetAttribute(*n, "beta", op.beta);
        return n;
      }
      case PostOp::Kind::kHardSwish: {
        // Written out as x * HardSigmoid(x) (ONNX HardSwish exists only from
        // opset 14, which ONNX Runtime then also demands of every other op).
        const std::string gate = Unique(name + "_gate");
        onnx::NodeProto* hard_sigmoid = AddNode("HardSigmoid", gate, {input}, {gate});
        SetAttribute(*hard_sigmoid, "alpha", 1.0f / 6.0f);
        SetAttribute(*hard_sigmoid, "beta", 0.5f);
        return AddNode("Mul", name, {input, gate}, {output});
      }
      case PostOp::Kind::kSwish: {
        const std::string gate = Unique(name + "_gate");
        AddNode("Sigmoid", gate, {input}, {gate});
        return AddNode("Mul", name, {input, gate}, {output});
      }
      case PostOp::Kind::kGeluErf:
        return EmitGelu(name, input, output);
      case PostOp::Kind::kSum:
        break;
    }
    return absl::InternalError(absl::StrCat("node '", node.name, "': unexpected post-op"));
  }

  const Graph& graph_;
  const CalibrationTable& calibration_;
  const QuantizationOptions& options_;
  const bool signed_as_uint8_;
  const bool round_before_residual_add_;
  const QuantizedValues quantized_;
  std::map<std::string, std::string> unfused_output_;  // node name -> its first output
  std::set<std::string> used_names_;
  std::set<std::string> emitted_constants_;
  std::map<std::tuple<std::string, float, int32_t, int32_t>, std::string> requantized_;
  onnx::ModelProto model_;
  int64_t opset_ = kMinOpset;
};

// The input shape the export's Plan is compiled for: batch 1, and 224 for a
// dynamic height or width (where quantd rounds does not depend on them).
std::vector<int64_t> RepresentativeShape(const Graph& graph) {
  std::vector<int64_t> shape = graph.inputs.at(0).shape;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] <= 0) shape[i] = i == 0 ? 1 : 224;
  }
  return shape;
}

absl::StatusOr<Graph> ImportWithPasses(std::string_view onnx_bytes, const PassOptions& passes) {
  ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(onnx_bytes));
  RETURN_IF_ERROR(RunStandardPasses(graph, passes));
  return graph;
}

}  // namespace

absl::StatusOr<std::string> ExportQdqModel(std::string_view fp32_onnx,
                                           const CalibrationTable& calibration,
                                           const QuantizationOptions& options,
                                           const QdqExportOptions& export_options) {
  if (options.simulated()) {
    return absl::FailedPreconditionError(
        "a simulated version (fewer than 8 bits, asymmetric activations or simulate) has no "
        "int8 kernels to express as QDQ");
  }
  RETURN_IF_ERROR(ValidateQuantizationOptions(options));
  // The graph quantd's int8 session runs (same weights after BatchNorm
  // folding), and the unfused one for the names of values fusion hides.
  const bool fold_batch_norm = export_options.fold_batch_norm;
  ASSIGN_OR_RETURN(const Graph graph,
                   ImportWithPasses(fp32_onnx, PassOptions{.fold_batch_norm = fold_batch_norm}));
  // Of the graph without fusion only the names of the values fusion hides
  // are needed: its constants (every weight again) are freed before the Plan
  // below compiles.
  std::map<std::string, std::string> unfused_output;
  {
    ASSIGN_OR_RETURN(const Graph unfused,
                     ImportWithPasses(fp32_onnx, PassOptions{.fold_batch_norm = fold_batch_norm,
                                                             .fuse_operators = false}));
    for (const Node& node : unfused.nodes) {
      if (!node.outputs.empty()) unfused_output[node.name] = node.outputs[0];
    }
  }
  RETURN_IF_ERROR(ValidateQuantizationOptions(options, graph));
  ASSIGN_OR_RETURN(QuantizedValues quantized,
                   FindQuantizedValues(graph, calibration, options, RepresentativeShape(graph)));
  try {
    return QdqWriter(graph, std::move(unfused_output), calibration, options, export_options,
                     std::move(quantized))
        .Write();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("QDQ export failed: ", e.what()));
  }
}

}  // namespace quantd::engine
