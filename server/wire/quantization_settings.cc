#include "server/wire/quantization_settings.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "engine/runtime/quantization_scheme.h"
#include "engine/status_macros.h"

namespace quantd::server {

namespace {
// A model has at most tens of thousands of nodes; names are paths of a few
// hundred bytes.
constexpr int kMaxExcludedNames = 10000;
constexpr size_t kMaxExcludedNameBytes = 1024;

constexpr int kDefaultBits = 8;

int BitsOrDefault(int32_t bits) { return bits == 0 ? kDefaultBits : bits; }

absl::Status CheckBits(const std::string& field, int32_t bits) {
  if (bits != 0 && (bits < 2 || bits > 8)) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization.", field, " must be in 2..8 (0: 8), got ", bits));
  }
  return absl::OkStatus();
}

engine::CalibrationMethod ToEngineMethod(v1::CalibrationMethod method) {
  switch (method) {
    case v1::ENTROPY:
      return engine::CalibrationMethod::kEntropy;
    case v1::PERCENTILE:
      return engine::CalibrationMethod::kPercentile;
    case v1::EMA:
      return engine::CalibrationMethod::kEma;
    case v1::MSE:
      return engine::CalibrationMethod::kMse;
    case v1::AUTO:
      return engine::CalibrationMethod::kAuto;
    default:
      return engine::CalibrationMethod::kNaive;
  }
}

}  // namespace

absl::Status ValidateKnobs(const v1::QuantizeModelRequest& request) {
  if (!v1::CalibrationMethod_IsValid(request.calibration())) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration method ", static_cast<int>(request.calibration()),
                     " is not one of NAIVE, ENTROPY, PERCENTILE, EMA, MSE"));
  }
  if (request.num_calibration_samples() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_calibration_samples must be >= 0 (0: the whole dataset), got ",
                     request.num_calibration_samples()));
  }
  if (request.ema_passes() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ema_passes must be >= 0 (0: 1), got ", request.ema_passes()));
  }
  const v1::QuantizationSettings& q = request.quantization();
  // Exclusions are stored with the job and the version: bounded like labels.
  for (const auto& [field, names] :
       {std::pair{"exclude_nodes", &q.exclude_nodes()},
        std::pair{"exclude_op_types", &q.exclude_op_types()}}) {
    if (names->size() > kMaxExcludedNames) {
      return absl::InvalidArgumentError(absl::StrCat("quantization.", field, " has ",
                                                     names->size(), " entries, over the limit of ",
                                                     kMaxExcludedNames));
    }
    for (const std::string& name : *names) {
      if (name.size() > kMaxExcludedNameBytes) {
        return absl::InvalidArgumentError(absl::StrCat("quantization.", field, " has a name of ",
                                                       name.size(), " bytes, over the limit of ",
                                                       kMaxExcludedNameBytes));
      }
    }
  }
  RETURN_IF_ERROR(CheckBits("weight_bits", q.weight_bits()));
  RETURN_IF_ERROR(CheckBits("activation_bits", q.activation_bits()));
  if (!v1::WeightGranularity_IsValid(q.weight_granularity())) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization.weight_granularity ", static_cast<int>(q.weight_granularity()),
                     " is not one of PER_CHANNEL, PER_TENSOR, PER_GROUP"));
  }
  if (!v1::ActivationType_IsValid(q.activation_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantization.activation_type ", static_cast<int>(q.activation_type()),
        " is not one of ACTIVATION_TYPE_AUTO, ACTIVATION_TYPE_UINT8, ACTIVATION_TYPE_INT8"));
  }
  if (!v1::WeightClipping_IsValid(q.weight_clipping())) {
    return absl::InvalidArgumentError(
        absl::StrCat("quantization.weight_clipping ", static_cast<int>(q.weight_clipping()),
                     " is not one of WEIGHT_CLIPPING_MAX_ABS, WEIGHT_CLIPPING_MSE"));
  }
  if (q.weight_group_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantization.weight_group_size must not be negative, got ", q.weight_group_size()));
  }
  if (q.weight_granularity() == v1::PER_GROUP && q.weight_group_size() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantization.weight_group_size must be >= 1 with PER_GROUP, got ", q.weight_group_size()));
  }
  if (q.weight_granularity() != v1::PER_GROUP && q.weight_group_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantization.weight_group_size applies to PER_GROUP only, got ", q.weight_group_size()));
  }
  const engine::QuantizationOptions options = ToQuantizationOptions(q);
  // Real int8 Plans have no activation zero points (docs/decisions/0006).
  if (!options.simulated()) {
    if (q.asymmetric_activations()) {
      return absl::InvalidArgumentError(
          "quantization.asymmetric_activations needs activation zero points, which 8-bit int8 "
          "versions do not support (oneDNN 2.6, docs/decisions/0006); use fewer than 8 bits");
    }
    if (q.activation_type() == v1::ACTIVATION_TYPE_UINT8) {
      return absl::InvalidArgumentError(
          "quantization.activation_type ACTIVATION_TYPE_UINT8 gives signed activations a zero "
          "point, which 8-bit int8 versions do not support (docs/decisions/0006); use AUTO, INT8 "
          "or fewer than 8 bits");
    }
  }
  if (q.asymmetric_activations() && q.activation_type() == v1::ACTIVATION_TYPE_INT8) {
    return absl::InvalidArgumentError(
        "quantization.asymmetric_activations: ACTIVATION_TYPE_INT8 is symmetric; asymmetric "
        "activations are unsigned with a zero point");
  }
  for (const std::string& name : q.exclude_nodes()) {
    if (name.empty())
      return absl::InvalidArgumentError("quantization.exclude_nodes has an empty name");
  }
  // The engine's own checks (op types it quantizes, ...) back these up.
  RETURN_IF_ERROR(engine::ValidateQuantizationOptions(options));
  return engine::ValidateCalibrationOptions(ToCalibrationOptions(request));
}

