#include "server/api/dataset_upload.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

constexpr int64_t kNoLimit = int64_t{1} << 40;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

StreamReader<v1::UploadDatasetRequest> Replay(std::vector<v1::UploadDatasetRequest> messages) {
  auto next = std::make_shared<size_t>(0);
  auto stored = std::make_shared<std::vector<v1::UploadDatasetRequest>>(std::move(messages));
  return [next, stored](v1::UploadDatasetRequest& out) {
    if (*next >= stored->size()) return false;
    out = (*stored)[(*next)++];
    return true;
  };
}

v1::UploadDatasetRequest RawHeader(std::vector<int64_t> shape) {
  v1::UploadDatasetRequest request;
  request.mutable_header()->set_name("raw");
  request.mutable_header()->set_format(v1::RAW_FLOAT32);
  for (int64_t d : shape) request.mutable_header()->add_sample_shape(d);
  return request;
}

v1::UploadDatasetRequest IdxHeader(float pixel_scale) {
  v1::UploadDatasetRequest request;
  request.mutable_header()->set_name("idx");
  request.mutable_header()->set_format(v1::IDX);
  request.mutable_header()->set_pixel_scale(pixel_scale);
  return request;
}

v1::UploadDatasetRequest Chunk(v1::DatasetPart part, const std::string& bytes) {
  v1::UploadDatasetRequest request;
  request.mutable_chunk()->set_part(part);
  request.mutable_chunk()->set_data(bytes);
  return request;
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// Receives `messages` with a fresh scratch directory that outlives the result.
struct Receiving {
  testing::TempDir scratch;
  absl::StatusOr<ReceivedDataset> Run(std::vector<v1::UploadDatasetRequest> messages,
                                      int64_t max_bytes) {
    return ReceiveDatasetUpload(Replay(std::move(messages)), max_bytes, scratch.path());
  }
};

// A received dataset whose SAMPLES part holds `samples`, in `scratch`.
ReceivedDataset WithSamples(const std::filesystem::path& scratch,
                            const v1::UploadDatasetRequest& header, const std::string& samples) {
  ReceivedDataset received;
  received.header = header.header();
  received.samples = std::make_unique<ScratchFile>(scratch, "samples");
  EXPECT_TRUE(received.samples->Append(samples).ok());
  EXPECT_TRUE(received.samples->Close().ok());
  return received;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string BigEndian32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

TEST(DatasetUploadTest, ReceivesInterleavedParts) {
  Receiving receiving;
  auto received = receiving.Run(
      {RawHeader({2}), Chunk(v1::SAMPLES, "ab"), Chunk(v1::LABELS, "1"), Chunk(v1::SAMPLES, "cd")},
      100);
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->labels_file, "1");
  // The samples went to disk as they arrived, not into memory.
  ASSERT_NE(received->samples, nullptr);
  const std::filesystem::path samples_path = received->samples->path();
  EXPECT_EQ(samples_path.parent_path(), receiving.scratch.path());
  EXPECT_EQ(ReadFile(samples_path), "abcd");
  received = absl::CancelledError("dropped");
  EXPECT_FALSE(std::filesystem::exists(samples_path)) << "the scratch file outlived the upload";
}

TEST(DatasetUploadTest, RefusedUploadLeavesNoScratchFile) {
  Receiving receiving;
  auto received = receiving.Run({RawHeader({2}), Chunk(v1::SAMPLES, std::string(80, 'x')),
                                 Chunk(v1::SAMPLES, std::string(80, 'x'))},
                                100);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(std::filesystem::is_empty(receiving.scratch.path()));
}

TEST(DatasetUploadTest, HeaderFirstAndPartRequired) {
  Receiving receiving;
  EXPECT_EQ(receiving.Run({Chunk(v1::SAMPLES, "ab")}, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto no_part = receiving.Run({RawHeader({2}), Chunk(v1::DATASET_PART_UNSPECIFIED, "ab")}, 100);
  EXPECT_THAT(no_part.status().message(), HasSubstr("expected SAMPLES or LABELS"));
  auto no_samples = receiving.Run({RawHeader({2})}, 100);
  EXPECT_THAT(no_samples.status().message(), HasSubstr("no SAMPLES"));
  auto empty_samples = receiving.Run({RawHeader({2}), Chunk(v1::SAMPLES, "")}, 100);
  EXPECT_THAT(empty_samples.status().message(), HasSubstr("no SAMPLES"));
}

TEST(DatasetUploadTest, HeaderIsChecked) {
  v1::UploadDatasetRequest no_format;
  no_format.mutable_header()->set_name("x");
  Receiving receiving;
  EXPECT_THAT(receiving.Run({no_format}, 100).status().message(),
              HasSubstr("format must be IDX, RAW_FLOAT32 or ENCODED_IMAGES"));
  EXPECT_THAT(receiving.Run({RawHeader({})}, 100).status().message(),
              HasSubstr("needs sample_shape"));
  EXPECT_THAT(receiving.Run({RawHeader({1, 0})}, 100).status().message(),
              HasSubstr("non-positive"));
}

TEST(DatasetUploadTest, LimitCountsBothPartsWhileStreaming) {
  Receiving receiving;
  auto received = receiving.Run({RawHeader({2}), Chunk(v1::SAMPLES, std::string(60, 'x')),
                                 Chunk(v1::LABELS, std::string(60, 'y'))},
                                100);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(received.status().message(), "dataset upload exceeds --max_dataset_bytes (100 bytes)");
}

// Tiny images would let the byte limit admit millions of them, each with a
// per-image overhead larger than its data: the count is capped while they
// arrive.
TEST(DatasetUploadTest, ImagesBeyondTheCountLimitAreResourceExhausted) {
  v1::UploadDatasetRequest header;
  header.mutable_header()->set_name("images");
  header.mutable_header()->set_format(v1::ENCODED_IMAGES);
  header.mutable_header()->mutable_preprocessing()->set_crop_height(28);
  header.mutable_header()->mutable_preprocessing()->set_crop_width(28);
  header.mutable_header()->mutable_preprocessing()->set_color_order(v1::GRAYSCALE);
  std::vector<v1::UploadDatasetRequest> messages = {header};
  messages.resize(kMaxDatasetImages + 2, Chunk(v1::IMAGE, "x"));
  Receiving receiving;
  auto received = receiving.Run(std::move(messages), int64_t{1} << 30);
  EXPECT_EQ(received.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(received.status().message(),
            "dataset upload exceeds 200000 images; upload fewer images");

  // Exactly the limit is accepted.
  messages = {header};
  messages.resize(kMaxDatasetImages + 1, Chunk(v1::IMAGE, "x"));
  received = receiving.Run(std::move(messages), int64_t{1} << 30);
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(static_cast<int64_t>(received->images.size()), kMaxDatasetImages);
}

TEST(DatasetUploadTest, DecodesRawFloat32) {
  testing::TempDir scratch;
  auto data = [&] {
    ReceivedDataset received =
        WithSamples(scratch.path(), RawHeader({1, 2}), Bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
    received.labels_file = Bytes(std::vector<int32_t>{0, 1, 2});
    return DecodeDataset(received, scratch.path(), kNoLimit);
  }();
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_samples, 3);
  EXPECT_THAT(data->sample_shape, ElementsAre(1, 2));
  EXPECT_THAT(data->samples, ElementsAre(1, 2, 3, 4, 5, 6));
  EXPECT_THAT(data->labels, ElementsAre(0, 1, 2));
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path())) << "scratch files must be removed";
}

TEST(DatasetUploadTest, DecodesIdxWithDefaultPixelScale) {
  // Two 2x2 images and their labels, uncompressed IDX (magic 0x0803 / 0x0801).
  std::string images = BigEndian32(0x00000803) + BigEndian32(2) + BigEndian32(2) + BigEndian32(2);
  images += std::string{0, static_cast<char>(255), 51, 102, 0, 0, 0, 0};
  std::string labels = BigEndian32(0x00000801) + BigEndian32(2) + std::string{3, 9};
  testing::TempDir scratch;
  ReceivedDataset received = WithSamples(scratch.path(), IdxHeader(0), images);
  received.labels_file = labels;
  auto data = DecodeDataset(received, scratch.path(), kNoLimit);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_samples, 2);
  EXPECT_THAT(data->sample_shape, ElementsAre(1, 2, 2));
  EXPECT_FLOAT_EQ(data->samples[1], 1.0f);
  EXPECT_FLOAT_EQ(data->samples[2], 0.2f);
  EXPECT_THAT(data->labels, ElementsAre(3, 9));
}

// Two 2x2 images decode to 32 bytes of floats: a limit of 31 refuses them,
// naming the flag, although the IDX bytes themselves are only 24.
TEST(DatasetUploadTest, IdxDecodedPastTheLimitIsResourceExhausted) {
  std::string images = BigEndian32(0x00000803) + BigEndian32(2) + BigEndian32(2) + BigEndian32(2);
  images += std::string(8, '\0');
  testing::TempDir scratch;
  ReceivedDataset received = WithSamples(scratch.path(), IdxHeader(0), images);
  absl::Status status = DecodeDataset(received, scratch.path(), 31).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("decode to 32 bytes of float32 samples"));
  EXPECT_THAT(status.message(), HasSubstr("--max_dataset_bytes is 31 bytes"));
  EXPECT_TRUE(DecodeDataset(received, scratch.path(), 32).ok());
}

TEST(DatasetUploadTest, MisSizedRawSamplesAreRejected) {
  testing::TempDir scratch;
  ReceivedDataset received =
      WithSamples(scratch.path(), RawHeader({1, 2}), Bytes(std::vector<float>{1, 2, 3}));
  absl::Status status = DecodeDataset(received, scratch.path(), kNoLimit).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("dataset 'raw'"));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr(scratch.path().string())));
}

}  // namespace
}  // namespace quantd::server
