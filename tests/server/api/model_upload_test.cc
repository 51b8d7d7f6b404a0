#include "server/api/model_upload.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/sha256.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

// Replays `messages` as a client stream would deliver them.
StreamReader<v1::UploadModelRequest> Replay(std::vector<v1::UploadModelRequest> messages,
                                            int* reads = nullptr) {
  auto next = std::make_shared<size_t>(0);
  auto stored = std::make_shared<std::vector<v1::UploadModelRequest>>(std::move(messages));
  return [next, stored, reads](v1::UploadModelRequest& out) {
    if (*next >= stored->size()) return false;
    if (reads != nullptr) ++*reads;
    out = (*stored)[(*next)++];
    return true;
  };
}

v1::UploadModelRequest Header(const std::string& name, int64_t size, const std::string& sha) {
  v1::UploadModelRequest request;
  request.mutable_header()->set_name(name);
  request.mutable_header()->set_size_bytes(size);
  request.mutable_header()->set_sha256(sha);
  return request;
}

v1::UploadModelRequest Chunk(const std::string& bytes) {
  v1::UploadModelRequest request;
  request.set_chunk(bytes);
  return request;
}

// Uploads stream into a scratch directory of their own.
class ModelUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<ReceivedModel> Receive(const StreamReader<v1::UploadModelRequest>& read,
                                        int64_t max_bytes) {
    return ReceiveModelUpload(read, max_bytes, dir_);
  }
  bool ScratchDirIsEmpty() const { return std::filesystem::is_empty(dir_); }

  std::filesystem::path dir_;
};

TEST_F(ModelUploadTest, AcceptsChunksMatchingSizeAndDigest) {
  const std::string body = "0123456789abcdef";
  auto received = Receive(
      Replay({Header("m", 16, Sha256Hex(body)), Chunk("01234567"), Chunk("89abcdef")}), 1000);
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->onnx_bytes(), body);
  EXPECT_EQ(received->header.name(), "m");
  // The bytes live in a scratch file until the upload is dropped.
  EXPECT_FALSE(ScratchDirIsEmpty());
  *received = ReceivedModel{};
  EXPECT_TRUE(ScratchDirIsEmpty());
}

// A refused upload leaves nothing behind.
TEST_F(ModelUploadTest, RefusedUploadLeavesNoScratchFile) {
  EXPECT_FALSE(Receive(Replay({Header("m", 3, Sha256Hex("abd")), Chunk("abc")}), 100).ok());
  EXPECT_FALSE(Receive(Replay({Header("m", 3, Sha256Hex("abc")), Chunk("abcd")}), 100).ok());
  EXPECT_TRUE(ScratchDirIsEmpty());
}

TEST_F(ModelUploadTest, HeaderMustComeFirst) {
  auto received = Receive(Replay({Chunk("abc")}), 1000);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(received.status().message(), HasSubstr("first message"));
  EXPECT_EQ(Receive(Replay({}), 1000).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelUploadTest, RequiresNameSizeAndWellFormedDigest) {
  EXPECT_THAT(
      Receive(Replay({Header("", 3, Sha256Hex("abc"))}), 1000).status().message(),
      HasSubstr("name is required"));
  EXPECT_THAT(Receive(Replay({Header("m", 0, Sha256Hex(""))}), 1000).status().message(),
              HasSubstr("size_bytes must be positive"));
  EXPECT_THAT(Receive(Replay({Header("m", 3, "ABC")}), 1000).status().message(),
              HasSubstr("64 lowercase hex"));
}

TEST_F(ModelUploadTest, SizeLimitIsEnforcedWhileStreaming) {
  // The header lies about the size; the limit must still stop the stream
  // before the remaining chunks are read.
  int reads = 0;
  std::vector<v1::UploadModelRequest> messages = {Header("m", 10, Sha256Hex("x"))};
  for (int i = 0; i < 100; ++i) messages.push_back(Chunk("0123456789"));
  auto received = Receive(Replay(messages, &reads), 15);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(received.status().message(), "model upload exceeds --max_model_bytes (15 bytes)");
  EXPECT_LE(reads, 3);
}

TEST_F(ModelUploadTest, DeclaredSizeAboveTheLimitIsRefusedAtOnce) {
  auto received = Receive(Replay({Header("m", 268435457, Sha256Hex("x"))}), 268435456);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(received.status().message(), HasSubstr("--max_model_bytes (268435456 bytes)"));
}

TEST_F(ModelUploadTest, DeclaredSizeMustMatch) {
  auto short_upload =
      Receive(Replay({Header("m", 5, Sha256Hex("abc")), Chunk("abc")}), 100);
  EXPECT_EQ(short_upload.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_upload.status().message(), HasSubstr("declared size_bytes 5 but sent 3"));
  auto long_upload =
      Receive(Replay({Header("m", 2, Sha256Hex("abc")), Chunk("abc")}), 100);
  EXPECT_EQ(long_upload.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelUploadTest, ChecksumMismatchNamesBothDigests) {
  const std::string claimed = Sha256Hex("abd");
  auto received = Receive(Replay({Header("m", 3, claimed), Chunk("abc")}), 100);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(received.status().message(), "sha256 mismatch: header says " + claimed +
                                             ", received bytes hash to " + Sha256Hex("abc"));
}

TEST_F(ModelUploadTest, SecondHeaderIsRejected) {
  auto received = Receive(
      Replay({Header("m", 3, Sha256Hex("abc")), Header("m", 3, Sha256Hex("abc"))}), 100);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelUploadTest, GarbageBytesFailInspection) {
  const std::string garbage = "this is not an ONNX model";
  auto validated = ReceiveAndValidateModel(
      Replay(
          {Header("m", static_cast<int64_t>(garbage.size()), Sha256Hex(garbage)), Chunk(garbage)}),
      1000, dir_);
  EXPECT_EQ(validated.status().code(), absl::StatusCode::kInvalidArgument) << validated.status();
}

}  // namespace
}  // namespace quantd::server
