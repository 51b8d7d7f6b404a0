// Encoded images as Infer and image datasets receive them, through the
// preprocessing spec: the first 4 bytes choose the spec (crop, resize, color
// order), the rest is the image.
#include <cstdint>
#include <string_view>

#include "engine/data/image_preprocessing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  quantd::engine::ImagePreprocessing spec;
  spec.crop_height = 1 + data[0] % 64;
  spec.crop_width = 1 + data[1] % 64;
  // Even: no resize; odd: a shorter side of up to 127 (crops larger than it
  // are refused by the spec's validation, as the server refuses them).
  spec.resize_shorter_side = data[2] % 2 == 0 ? 0 : data[2] / 2;
  spec.color_order = static_cast<quantd::engine::ColorOrder>(data[3] % 3);
  const std::string_view image(reinterpret_cast<const char*>(data + 4), size - 4);
  (void)quantd::engine::PreprocessImage(image, spec);
  return 0;
}
