#include "server/wire/image_inference.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "engine/data/image_preprocessing.h"
#include "engine/status_macros.h"
#include "server/wire/preprocessing_spec.h"

namespace quantd::server {

absl::StatusOr<engine::Tensor> InputFromImages(const v1::InferRequest& request,
                                               const v1::Model& model) {
  ASSIGN_OR_RETURN(const engine::ImagePreprocessing spec,
                   ToImagePreprocessing(model.preprocessing()));
  const std::vector<std::string_view> images(request.images().begin(), request.images().end());
  ASSIGN_OR_RETURN(engine::Tensor input, engine::PreprocessImageBatch(images, spec));
  if (model.inputs_size() > 0) input.name = model.inputs(0).name();
  return input;
}

int64_t InferInputBytesHeld(const v1::InferRequest& request, const v1::Model& model) {
  const int64_t message = static_cast<int64_t>(request.ByteSizeLong());
  if (request.images_size() == 0 || !model.has_preprocessing()) return 2 * message;
  const v1::PreprocessingSpec& spec = model.preprocessing();
  // Grayscale or three channels; three bounds both. Crop sides are checked
  // at upload, so the product cannot overflow.
  const int64_t sample = 4 * 3 * int64_t{spec.crop_height()} * int64_t{spec.crop_width()};
  return message + request.images_size() * sample;
}

int64_t InferResponseBytesBound(const std::vector<engine::Tensor>& outputs, const v1::Model& model,
                                int32_t top_k) {
  // Per tensor: 4 bytes per float, its shape and name, tags and lengths.
  int64_t bytes = 64;
  for (const engine::Tensor& output : outputs) {
    bytes += 4 * output.NumElements() + 10 * static_cast<int64_t>(output.shape.size()) +
             static_cast<int64_t>(output.name.size()) + 32;
  }
  if (top_k <= 0 || outputs.empty() || outputs.front().shape.empty() ||
      outputs.front().shape[0] <= 0) {
    return bytes;
  }
  const engine::Tensor& scores = outputs.front();
  const int64_t rows = scores.shape[0];
  const int64_t classes = scores.NumElements() / rows;
  int64_t longest_label = 0;
  for (const std::string& label : model.labels()) {
    longest_label = std::max<int64_t>(longest_label, static_cast<int64_t>(label.size()));
  }
  // A ScoredClass: index, score, label and their tags and lengths.
  const int64_t per_class = 24 + longest_label;
  return bytes + rows * (8 + std::min<int64_t>(top_k, classes) * per_class);
}

void AddClassifications(const engine::Tensor& scores, const v1::Model& model, int32_t top_k,
                        v1::InferResponse& response) {
  if (top_k <= 0 || scores.shape.empty() || scores.shape[0] <= 0) return;
  const int64_t rows = scores.shape[0];
  const int64_t classes = scores.NumElements() / rows;
  const int64_t k = std::min<int64_t>(top_k, classes);
  std::vector<int64_t> order(static_cast<size_t>(classes));
  for (int64_t row = 0; row < rows; ++row) {
    const float* values = scores.data.data() + row * classes;
    std::iota(order.begin(), order.end(), 0);
    // Ties keep the lower class index first, so results are deterministic.
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
      return values[a] > values[b] || (values[a] == values[b] && a < b);
    });
    v1::Classification& classification = *response.add_classifications();
    for (int64_t i = 0; i < k; ++i) {
      const int64_t index = order[static_cast<size_t>(i)];
      v1::ScoredClass& scored = *classification.add_top();
      scored.set_class_index(index);
      scored.set_score(values[index]);
      if (index < model.labels_size()) scored.set_label(model.labels(static_cast<int>(index)));
    }
  }
}

}  // namespace quantd::server
