#ifndef QUANTD_SERVER_WIRE_PREPROCESSING_SPEC_H_
#define QUANTD_SERVER_WIRE_PREPROCESSING_SPEC_H_

#include "absl/status/statusor.h"
#include "engine/data/image_preprocessing.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// The engine's form of a wire PreprocessingSpec (scale 0 means 1/255,
// COLOR_ORDER_UNSPECIFIED means RGB), validated: INVALID_ARGUMENT naming the
// field ("preprocessing.crop_height ...") if it cannot produce a sample.
absl::StatusOr<engine::ImagePreprocessing> ToImagePreprocessing(const v1::PreprocessingSpec& spec);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_WIRE_PREPROCESSING_SPEC_H_
