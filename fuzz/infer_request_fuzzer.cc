// Request messages as they arrive off the wire, through the checks and
// conversions that run before any model does: quantd.v1 Infer (tensor or
// images), KServe ModelInfer against a two-input model, QuantizeModel knobs.
// The first byte picks the message; the rest is its serialized form.
#include <cstdint>

#include "google/protobuf/stubs/logging.h"
#include "inference/grpc_service.pb.h"
#include "quantd/v1/quantd.pb.h"
#include "server/api/infer_request_validator.h"
#include "server/wire/image_inference.h"
#include "server/wire/kserve_tensors.h"
#include "server/wire/proto_conversion.h"
#include "server/wire/quantization_settings.h"

namespace {

using quantd::v1::Model;

// An image model: [N,1,28,28] with a preprocessing spec, as uploads make it.
const Model& ImageModel() {
  static const Model* model = [] {
    auto* m = new Model;
    m->set_id("mdl_fuzz");
    auto* input = m->add_inputs();
    input->set_name("input");
    for (int64_t d : {-1, 1, 28, 28}) input->add_shape(d);
    auto* output = m->add_outputs();
    output->set_name("logits");
    for (int64_t d : {-1, 10}) output->add_shape(d);
    m->mutable_preprocessing()->set_crop_height(28);
    m->mutable_preprocessing()->set_crop_width(28);
    m->mutable_preprocessing()->set_color_order(quantd::v1::GRAYSCALE);
    auto* version = m->add_versions();
    version->set_version(1);
    version->set_precision(quantd::v1::FP32);
    return m;
  }();
  return *model;
}

const Model& TwoInputModel() {
  static const Model* model = [] {
    auto* m = new Model(ImageModel());
    auto* mask = m->add_inputs();
    mask->set_name("mask");
    for (int64_t d : {-1, 4}) mask->add_shape(d);
    return m;
  }();
  return *model;
}

void FuzzInfer(const uint8_t* data, size_t size) {
  quantd::v1::InferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  (void)quantd::server::ResolveModelVersion(ImageModel(), request.version(), request.precision());
  if (!quantd::server::ValidateInferRequest(request, ImageModel()).ok()) return;
  if (request.images_size() > 0) {
    (void)quantd::server::InputFromImages(request, ImageModel());
  } else {
    (void)quantd::server::ToEngineTensor(request.input());
  }
}

void FuzzModelInfer(const uint8_t* data, size_t size) {
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  (void)quantd::server::InputsFromModelInfer(request, TwoInputModel());
}

void FuzzQuantize(const uint8_t* data, size_t size) {
  quantd::v1::QuantizeModelRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  if (!quantd::server::ValidateKnobs(request).ok()) return;
  const quantd::v1::QuantizeModelRequest filled = quantd::server::WithDefaults(request);
  (void)quantd::server::ToCalibrationOptions(filled);
  (void)quantd::server::ToQuantizationOptions(filled.quantization());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it parses; mutated inputs are
  // full of them.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  if (size == 0) return 0;
  switch (data[0] % 3) {
    case 0:
      FuzzInfer(data + 1, size - 1);
      break;
    case 1:
      FuzzModelInfer(data + 1, size - 1);
      break;
    default:
      FuzzQuantize(data + 1, size - 1);
      break;
  }
  return 0;
}
