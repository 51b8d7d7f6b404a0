#include "engine/data/image_decoder.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"

namespace quantd::engine {
namespace {

std::string Encode(const cv::Mat& image, const std::string& extension) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(extension, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

// A 28x28 grayscale gradient: pixel (y, x) = 9 * x.
cv::Mat Gradient() {
  cv::Mat image(28, 28, CV_8UC1);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) image.at<uchar>(y, x) = static_cast<uchar>(9 * x);
  return image;
}

TEST(ImageDecoderTest, PngGrayscaleIsScaledAndPlanar) {
  const absl::StatusOr<Tensor> tensor = DecodeImage(Encode(Gradient(), ".png"), {});
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_FLOAT_EQ(tensor->data[0], 0.0f);
  EXPECT_FLOAT_EQ(tensor->data[5 * 28 + 27], 243.0f / 255.0f);
}

TEST(ImageDecoderTest, ColorImageBecomesRgbPlanes) {
  cv::Mat bgr(4, 4, CV_8UC3, cv::Scalar(10, 20, 30));  // OpenCV order: B, G, R
  ImageInputSpec spec{.channels = 3, .height = 4, .width = 4, .pixel_scale = 1.0f};
  const absl::StatusOr<Tensor> tensor = DecodeImage(Encode(bgr, ".png"), spec);
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  EXPECT_FLOAT_EQ(tensor->data[0], 30.0f);        // R plane first
  EXPECT_FLOAT_EQ(tensor->data[16], 20.0f);       // then G
  EXPECT_FLOAT_EQ(tensor->data[32], 10.0f);       // then B
}

TEST(ImageDecoderTest, LargerJpegIsResizedToTheModelInput) {
  cv::Mat big(112, 112, CV_8UC1, cv::Scalar(200));
  const absl::StatusOr<Tensor> tensor = DecodeImage(Encode(big, ".jpg"), {});
  ASSERT_TRUE(tensor.ok()) << tensor.status();
  ASSERT_EQ(tensor->data.size(), 28u * 28u);
  for (float v : tensor->data) EXPECT_NEAR(v, 200.0f / 255.0f, 3.0f / 255.0f);
}

TEST(ImageDecoderTest, GarbageBytesAreInvalidArgument) {
  const absl::StatusOr<Tensor> tensor = DecodeImage("definitely not an image", {});
  EXPECT_EQ(tensor.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tensor.status().message().find("could not decode image"), std::string::npos);
}

TEST(ImageDecoderTest, EmptyInputAndBadSpecAreInvalidArgument) {
  EXPECT_EQ(DecodeImage("", {}).status().code(), absl::StatusCode::kInvalidArgument);
  ImageInputSpec two_channels{.channels = 2};
  EXPECT_EQ(DecodeImage(Encode(Gradient(), ".png"), two_channels).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quantd::engine
