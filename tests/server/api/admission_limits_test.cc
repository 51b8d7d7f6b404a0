// Per-process limits on what clients may hold at once: bytes of Infer inputs
// in flight, concurrent uploads, concurrent downloads. A call beyond is
// refused at once with RESOURCE_EXHAUSTED naming the flag, and what it held
// is given back when a call ends.

#include <chrono>
#include <functional>
#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"
#include "server/api/admission_budget.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

TEST(AdmissionBudgetTest, RefusesWhatWouldOverdrawItAndTakesBackWhatCallsGive) {
  AdmissionBudget budget(100, "Infer request bytes", "--max_infer_inflight_bytes");
  absl::StatusOr<AdmissionBudget::Taken> first = budget.Take(60);
  ASSERT_TRUE(first.ok());
  const absl::StatusOr<AdmissionBudget::Taken> second = budget.Take(41);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(second.status().message(),
              HasSubstr("Infer request bytes: 41 more would exceed --max_infer_inflight_bytes "
                        "(100, of which 60 held by calls in progress)"));
  {
    const absl::StatusOr<AdmissionBudget::Taken> third = budget.Take(40);
    ASSERT_TRUE(third.ok());
    EXPECT_EQ(budget.in_use(), 100);
  }
  EXPECT_EQ(budget.in_use(), 60);
  // Moving what was taken does not give it back twice.
  AdmissionBudget::Taken moved = *std::move(first);
  EXPECT_EQ(budget.in_use(), 60);
  // More than the whole budget never fits.
  EXPECT_FALSE(budget.Take(101).ok());
}

// Calls `call` until `done(status)` or 20 s pass; returns the last status. A
// slot is taken or given back by a handler on another thread, so the first
// calls may still see the state before.
grpc::Status RetryUntil(const std::function<grpc::Status()>& call,
                        const std::function<bool(const grpc::Status&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  grpc::Status status;
  do {
    status = call();
  } while (!done(status) && std::chrono::steady_clock::now() < deadline);
  return status;
}

bool Refused(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

bool Succeeded(const grpc::Status& status) { return status.ok(); }

class AdmissionLimitsTest : public InProcessServerTest {
 protected:
  void AdjustConfig(ServerConfig& config) override {
    // One sample of the fixture (784 floats) holds about 6.3 KB: its
    // message and its tensor; four samples do not fit.
    config.max_infer_inflight_bytes = 16 << 10;
    config.max_concurrent_uploads = 1;
    config.max_concurrent_downloads = 1;
    config.max_receive_message_bytes = 2 << 20;  // above the 1 MiB upload chunks
  }

  grpc::Status InferZeros(const std::string& model_id, int64_t batch) {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_id);
    for (int64_t d : {batch, int64_t{1}, int64_t{28}, int64_t{28}}) {
      request.mutable_input()->add_shape(d);
    }
    request.mutable_input()->mutable_data()->Resize(static_cast<int>(batch * 784), 0.0f);
    v1::InferResponse response;
    return stub_->Infer(&context, request, &response);
  }
};

TEST_F(AdmissionLimitsTest, InferInputsBeyondTheInflightBudgetAreRefused) {
  v1::Model model;
  v1::Dataset images;
  UploadFixtureModelAndImages(&model, &images);
  const grpc::Status refused = InferZeros(model.id(), 4);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("--max_infer_inflight_bytes (16384"));
  // What each call held was given back: small calls keep fitting.
  for (int i = 0; i < 3; ++i) {
    const grpc::Status status = InferZeros(model.id(), 1);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
}

// gRPC refuses a message over --max_receive_message_bytes before quantd
// parses it; the server goes on serving.
TEST_F(AdmissionLimitsTest, AMessageBeyondTheReceiveLimitIsRefused) {
  v1::Model model;
  v1::Dataset images;
  UploadFixtureModelAndImages(&model, &images);
  const grpc::Status refused = InferZeros(model.id(), 800);  // 800 x 784 floats: 2.5 MB
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("2097152"));
  const grpc::Status status = InferZeros(model.id(), 1);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(AdmissionLimitsTest, AnUploadBeyondTheConcurrentUploadsIsRefused) {
  // An upload left open holds the one slot.
  grpc::ClientContext open_context;
  v1::Model open_model;
  auto open_upload = stub_->UploadModel(&open_context, &open_model);
  v1::UploadModelRequest header;
  header.mutable_header()->set_name("slow");
  header.mutable_header()->set_size_bytes(1000);
  header.mutable_header()->set_sha256(std::string(64, '0'));
  ASSERT_TRUE(open_upload->Write(header));

  // The open upload's handler takes the slot when it starts; until then a
  // second upload may still get it (and fail on its digest instead).
  const std::string onnx = *ReadFileToString(kModelPath);
  const auto upload = [&] {
    v1::Model model;
    return UploadModelBytes(onnx, Sha256Hex(onnx), &model);
  };
  grpc::Status status = RetryUntil(upload, Refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_concurrent_uploads (1"));

  open_context.TryCancel();
  open_upload->Finish();
  // The cancelled upload gave its slot back.
  status = RetryUntil(upload, Succeeded);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(AdmissionLimitsTest, ADownloadBeyondTheConcurrentDownloadsIsRefused) {
  v1::Model model;
  v1::Dataset images;
  UploadFixtureModelAndImages(&model, &images);
  // A client that does not read holds its download open: with a 64 KiB
  // receive window (no window growth) the server's write of the 321 KB model
  // cannot complete, so its handler keeps the one slot.
  grpc::ChannelArguments slow_reader;
  slow_reader.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  slow_reader.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  auto slow_stub = v1::Quantd::NewStub(grpc::CreateCustomChannel(
      server_->listen_address(), grpc::InsecureChannelCredentials(), slow_reader));
  v1::DownloadVersionRequest request;
  request.set_model_id(model.id());
  request.set_version(1);
  grpc::ClientContext open_context;
  auto open_download = slow_stub->DownloadVersion(&open_context, request);

  // The open download's handler takes the slot when it starts; until then a
  // second download may still get it.
  const auto download = [&] {
    grpc::ClientContext context;
    auto reader = stub_->DownloadVersion(&context, request);
    v1::DownloadVersionResponse chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };
  grpc::Status status = RetryUntil(download, Refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("--max_concurrent_downloads (1"));

  open_context.TryCancel();
  open_download->Finish();
  // The cancelled download gave its slot back.
  status = RetryUntil(download, Succeeded);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(AdmissionLimitsTest, DownloadsGiveTheirSlotBack) {
  v1::Model model;
  v1::Dataset images;
  UploadFixtureModelAndImages(&model, &images);
  const std::string onnx = *ReadFileToString(kModelPath);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    v1::DownloadVersionRequest request;
    request.set_model_id(model.id());
    request.set_version(1);
    auto reader = stub_->DownloadVersion(&context, request);
    std::string bytes;
    v1::DownloadVersionResponse chunk;
    while (reader->Read(&chunk)) bytes += chunk.data();
    const grpc::Status status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(bytes, onnx);  // streamed from the mapped file, whole
  }
}

}  // namespace
}  // namespace quantd::server
