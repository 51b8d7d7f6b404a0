#include "engine/data/image_preprocessing.h"

#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

std::string Encode(const cv::Mat& image, const std::string& extension) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(extension, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

// A grayscale gradient: pixel (y, x) = 9 * x.
cv::Mat Gradient(int rows = 28, int cols = 28) {
  cv::Mat image(rows, cols, CV_8UC1);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) image.at<uchar>(y, x) = static_cast<uchar>(9 * x);
  return image;
}

ImagePreprocessing Gray(int64_t crop) {
  ImagePreprocessing spec;
  spec.color_order = ColorOrder::kGrayscale;
  spec.crop_height = crop;
  spec.crop_width = crop;
  return spec;
}

TEST(ImagePreprocessingTest, PngGrayscaleIsScaledAndPlanar) {
  const absl::StatusOr<Tensor> tensor = PreprocessImage(Encode(Gradient(), ".png"), Gray(28));
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_FLOAT_EQ(tensor->data[0], 0.0f);
  EXPECT_FLOAT_EQ(tensor->data[5], 45.0f / 255.0f);
  EXPECT_FLOAT_EQ(tensor->data[28 + 5], 45.0f / 255.0f);
}

TEST(ImagePreprocessingTest, CenterCropTakesTheMiddle) {
  // 28 wide, crop 10: columns 9..18 survive, so the first value is 9 * 9.
  ImagePreprocessing spec = Gray(10);
  spec.scale = 1.0f;
  const absl::StatusOr<Tensor> tensor = PreprocessImage(Encode(Gradient(), ".png"), spec);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 1, 10, 10}));
  EXPECT_FLOAT_EQ(tensor->data[0], 81.0f);
  EXPECT_FLOAT_EQ(tensor->data[9], 9.0f * 18.0f);
}

TEST(ImagePreprocessingTest, ResizeShorterSideKeepsAspectRatioBeforeCrop) {
  // 20 rows x 40 cols of constant 200 -> shorter side 10 gives 10 x 20; a
  // 10 x 20 crop only fits if the aspect ratio was kept.
  const cv::Mat flat(20, 40, CV_8UC1, cv::Scalar(200));
  ImagePreprocessing spec = Gray(10);
  spec.resize_shorter_side = 10;
  spec.crop_width = 10;
  spec.scale = 1.0f;
  absl::StatusOr<Tensor> tensor = PreprocessImage(Encode(flat, ".png"), spec);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 1, 10, 10}));
  for (float v : tensor->data) EXPECT_FLOAT_EQ(v, 200.0f);

  // Without the resize, the 10 x 10 crop is taken from the 20 x 40 original:
  // a gradient shows which columns were taken.
  ImagePreprocessing no_resize = Gray(10);
  no_resize.scale = 1.0f;
  tensor = PreprocessImage(Encode(Gradient(20, 28), ".png"), no_resize);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_FLOAT_EQ(tensor->data[0], 81.0f);

  // Growing a 14x14 gradient to 28: the result spans the original's range.
  ImagePreprocessing grow = Gray(28);
  grow.resize_shorter_side = 28;
  grow.scale = 1.0f;
  tensor = PreprocessImage(Encode(Gradient(14, 14), ".png"), grow);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_LT(tensor->data[0], 10.0f);
  EXPECT_GT(tensor->data[27], 100.0f);
}

TEST(ImagePreprocessingTest, MeanAndStdArePerChannel) {
  cv::Mat bgr(2, 2, CV_8UC3, cv::Scalar(10, 20, 30));  // B=10 G=20 R=30
  ImagePreprocessing spec;
  spec.crop_height = 2;
  spec.crop_width = 2;
  spec.scale = 1.0f;
  spec.mean = {30.0f, 10.0f, 0.0f};
  spec.std = {1.0f, 2.0f, 5.0f};
  const absl::StatusOr<Tensor> tensor = PreprocessImage(Encode(bgr, ".png"), spec);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_FLOAT_EQ(tensor->data[0], 0.0f);   // R: (30 - 30) / 1
  EXPECT_FLOAT_EQ(tensor->data[4], 5.0f);   // G: (20 - 10) / 2
  EXPECT_FLOAT_EQ(tensor->data[8], 2.0f);   // B: (10 - 0) / 5
}

TEST(ImagePreprocessingTest, ColorOrderRgbAndBgr) {
  cv::Mat bgr(4, 4, CV_8UC3, cv::Scalar(10, 20, 30));
  ImagePreprocessing spec;
  spec.crop_height = 4;
  spec.crop_width = 4;
  spec.scale = 1.0f;
  absl::StatusOr<Tensor> rgb = PreprocessImage(Encode(bgr, ".png"), spec);
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->shape, (std::vector<int64_t>{1, 3, 4, 4}));
  EXPECT_FLOAT_EQ(rgb->data[0], 30.0f);
  EXPECT_FLOAT_EQ(rgb->data[32], 10.0f);

  spec.color_order = ColorOrder::kBgr;
  absl::StatusOr<Tensor> as_bgr = PreprocessImage(Encode(bgr, ".png"), spec);
  ASSERT_TRUE(as_bgr.ok()) << as_bgr.status();
  EXPECT_FLOAT_EQ(as_bgr->data[0], 10.0f);
  EXPECT_FLOAT_EQ(as_bgr->data[32], 30.0f);
}

TEST(ImagePreprocessingTest, JpegDecodesApproximately) {
  const absl::StatusOr<Tensor> tensor = PreprocessImage(Encode(Gradient(), ".jpg"), Gray(28));
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_NEAR(tensor->data[10], 90.0f / 255.0f, 0.05f);
}

