#ifndef QUANTD_SERVER_API_MODEL_UPLOAD_H_
#define QUANTD_SERVER_API_MODEL_UPLOAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/graph/model_summary.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::server {

// Reads the next message of a client stream into its argument; false at the
// end of the stream. The gRPC service wraps ServerReader::Read; tests replay
// a vector.
template <typename Message>
using StreamReader = std::function<bool(Message&)>;

struct ReceivedModel {
  v1::ModelUploadHeader header;
  std::string onnx_bytes;
};

// Consumes an UploadModel stream: the header first, then chunks. Enforces
// `max_bytes` while the bytes arrive (RESOURCE_EXHAUSTED), and checks the
// declared size and sha256 once they are all in (INVALID_ARGUMENT).
absl::StatusOr<ReceivedModel> ReceiveModelUpload(const StreamReader<v1::UploadModelRequest>& read,
                                                 int64_t max_bytes);

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
    const StreamReader<v1::UploadModelRequest>& read, int64_t max_bytes);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_MODEL_UPLOAD_H_
