#include "engine/data/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::FloatEq;
using ::testing::HasSubstr;

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string LittleEndian32(uint32_t v) {
  return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
          static_cast<char>(v >> 24)};
}

std::string IdxBytes(uint32_t magic, const std::vector<uint32_t>& dims,
                     const std::string& payload) {
  std::string bytes = BigEndian32(magic);
  for (uint32_t d : dims) bytes += BigEndian32(d);
  return bytes + payload;
}

std::string GzipCompress(std::string_view raw) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&stream, raw.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// Each test writes into its own directory so parallel ctest runs cannot collide.
class DatasetFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("quantd_dataset_") + info->test_suite_name() + "_" + info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  std::filesystem::path dir_;
};

// Three 2x2 images and their labels.
const std::string kPixels = {
    0, 1, 2, 3, 10, 20, 30, 40, static_cast<char>(255), 0, 0, static_cast<char>(128)};
const std::string kLabels = {7, 0, 9};

std::string ImagesIdx() { return IdxBytes(0x803, {3, 2, 2}, kPixels); }
std::string LabelsIdx() { return IdxBytes(0x801, {3}, kLabels); }

void ExpectSmallDataset(const Dataset& data, float scale) {
  EXPECT_EQ(data.num_samples, 3);
  EXPECT_THAT(data.sample_shape, ElementsAre(1, 2, 2));
  EXPECT_EQ(data.SampleSize(), 4);
  ASSERT_EQ(data.samples.size(), 12u);
  for (size_t i = 0; i < kPixels.size(); ++i) {
    EXPECT_FLOAT_EQ(data.samples[i], static_cast<unsigned char>(kPixels[i]) * scale) << i;
  }
  EXPECT_THAT(data.labels, ElementsAre(7, 0, 9));
}

TEST_F(DatasetFileTest, ReadsUncompressedIdx) {
  absl::StatusOr<Dataset> data =
      ReadIdxDataset(Write("img", ImagesIdx()), Write("lbl", LabelsIdx()), 0.5f);
  ASSERT_TRUE(data.ok()) << data.status();
  ExpectSmallDataset(*data, 0.5f);
}

TEST_F(DatasetFileTest, ReadsGzipIdxDetectedByContent) {
  // No ".gz" suffix: detection goes by the magic bytes.
  absl::StatusOr<Dataset> data = ReadIdxDataset(Write("img", GzipCompress(ImagesIdx())),
                                                Write("lbl", GzipCompress(LabelsIdx())), 1.0f);
  ASSERT_TRUE(data.ok()) << data.status();
  ExpectSmallDataset(*data, 1.0f);
}

TEST_F(DatasetFileTest, MixedCompressionWorks) {
  absl::StatusOr<Dataset> data = ReadIdxDataset(Write("img.gz", GzipCompress(ImagesIdx())),
                                                Write("lbl", LabelsIdx()), 1.0f / 255);
  ASSERT_TRUE(data.ok()) << data.status();
  ExpectSmallDataset(*data, 1.0f / 255);
}

TEST_F(DatasetFileTest, LabelsAreOptional) {
  absl::StatusOr<Dataset> data = ReadIdxDataset(Write("img", ImagesIdx()), "", 1.0f);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_samples, 3);
  EXPECT_FALSE(data->has_labels());
}

