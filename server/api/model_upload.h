#ifndef QUANTD_SERVER_API_MODEL_UPLOAD_H_
#define QUANTD_SERVER_API_MODEL_UPLOAD_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/graph/model_summary.h"
#include "server/storage/mapped_file.h"
#include "server/storage/scratch_file.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// Reads the next message of a client stream into its argument; false at the
// end of the stream. The gRPC service wraps ServerReader::Read; tests replay
// a vector.
template <typename Message>
using StreamReader = std::function<bool(Message&)>;

// An upload's bytes live in a scratch file (removed with this object), mapped
// for reading: a 350 MB model is not held on the heap while it arrives.
struct ReceivedModel {
  v1::ModelUploadHeader header;
  std::unique_ptr<ScratchFile> file;
  MappedFile mapped;
  std::string_view onnx_bytes() const { return mapped.bytes(); }
};

// Consumes an UploadModel stream: the header first, then chunks, appended to
// a file in `scratch_dir`. Enforces `max_bytes` while the bytes arrive
// (RESOURCE_EXHAUSTED), and checks the declared size and sha256 once they are
// all in (INVALID_ARGUMENT).
absl::StatusOr<ReceivedModel> ReceiveModelUpload(const StreamReader<v1::UploadModelRequest>& read,
                                                 int64_t max_bytes,
                                                 const std::filesystem::path& scratch_dir);

// Receives and then inspects the model (engine::InspectModel: INVALID_ARGUMENT
// for a malformed model, UNIMPLEMENTED for unsupported operators), then checks
// the header's optional preprocessing spec and labels against it
// (INVALID_ARGUMENT naming the field: an invalid spec, a sample shape
// [C, crop_height, crop_width] that differs from a fixed NCHW input, a labels
// count that differs from the first output's class count).
struct ValidatedModel {
  ReceivedModel received;
  engine::ModelSummary summary;
};
absl::StatusOr<ValidatedModel> ReceiveAndValidateModel(
    const StreamReader<v1::UploadModelRequest>& read, int64_t max_bytes,
    const std::filesystem::path& scratch_dir);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_MODEL_UPLOAD_H_
