#ifndef QUANTD_CLIENT_REMOTE_EVALUATION_H_
#define QUANTD_CLIENT_REMOTE_EVALUATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/dataset.h"
#include "quantd/v1/quantd.grpc.pb.h"

namespace quantd::client {

// Asks the server for the model's first input name (what Infer's tensor is
// called); falls back to "input" when the model lists none.
// The model's first input (name and shape, -1 for dynamic dims) via GetModel.
grpc::Status LookUpModelInput(v1::Quantd::Stub& stub, const std::string& model_id,
                              int64_t timeout_seconds, v1::TensorInfo& input);

grpc::Status LookUpInputName(v1::Quantd::Stub& stub, const std::string& model_id,
                             int64_t timeout_seconds, std::string& input_name);

// "fp32" / "int8" (any case) → the API enum.
absl::StatusOr<v1::Precision> ParsePrecision(const std::string& text);

// Index of the largest value of each row of a [rows, classes] output.
std::vector<int32_t> ArgmaxRows(const v1::Tensor& scores);

// One labelled dataset run through Infer batch by batch, the way a
// production caller would: accuracy from the server's answers, latency as
// seen by the client (network and queueing included).
struct RemoteEvaluation {
  v1::Precision precision = v1::PRECISION_UNSPECIFIED;
  int32_t version = 0;  // the version the server answered with
  int64_t num_samples = 0;
  int64_t num_correct = 0;
  int64_t batch_size = 0;
  int64_t concurrency = 1;
  double p50_batch_ms = 0;
  double p99_batch_ms = 0;
  double images_per_second = 0;
  std::vector<int32_t> predictions;  // one per sample

  double top1() const { return num_samples ? double(num_correct) / num_samples : 0.0; }
};

struct RemoteEvaluationRequest {
  std::string model_id;
  std::string input_name;
  v1::Precision precision = v1::FP32;
  int32_t version = 0;
  int64_t batch_size = 64;
  int64_t concurrency = 1;       // Infer calls in flight at once
  int64_t timeout_seconds = 60;  // per Infer call
};

// Each of `concurrency` callers sends one untimed warm-up batch; then they
// take the dataset's batches in order until none is left. `data` must be
// labelled. A failed Infer ends the run and is returned as is.
grpc::Status EvaluateRemotely(v1::Quantd::Stub& stub, const RemoteEvaluationRequest& request,
                              const engine::Dataset& data, RemoteEvaluation& result);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_REMOTE_EVALUATION_H_