TEST_F(DatasetFileTest, MissingImagesFileIsNotFound) {
  absl::StatusOr<Dataset> data = ReadIdxDataset((dir_ / "nope").string(), "", 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("images file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("nope"));
}

TEST_F(DatasetFileTest, EmptyImagesPathIsInvalidArgument) {
  absl::StatusOr<Dataset> data = ReadIdxDataset("", "", 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("images file"));
}

TEST_F(DatasetFileTest, TruncatedImagesHeaderNamesImagesFile) {
  absl::StatusOr<Dataset> data =
      ReadIdxDataset(Write("img", ImagesIdx().substr(0, 10)), Write("lbl", LabelsIdx()), 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("images file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("header is truncated"));
}

TEST_F(DatasetFileTest, TruncatedImagesDataNamesImagesFile) {
  const std::string images = ImagesIdx();
  absl::StatusOr<Dataset> data =
      ReadIdxDataset(Write("img.gz", GzipCompress(images.substr(0, images.size() - 1))), "", 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("images file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("need 12 data bytes"));
}

TEST_F(DatasetFileTest, TruncatedGzipNamesImagesFile) {
  const std::string gz = GzipCompress(ImagesIdx());
  absl::StatusOr<Dataset> data =
      ReadIdxDataset(Write("img.gz", gz.substr(0, gz.size() - 8)), "", 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("images file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("gzip"));
}

TEST_F(DatasetFileTest, SwappedFilesAreRejected) {
  absl::StatusOr<Dataset> data =
      ReadIdxDataset(Write("lbl", LabelsIdx()), Write("img", ImagesIdx()), 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("images file"));
  EXPECT_THAT(std::string(data.status().message()),
              HasSubstr("expected rank 3 (magic 0x00000803)"));
}

TEST_F(DatasetFileTest, LabelsFileWithWrongMagicNamesLabelsFile) {
  absl::StatusOr<Dataset> data = ReadIdxDataset(
      Write("img", ImagesIdx()), Write("lbl", IdxBytes(0x802, {3, 1}, kLabels)), 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("labels file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("expected rank 1"));
}

TEST_F(DatasetFileTest, LabelCountMustMatchImageCount) {
  absl::StatusOr<Dataset> data = ReadIdxDataset(
      Write("img", ImagesIdx()), Write("lbl", IdxBytes(0x801, {2}, kLabels.substr(0, 2))), 1.0f);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("labels file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("holds 2 labels"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("holds 3 images"));
}

TEST_F(DatasetFileTest, NonFinitePixelScaleIsRejected) {
  absl::StatusOr<Dataset> data = ReadIdxDataset(Write("img", ImagesIdx()), "", NAN);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("pixel_scale"));
}

// A gzip bomb: 1000 zero images of 28x28 compress to about 1 KB but decode
// to 3.1 MB of floats. With a 1 MB limit it is refused, and the stream is not
// even inflated past the 256 K pixels that limit allows.
TEST_F(DatasetFileTest, DecodedSizeIsCappedBeforeInflatingAndAllocating) {
  const std::string images =
      GzipCompress(IdxBytes(0x803, {1000, 28, 28}, std::string(1000 * 28 * 28, '\0')));
  ASSERT_LT(images.size(), 10000u);
  const std::string path = Write("bomb", images);
  absl::StatusOr<Dataset> refused = ReadIdxDataset(path, "", 1.0f, 1 << 20);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("inflates to more than 262160 bytes"));
  // Within the inflate bound but over the decoded limit: refused as too large.
  const std::string small = Write(
      "small", GzipCompress(IdxBytes(0x803, {2, 2, 2}, std::string(8, '\0'))));
  absl::StatusOr<Dataset> over = ReadIdxDataset(small, "", 1.0f, 31);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_TRUE(ReadIdxDataset(small, "", 1.0f, 32).ok());
  EXPECT_TRUE(ReadIdxDataset(path, "", 1.0f, 1000 * 28 * 28 * 4).ok());
}

// Labels are one byte per image: a labels stream is not inflated past that.
TEST_F(DatasetFileTest, LabelsAreNotInflatedPastOneBytePerImage) {
  const std::string images = Write("images", ImagesIdx());  // 3 images
  const std::string labels =
      Write("labels", GzipCompress(IdxBytes(0x801, {1 << 20}, std::string(1 << 20, '\0'))));
  absl::StatusOr<Dataset> refused = ReadIdxDataset(images, labels, 1.0f);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("inflates to more than 19 bytes"));
}

TEST(DatasetTest, BatchCopiesTheRequestedSamples) {
  Dataset data;
  data.sample_shape = {1, 2};
  data.num_samples = 3;
  data.samples = {0, 1, 10, 11, 20, 21};
  const Tensor batch = data.Batch(1, 2);
  EXPECT_THAT(batch.shape, ElementsAre(2, 1, 2));
  EXPECT_THAT(batch.data, ElementsAre(10, 11, 20, 21));
  EXPECT_EQ(batch.NumElements(), static_cast<int64_t>(batch.data.size()));
}

TEST(DatasetTest, BatchPastTheEndIsClamped) {
  Dataset data;
  data.sample_shape = {2};
  data.num_samples = 2;
  data.samples = {0, 1, 10, 11};
  const Tensor batch = data.Batch(1, 5);
  EXPECT_THAT(batch.shape, ElementsAre(1, 2));
  EXPECT_THAT(batch.data, ElementsAre(10, 11));
  EXPECT_THAT(data.Batch(7, 1).shape, ElementsAre(0, 2));
}

// Debian's dataset-fashion-mnist package; the format as published, not as we wrote it.
TEST(DatasetTest, ReadsFashionMnistTestSet) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  const std::string images = dir + "t10k-images-idx3-ubyte.gz";
  const std::string labels = dir + "t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels)) {
    FAIL() << "dataset-fashion-mnist is missing (scripts/install_deps.sh installs it)";
  }
  absl::StatusOr<Dataset> data = ReadIdxDataset(images, labels, 1.0f / 255);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_samples, 10000);
  EXPECT_THAT(data->sample_shape, ElementsAre(1, 28, 28));
  ASSERT_EQ(data->samples.size(), 10000u * 28 * 28);
  EXPECT_GE(*std::min_element(data->samples.begin(), data->samples.end()), 0.0f);
  EXPECT_LE(*std::max_element(data->samples.begin(), data->samples.end()), 1.0f);
  EXPECT_FLOAT_EQ(*std::max_element(data->samples.begin(), data->samples.end()), 1.0f);
  ASSERT_EQ(data->labels.size(), 10000u);
  std::vector<int> per_class(10, 0);
  for (int32_t label : data->labels) {
    ASSERT_GE(label, 0);
    ASSERT_LE(label, 9);
    ++per_class[label];
  }
  // The test set is balanced: 1,000 images per class.
  EXPECT_THAT(per_class, ::testing::Each(1000));
  // The first test image is an ankle boot (class 9) in the published set.
  EXPECT_EQ(data->labels[0], 9);
}

std::string FloatsLe(const std::vector<float>& values) {
  std::string bytes;
  for (float v : values) bytes += LittleEndian32(std::bit_cast<uint32_t>(v));
  return bytes;
}

std::string Int32sLe(const std::vector<int32_t>& values) {
  std::string bytes;
  for (int32_t v : values) bytes += LittleEndian32(static_cast<uint32_t>(v));
  return bytes;
}

TEST_F(DatasetFileTest, ReadsRawFloat32WithLabels) {
  const std::vector<float> values = {0.5f, -1.25f, 3e-8f, 1e30f, -0.0f, 7.0f};
  absl::StatusOr<Dataset> data = ReadRawFloat32Dataset(Write("x.f32", FloatsLe(values)),
                                                       Write("y.i32", Int32sLe({4, -1})), {3});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_samples, 2);
  EXPECT_THAT(data->sample_shape, ElementsAre(3));
  EXPECT_THAT(data->samples, ElementsAreArray(values));
  EXPECT_THAT(data->labels, ElementsAre(4, -1));
}

TEST_F(DatasetFileTest, RawFloat32KeepsNaN) {
  absl::StatusOr<Dataset> data =
      ReadRawFloat32Dataset(Write("x.f32", FloatsLe({NAN, 1.0f})), "", {1, 1, 2});
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->num_samples, 1);
  EXPECT_TRUE(std::isnan(data->samples[0]));
  EXPECT_FALSE(data->has_labels());
}

TEST_F(DatasetFileTest, RawFloat32EmptyFileIsRejected) {
  absl::StatusOr<Dataset> data = ReadRawFloat32Dataset(Write("x.f32", ""), "", {3});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("samples file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("is empty"));
}

TEST_F(DatasetFileTest, RawFloat32PartialFloatIsRejected) {
  absl::StatusOr<Dataset> data = ReadRawFloat32Dataset(Write("x.f32", "12345"), "", {1});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("not a multiple of 4"));
}

TEST_F(DatasetFileTest, RawFloat32PartialSampleIsRejected) {
  absl::StatusOr<Dataset> data =
      ReadRawFloat32Dataset(Write("x.f32", FloatsLe({1, 2, 3, 4, 5})), "", {2, 2});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("holds 5 floats"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("[2, 2]"));
}

TEST_F(DatasetFileTest, RawFloat32HugeShapeIsRejected) {
  absl::StatusOr<Dataset> data = ReadRawFloat32Dataset(Write("x.f32", FloatsLe({1, 2})), "",
                                                       {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("not a whole number of samples"));
}

TEST_F(DatasetFileTest, RawFloat32BadShapeIsRejected) {
  const std::string path = Write("x.f32", FloatsLe({1, 2}));
  EXPECT_EQ(ReadRawFloat32Dataset(path, "", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Dataset> data = ReadRawFloat32Dataset(path, "", {2, 0});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("dimension 1 must be positive"));
}

TEST_F(DatasetFileTest, RawFloat32LabelCountMustMatch) {
  absl::StatusOr<Dataset> data = ReadRawFloat32Dataset(Write("x.f32", FloatsLe({1, 2, 3, 4})),
                                                       Write("y.i32", Int32sLe({0, 1, 2})), {2});
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("labels file"));
  EXPECT_THAT(std::string(data.status().message()), HasSubstr("has 12 bytes, expected 8"));
}

}  // namespace
}  // namespace quantd::engine
