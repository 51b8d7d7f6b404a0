#ifndef QUANTD_SERVER_DATASET_UPLOAD_H_
#define QUANTD_SERVER_DATASET_UPLOAD_H_

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "quantd/v1/quantd.pb.h"
#include "server/model_upload.h"

namespace quantd::server {

struct ReceivedDataset {
  v1::DatasetUploadHeader header;
  std::string samples_file;
  std::string labels_file;  // empty when no labels were sent
};

// Consumes an UploadDataset stream: the header first, then SAMPLES and
// optional LABELS chunks in any interleaving. `max_bytes` bounds both parts
// together and is enforced while the bytes arrive (RESOURCE_EXHAUSTED).
absl::StatusOr<ReceivedDataset> ReceiveDatasetUpload(
    const StreamReader<v1::UploadDatasetRequest>& read, int64_t max_bytes);

// Decodes the received files per the header's format into the canonical
// float32 samples + int32 labels (IDX: pixel_scale 0 means 1/255). The
// engine's readers take file paths, so the parts pass through short-lived
// files in `scratch_dir`, named as temp files so a crash leaves no debris
// that survives the next start.
absl::StatusOr<engine::Dataset> DecodeDataset(const ReceivedDataset& received,
                                              const std::filesystem::path& scratch_dir);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_DATASET_UPLOAD_H_
