#include "client/remote_evaluation.h"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace quantd::client {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  const size_t rank = static_cast<size_t>(fraction * (values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + rank, values.end());
  return values[rank];
}

grpc::Status InferBatch(v1::Quantd::Stub& stub, const RemoteEvaluationRequest& request,
                        const engine::Dataset& data, int64_t start, int64_t count,
                        v1::InferResponse& response) {
  v1::InferRequest infer;
  infer.set_model_id(request.model_id);
  infer.set_version(request.version);
  infer.set_precision(request.precision);
  v1::Tensor* input = infer.mutable_input();
  input->set_name(request.input_name);
  input->add_shape(count);
  for (int64_t d : data.sample_shape) input->add_shape(d);
  const int64_t sample_size = data.SampleSize();
  const float* first = data.samples.data() + start * sample_size;
  input->mutable_data()->Add(first, first + count * sample_size);

  grpc::ClientContext context;
  if (request.timeout_seconds > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(request.timeout_seconds));
  }
  grpc::Status status = stub.Infer(&context, infer, &response);
  if (!status.ok()) return status;
  if (response.outputs_size() < 1 || response.outputs(0).shape_size() != 2 ||
      response.outputs(0).shape(0) != count ||
      response.outputs(0).data_size() !=
          response.outputs(0).shape(0) * response.outputs(0).shape(1)) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("Infer answered a batch of ", count, " without a [", count,
                                     ", classes] output"));
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status LookUpModelInput(v1::Quantd::Stub& stub, const std::string& model_id,
                              int64_t timeout_seconds, v1::TensorInfo& input) {
  grpc::ClientContext context;
  if (timeout_seconds > 0) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  }
  v1::GetModelRequest request;
  request.set_model_id(model_id);
  v1::Model model;
  grpc::Status status = stub.GetModel(&context, request, &model);
  if (!status.ok()) return status;
  if (model.inputs_size() == 0) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "model '" + model_id + "' declares no input");
  }
  input = model.inputs(0);
  return grpc::Status::OK;
}

grpc::Status LookUpInputName(v1::Quantd::Stub& stub, const std::string& model_id,
                             int64_t timeout_seconds, std::string& input_name) {
  v1::TensorInfo input;
  grpc::Status status = LookUpModelInput(stub, model_id, timeout_seconds, input);
  if (status.ok()) input_name = input.name();
  return status;
}

absl::StatusOr<v1::Precision> ParsePrecision(const std::string& text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "fp32") return v1::FP32;
  if (lower == "int8") return v1::INT8;
  return absl::InvalidArgumentError(
      absl::StrCat("--precision must be fp32 or int8, not '", text, "'"));
}

std::vector<int32_t> ArgmaxRows(const v1::Tensor& scores) {
  std::vector<int32_t> classes;
  if (scores.shape_size() != 2 || scores.shape(1) <= 0) return classes;
  const int64_t rows = scores.shape(0);
  const int64_t width = scores.shape(1);
  for (int64_t r = 0; r < rows && (r + 1) * width <= scores.data_size(); ++r) {
    const float* row = scores.data().data() + r * width;
    classes.push_back(static_cast<int32_t>(std::max_element(row, row + width) - row));
  }
  return classes;
}

grpc::Status EvaluateRemotely(v1::Quantd::Stub& stub, const RemoteEvaluationRequest& request,
                              const engine::Dataset& data, RemoteEvaluation& result) {
  result = RemoteEvaluation{};
  result.precision = request.precision;
  result.batch_size = request.batch_size;
  result.concurrency = std::max<int64_t>(1, request.concurrency);
  if (data.num_samples == 0) return grpc::Status::OK;

  const int64_t callers = result.concurrency;
  std::vector<int32_t> predictions(static_cast<size_t>(data.num_samples), -1);
  std::vector<std::vector<double>> latencies_ms(static_cast<size_t>(callers));
  std::atomic<int64_t> next_start{0};
  std::atomic<int32_t> version{0};
  std::atomic<bool> failed{false};
  absl::Mutex error_mutex;
  grpc::Status first_error;
  auto fail = [&](const grpc::Status& status) {
    absl::MutexLock lock(&error_mutex);
    if (!failed.exchange(true)) first_error = status;
  };
  Clock::time_point run_start;
  // Timing starts once every caller has warmed up: the first call may compile
  // the model's plan on the server.
  std::barrier warmed_up(callers, [&]() noexcept { run_start = Clock::now(); });

  auto caller = [&](size_t index) {
    v1::InferResponse response;
    const grpc::Status warm = InferBatch(stub, request, data, 0,
                                         std::min(request.batch_size, data.num_samples), response);
    if (!warm.ok()) fail(warm);
    warmed_up.arrive_and_wait();
    while (!failed) {
      const int64_t start = next_start.fetch_add(request.batch_size);
      if (start >= data.num_samples) break;
      const int64_t count = std::min(request.batch_size, data.num_samples - start);
      const auto call_start = Clock::now();
      const grpc::Status status = InferBatch(stub, request, data, start, count, response);
      if (!status.ok()) {
        fail(status);
        break;
      }
      latencies_ms[index].push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - call_start).count());
      version = response.version();
      const std::vector<int32_t> classes = ArgmaxRows(response.outputs(0));
      std::copy(classes.begin(), classes.end(), predictions.begin() + start);
    }
  };
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < callers; ++i) threads.emplace_back(caller, static_cast<size_t>(i));
  caller(0);
  for (auto& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - run_start).count();
  if (failed) return first_error;

  std::vector<double> all_latencies;
  for (const auto& per_caller : latencies_ms) {
    all_latencies.insert(all_latencies.end(), per_caller.begin(), per_caller.end());
  }
  result.version = version;
  result.num_samples = data.num_samples;
  for (size_t i = 0; i < predictions.size(); ++i) {
    result.num_correct += i < data.labels.size() && predictions[i] == data.labels[i];
  }
  result.predictions = std::move(predictions);
  result.p50_batch_ms = Percentile(all_latencies, 0.50);
  result.p99_batch_ms = Percentile(all_latencies, 0.99);
  result.images_per_second = seconds > 0 ? data.num_samples / seconds : 0;
  return grpc::Status::OK;
}

}  // namespace quantd::client
