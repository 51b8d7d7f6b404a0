#ifndef QUANTD_SERVER_API_DATASET_UPLOAD_H_
#define QUANTD_SERVER_API_DATASET_UPLOAD_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "quantd/v1/quantd.pb.h"
#include "server/api/model_upload.h"
#include "server/storage/scratch_file.h"

namespace quantd::server {

struct ReceivedDataset {
  v1::DatasetUploadHeader header;
  // IDX and RAW_FLOAT32: the SAMPLES part, written to disk as it arrives
  // (the decoded float32 samples are the only full copy held in memory).
  std::unique_ptr<ScratchFile> samples;
  std::string labels_file;          // empty when no labels were sent (4 bytes a sample)
  std::vector<std::string> images;  // ENCODED_IMAGES: one encoded image per IMAGE chunk
};

// ENCODED_IMAGES uploads hold at most this many images; with small images the
// byte limit alone would admit a per-image overhead larger than the data.
inline constexpr int64_t kMaxDatasetImages = 200000;
// ... and decode to at most this many bytes of float32 samples, since a tiny
// compressed image can ask for a large crop.
inline constexpr int64_t kMaxDecodedDatasetBytes = int64_t{2} << 30;

// Consumes an UploadDataset stream: the header first, then SAMPLES (or, for
// ENCODED_IMAGES, IMAGE) and optional LABELS chunks in any interleaving.
// `max_bytes` bounds all parts together and is enforced while the bytes
// arrive, as is kMaxDatasetImages (RESOURCE_EXHAUSTED). ENCODED_IMAGES needs a
// valid preprocessing spec in the header (INVALID_ARGUMENT naming the field).
// SAMPLES chunks go to a scratch file in `scratch_dir`.
absl::StatusOr<ReceivedDataset> ReceiveDatasetUpload(
    const StreamReader<v1::UploadDatasetRequest>& read, int64_t max_bytes,
    const std::filesystem::path& scratch_dir);

// Decodes the received files per the header's format into the canonical
// float32 samples + int32 labels (IDX: pixel_scale 0 means 1/255;
// ENCODED_IMAGES: every image preprocessed by the header's spec, and if any
// cannot be, INVALID_ARGUMENT naming all their indices). The engine's
// readers take file paths, so labels pass through a ScratchFile in
// `scratch_dir` too. IDX samples may decode to at most `max_sample_bytes`
// (--max_dataset_bytes): a small gzip must not become gigabytes of floats.
absl::StatusOr<engine::Dataset> DecodeDataset(const ReceivedDataset& received,
                                              const std::filesystem::path& scratch_dir,
                                              int64_t max_sample_bytes);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_DATASET_UPLOAD_H_