TEST(ImagePreprocessingTest, GarbageAndTooSmallImagesAreInvalidArgument) {
  const absl::StatusOr<Tensor> garbage = PreprocessImage("definitely not an image", Gray(28));
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(), HasSubstr("not a PNG, JPEG or BMP"));
  // A PNG header with its image data cut off.
  const absl::StatusOr<Tensor> truncated =
      PreprocessImage(Encode(Gradient(), ".png").substr(0, 40), Gray(28));
  EXPECT_THAT(truncated.status().message(), HasSubstr("could not decode"));
  EXPECT_EQ(PreprocessImage("", Gray(28)).status().code(), absl::StatusCode::kInvalidArgument);
  const absl::StatusOr<Tensor> small = PreprocessImage(Encode(Gradient(), ".png"), Gray(32));
  EXPECT_EQ(small.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(small.status().message(), HasSubstr("resize_shorter_side"));
}

// Sizes are checked from the PNG or JPEG header before anything is decoded
// (a 100-byte file may declare gigapixels), and a resize may not grow the
// longer side past the same limit.
TEST(ImagePreprocessingTest, DeclaredAndResizedSidesAreCheckedBeforeAllocating) {
  std::string png = Encode(Gradient(), ".png");
  // IHDR: width at byte 16, height at 20, big-endian. 100000 rows.
  png[20] = 0;
  png[21] = 0x01;
  png[22] = static_cast<char>(0x86);
  png[23] = static_cast<char>(0xA0);
  absl::StatusOr<Tensor> refused = PreprocessImage(png, Gray(28));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("header declares 100000x28"));

  std::string jpeg = Encode(Gradient(), ".jpg");
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = static_cast<char>(0x23);  // height 9000 = 0x2328
  jpeg[sof + 6] = static_cast<char>(0x28);
  refused = PreprocessImage(jpeg, Gray(28));
  EXPECT_THAT(refused.status().message(), HasSubstr("header declares 9000x28"));
  // Fill bytes (0xFF) before a marker are legal and do not hide the size.
  jpeg.insert(sof, "\xFF\xFF\xFF");
  refused = PreprocessImage(jpeg, Gray(28));
  EXPECT_THAT(refused.status().message(), HasSubstr("header declares 9000x28"));

  // 1 x 40 pixels with the shorter side resized to 256: 256 x 10240.
  ImagePreprocessing wide = Gray(28);
  wide.resize_shorter_side = 256;
  refused = PreprocessImage(Encode(Gradient(1, 40), ".png"), wide);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("would be resized to 256x10240"));
  // 1 x 30 grows to 256 x 7680, within the limit.
  EXPECT_TRUE(PreprocessImage(Encode(Gradient(1, 30), ".png"), wide).ok());
}

// Only formats whose size is read before decoding are decoded: BMP is, with
// its header checked like PNG's; others OpenCV would read are refused. A 1 KB
// DICOM file declaring a 2 GB element made OpenCV allocate 2 GB (fuzzing).
TEST(ImagePreprocessingTest, DecodesOnlyFormatsWhoseSizeIsCheckedFirst) {
  EXPECT_TRUE(PreprocessImage(Encode(Gradient(), ".bmp"), Gray(28)).ok());
  std::string bmp = Encode(Gradient(), ".bmp");
  bmp[22] = 0x28;  // height 0x2328 = 9000, little-endian at byte 22
  bmp[23] = 0x23;
  EXPECT_THAT(PreprocessImage(bmp, Gray(28)).status().message(),
              HasSubstr("header declares 9000x28"));

  std::string dicom(128, '\0');
  dicom += "DICM";
  dicom += std::string(64, 'x');
  for (const std::string& other : {Encode(Gradient(), ".pgm"), dicom}) {
    const absl::StatusOr<Tensor> refused = PreprocessImage(other, Gray(28));
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.status().message(), HasSubstr("not a PNG, JPEG or BMP"));
  }
}

TEST(ImagePreprocessingTest, ValidationNamesTheField) {
  ImagePreprocessing spec = Gray(0);
  EXPECT_THAT(ValidateImagePreprocessing(spec).message(), HasSubstr("crop_height"));
  spec = Gray(28);
  spec.resize_shorter_side = 20;
  EXPECT_THAT(ValidateImagePreprocessing(spec).message(), HasSubstr("resize_shorter_side"));
  spec = Gray(28);
  spec.std = {0.0f};
  EXPECT_THAT(ValidateImagePreprocessing(spec).message(), HasSubstr("std"));
  spec = Gray(28);
  spec.mean = {0.5f, 0.5f, 0.5f};
  EXPECT_THAT(ValidateImagePreprocessing(spec).message(), HasSubstr("preprocessing.mean"));
  spec = Gray(28);
  spec.scale = -1.0f;
  EXPECT_THAT(ValidateImagePreprocessing(spec).message(), HasSubstr("scale"));
  EXPECT_TRUE(ValidateImagePreprocessing(Gray(28)).ok());
}

TEST(ImagePreprocessingTest, BatchNamesEveryUndecodableIndex) {
  const std::string good = Encode(Gradient(), ".png");
  const std::vector<std::string_view> images = {good, "junk", good, good, "", good};
  const absl::StatusOr<Tensor> batch = PreprocessImageBatch(images, Gray(28));
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(batch.status().message(), HasSubstr("images 1, 4 are not decodable (image 1:"));

  const absl::StatusOr<Tensor> ok = PreprocessImageBatch({good, good}, Gray(28));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->shape, (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_FLOAT_EQ(ok->data[28 * 28 + 5], 45.0f / 255.0f);
}

}  // namespace
}  // namespace quantd::engine