v1::QuantizeModelRequest WithDefaults(const v1::QuantizeModelRequest& request) {
  v1::QuantizeModelRequest out = request;
  const engine::CalibrationOptions calibration = ToCalibrationOptions(request);
  if (out.calibration() == v1::CALIBRATION_METHOD_UNSPECIFIED) out.set_calibration(v1::NAIVE);
  if (out.calibration() == v1::PERCENTILE) {
    out.set_percentile(calibration.percentile);
  } else {
    out.clear_percentile();
  }
  if (out.calibration() == v1::EMA) {
    out.set_ema_decay(calibration.ema_decay);
    out.set_ema_passes(calibration.ema_passes);
  } else {
    out.clear_ema_decay();
    out.clear_ema_passes();
  }
  v1::QuantizationSettings& q = *out.mutable_quantization();
  if (q.weight_granularity() == v1::WEIGHT_GRANULARITY_UNSPECIFIED) {
    q.set_weight_granularity(v1::PER_CHANNEL);
  }
  q.set_weight_bits(BitsOrDefault(q.weight_bits()));
  q.set_activation_bits(BitsOrDefault(q.activation_bits()));
  if (q.activation_type() == v1::ACTIVATION_TYPE_UNSPECIFIED) {
    q.set_activation_type(v1::ACTIVATION_TYPE_AUTO);
  }
  if (q.weight_clipping() == v1::WEIGHT_CLIPPING_UNSPECIFIED) {
    q.set_weight_clipping(v1::WEIGHT_CLIPPING_MAX_ABS);
  }
  return out;
}

engine::CalibrationOptions ToCalibrationOptions(const v1::QuantizeModelRequest& request) {
  engine::CalibrationOptions options;
  options.max_samples = request.num_calibration_samples();
  options.method = ToEngineMethod(request.calibration());
  if (request.has_calibration_seed()) options.sample_seed = request.calibration_seed();
  if (request.has_percentile()) options.percentile = request.percentile();
  if (request.has_ema_decay()) options.ema_decay = request.ema_decay();
  if (request.ema_passes() != 0) options.ema_passes = request.ema_passes();
  options.activation_bits = BitsOrDefault(request.quantization().activation_bits());
  // Asymmetric activations are quantized over [min, max], so percentile
  // clips each tail on its own.
  options.percentile_per_tail = request.quantization().asymmetric_activations();
  return options;
}

engine::QuantizationOptions ToQuantizationOptions(const v1::QuantizationSettings& settings) {
  engine::QuantizationOptions options;
  switch (settings.weight_granularity()) {
    case v1::PER_TENSOR:
      options.weight_granularity = engine::WeightGranularity::kPerTensor;
      break;
    case v1::PER_GROUP:
      options.weight_granularity = engine::WeightGranularity::kPerGroup;
      break;
    default:
      options.weight_granularity = engine::WeightGranularity::kPerChannel;
  }
  options.group_size = settings.weight_group_size();
  options.weight_bits = BitsOrDefault(settings.weight_bits());
  options.activation_bits = BitsOrDefault(settings.activation_bits());
  options.weight_clipping = settings.weight_clipping() == v1::WEIGHT_CLIPPING_MSE
                                ? engine::WeightClipping::kMse
                                : engine::WeightClipping::kMaxAbs;
  switch (settings.activation_type()) {
    case v1::ACTIVATION_TYPE_UINT8:
      options.activation_type = engine::ActivationType::kUint8;
      break;
    case v1::ACTIVATION_TYPE_INT8:
      options.activation_type = engine::ActivationType::kInt8;
      break;
    default:
      options.activation_type = engine::ActivationType::kAuto;
  }
  options.symmetric_activations = !settings.asymmetric_activations();
  options.exclude_nodes.assign(settings.exclude_nodes().begin(), settings.exclude_nodes().end());
  options.exclude_op_types.assign(settings.exclude_op_types().begin(),
                                  settings.exclude_op_types().end());
  options.exclude_first_conv = settings.exclude_first_conv();
  options.exclude_last_fc = settings.exclude_last_fc();
  return options;
}

}  // namespace quantd::server
