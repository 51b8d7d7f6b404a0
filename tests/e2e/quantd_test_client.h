#ifndef QUANTD_TESTS_E2E_QUANTD_TEST_CLIENT_H_
#define QUANTD_TESTS_E2E_QUANTD_TEST_CLIENT_H_

// Thin helpers over the generated gRPC stub for the end-to-end tests: each
// call is one RPC with a deadline, so a broken server fails a test instead of
// hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/data/dataset.h"
#include "grpcpp/grpcpp.h"
#include "quantd/v1/quantd.grpc.pb.h"

namespace quantd::e2e {

inline constexpr size_t kChunkBytes = size_t{1} << 20;

inline std::string FashionMnistFile(const std::string& name) {
  return absl::StrCat("/usr/share/datasets/fashion-mnist/", name);
}

inline std::string FixtureFile(const std::string& name) {
  return absl::StrCat(QUANTD_SOURCE_DIR, "/fixtures/", name);
}

inline void SetDeadline(grpc::ClientContext& context, int seconds = 60) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

inline std::unique_ptr<v1::Quantd::Stub> ConnectTo(const std::string& address) {
  return v1::Quantd::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

inline grpc::Status UploadModel(v1::Quantd::Stub& stub, const std::string& name,
                                const std::string& bytes, const std::string& sha256,
                                v1::Model& model) {
  grpc::ClientContext context;
  SetDeadline(context);
  auto writer = stub.UploadModel(&context, &model);
  v1::UploadModelRequest request;
  request.mutable_header()->set_name(name);
  request.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
  request.mutable_header()->set_sha256(sha256);
  bool open = writer->Write(request);
  for (size_t offset = 0; open && offset < bytes.size(); offset += kChunkBytes) {
    request.Clear();
    request.set_chunk(bytes.substr(offset, kChunkBytes));
    open = writer->Write(request);
  }
  writer->WritesDone();
  return writer->Finish();
}

inline grpc::Status UploadDataset(v1::Quantd::Stub& stub, const v1::DatasetUploadHeader& header,
                                  const std::string& samples, const std::string& labels,
                                  v1::Dataset& dataset) {
  grpc::ClientContext context;
  SetDeadline(context);
  auto writer = stub.UploadDataset(&context, &dataset);
  v1::UploadDatasetRequest request;
  *request.mutable_header() = header;
  bool open = writer->Write(request);
  for (const auto& [part, bytes] : {std::pair{v1::SAMPLES, &samples}, {v1::LABELS, &labels}}) {
    for (size_t offset = 0; open && offset < bytes->size(); offset += kChunkBytes) {
      request.Clear();
      request.mutable_chunk()->set_part(part);
      request.mutable_chunk()->set_data(bytes->substr(offset, kChunkBytes));
      open = writer->Write(request);
    }
  }
  writer->WritesDone();
  return writer->Finish();
}

// The first `count` samples of `data` (with labels, if it has them) as a
// RAW_FLOAT32 upload.
inline grpc::Status UploadRawSubset(v1::Quantd::Stub& stub, const std::string& name,
                                    const engine::Dataset& data, int64_t count,
                                    v1::Dataset& dataset) {
  v1::DatasetUploadHeader header;
  header.set_name(name);
  header.set_format(v1::RAW_FLOAT32);
  for (int64_t d : data.sample_shape) header.add_sample_shape(d);
  const std::string samples(reinterpret_cast<const char*>(data.samples.data()),
                            static_cast<size_t>(count * data.SampleSize()) * sizeof(float));
  std::string labels;
  if (data.has_labels()) {
    labels.assign(reinterpret_cast<const char*>(data.labels.data()),
                  static_cast<size_t>(count) * sizeof(int32_t));
  }
  return UploadDataset(stub, header, samples, labels, dataset);
}

inline v1::Tensor BatchTensor(const engine::Dataset& data, int64_t start, int64_t count,
                              const std::string& name = "input") {
  v1::Tensor tensor;
  tensor.set_name(name);
  tensor.add_shape(count);
  for (int64_t d : data.sample_shape) tensor.add_shape(d);
  const float* first = data.samples.data() + start * data.SampleSize();
  tensor.mutable_data()->Add(first, first + count * data.SampleSize());
  return tensor;
}

inline grpc::Status Infer(v1::Quantd::Stub& stub, const std::string& model_id,
                          v1::Precision precision, const v1::Tensor& input,
                          v1::InferResponse& response, int32_t version = 0) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::InferRequest request;
  request.set_model_id(model_id);
  request.set_precision(precision);
  request.set_version(version);
  *request.mutable_input() = input;
  return stub.Infer(&context, request, &response);
}

inline grpc::Status GetJob(v1::Quantd::Stub& stub, const std::string& job_id, v1::Job& job) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  return stub.GetJob(&context, request, &job);
}

inline grpc::Status CancelJob(v1::Quantd::Stub& stub, const std::string& job_id, v1::Job& job) {
  grpc::ClientContext context;
  SetDeadline(context);
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  return stub.CancelJob(&context, request, &job);
}

// Follows a job until `until` holds for an update or the job ends (or the
// deadline passes); returns the last update seen.
template <typename Until>
v1::Job WatchJobUntil(v1::Quantd::Stub& stub, const std::string& job_id, Until until,
                      int deadline_seconds = 180) {
  grpc::ClientContext context;
  SetDeadline(context, deadline_seconds);
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  auto reader = stub.WatchJob(&context, request);
  v1::Job update;
  while (reader->Read(&update)) {
    if (until(update)) break;
  }
  context.TryCancel();
  reader->Finish().IgnoreError();
  return update;
}

// Row-wise argmax of a [rows, classes] output; empty if it is not 2-D.
inline std::vector<int> ArgmaxRows(const v1::Tensor& scores) {
  std::vector<int> classes;
  if (scores.shape_size() != 2 || scores.shape(0) * scores.shape(1) != scores.data_size()) {
    return classes;
  }
  const int64_t width = scores.shape(1);
  for (int64_t r = 0; r < scores.shape(0); ++r) {
    const float* row = scores.data().data() + r * width;
    classes.push_back(static_cast<int>(std::max_element(row, row + width) - row));
  }
  return classes;
}

// A plain HTTP/1.0 GET on loopback; returns the whole response (status line,
// headers and body) or an empty string if the connection failed.
inline std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n;
      while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return response;
}

// The value of the series `name{labels}` in a /metrics body, or -1.
inline double SeriesValue(const std::string& body, const std::string& name,
                          const std::string& labels) {
  const std::string prefix = name + "{" + labels + "} ";
  const size_t at = body.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + prefix.size()));
}

// The body of the /metrics page on `port`.
inline std::string MetricsBody(int port) {
  const std::string response = HttpGet(port, "/metrics");
  const size_t body_start = response.find("\r\n\r\n");
  return body_start == std::string::npos ? "" : response.substr(body_start + 4);
}

}  // namespace quantd::e2e

#endif  // QUANTD_TESTS_E2E_QUANTD_TEST_CLIENT_H_
