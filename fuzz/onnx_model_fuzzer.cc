// Hostile ONNX models: inspection (the upload's check), then an fp32 session
// (import, passes, constant folding) and one run of the batch-1 Plan on a
// zero input. Every failure must be a Status; a crash, an exception escaping
// the engine, a leak or an allocation past the sanitizer's limit is a bug.
#include <cstdint>
#include <string_view>

#include "engine/runtime/inference_session.h"
#include "engine/runtime/model_inspection.h"

namespace {

// Inputs larger than this are not run (a model may ask for any shape; the
// point is to exercise compilation, not to allocate gigabytes on purpose).
constexpr int64_t kMaxInputValues = int64_t{1} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto summary = quantd::engine::InspectModel(bytes);
  if (!summary.ok() || summary->inputs.size() != 1) return 0;
  quantd::engine::SessionOptions options;
  options.tune_batch_split = false;
  auto session = quantd::engine::InferenceSession::Create(bytes, options);
  if (!session.ok()) return 0;
  quantd::engine::Tensor input;
  input.name = summary->inputs[0].name;
  int64_t values = 1;
  for (int64_t d : summary->inputs[0].shape) {
    const int64_t dim = d > 0 ? d : 1;
    if (__builtin_mul_overflow(values, dim, &values) || values > kMaxInputValues) return 0;
    input.shape.push_back(dim);
  }
  input.data.assign(static_cast<size_t>(values), 0.0f);
  (void)(*session)->Run(input);
  return 0;
}
