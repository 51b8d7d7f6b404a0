// Encoded images through the assembled server: ENCODED_IMAGES datasets,
// models with a preprocessing spec and labels, Infer on image bytes + top_k.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "server/api/infer_request_validator.h"
#include "server/wire/image_inference.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

std::string ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A 28x28 grayscale image whose content depends on `seed`, PNG or JPEG.
std::string TestImage(int seed, const std::string& extension) {
  cv::Mat image(28, 28, CV_8UC1);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) image.at<uchar>(y, x) = static_cast<uchar>((x * seed + y * 7) % 256);
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(extension, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

v1::PreprocessingSpec GraySpec() {
  v1::PreprocessingSpec spec;
  spec.set_crop_height(28);
  spec.set_crop_width(28);
  spec.set_color_order(v1::GRAYSCALE);
  return spec;
}

std::vector<std::string> TenLabels() {
  return {"t-shirt", "trouser", "pullover", "dress", "coat",
          "sandal",  "shirt",   "sneaker",  "bag",   "boot"};
}

class ImageInputsTest : public InProcessServerTest {
 protected:
  grpc::Status UploadModelWith(const v1::PreprocessingSpec* spec,
                               const std::vector<std::string>& labels, v1::Model* model) {
    const std::string bytes = ReadBytes(kModelPath);
    grpc::ClientContext context;
    auto writer = stub_->UploadModel(&context, model);
    v1::UploadModelRequest request;
    request.mutable_header()->set_name("resnet");
    request.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes.size()));
    request.mutable_header()->set_sha256(Sha256Hex(bytes));
    if (spec != nullptr) *request.mutable_header()->mutable_preprocessing() = *spec;
    for (const std::string& label : labels) request.mutable_header()->add_labels(label);
    writer->Write(request);
    for (size_t pos = 0; pos < bytes.size(); pos += 1 << 20) {
      request.set_chunk(bytes.substr(pos, 1 << 20));
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status UploadImages(const v1::PreprocessingSpec* spec,
                            const std::vector<std::string>& images,
                            const std::vector<int32_t>& labels, v1::Dataset* dataset) {
    grpc::ClientContext context;
    auto writer = stub_->UploadDataset(&context, dataset);
    v1::UploadDatasetRequest request;
    request.mutable_header()->set_name("images");
    request.mutable_header()->set_format(v1::ENCODED_IMAGES);
    if (spec != nullptr) *request.mutable_header()->mutable_preprocessing() = *spec;
    writer->Write(request);
    for (const std::string& image : images) {
      request.mutable_chunk()->set_part(v1::IMAGE);
      request.mutable_chunk()->set_data(image);
      if (!writer->Write(request)) break;
    }
    if (!labels.empty()) {
      std::string bytes(labels.size() * 4, '\0');
      std::memcpy(bytes.data(), labels.data(), bytes.size());
      request.mutable_chunk()->set_part(v1::LABELS);
      request.mutable_chunk()->set_data(bytes);
      writer->Write(request);
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status InferImages(const std::string& model_id, const std::vector<std::string>& images,
                           int32_t top_k, v1::InferResponse* response) {
    grpc::ClientContext context;
    v1::InferRequest request;
    request.set_model_id(model_id);
    for (const std::string& image : images) request.add_images(image);
    request.set_top_k(top_k);
    return stub_->Infer(&context, request, response);
  }
};

TEST_F(ImageInputsTest, EncodedImagesDatasetStoresCanonicalSamplesAndSpec) {
  const v1::PreprocessingSpec spec = GraySpec();
  v1::Dataset dataset;
  const grpc::Status status =
      UploadImages(&spec, {TestImage(1, ".png"), TestImage(2, ".jpg"), TestImage(3, ".png")},
                   {4, 0, 9}, &dataset);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(dataset.num_samples(), 3);
  EXPECT_THAT(dataset.sample_shape(), ::testing::ElementsAre(1, 28, 28));
  EXPECT_TRUE(dataset.has_labels());
  EXPECT_EQ(dataset.format(), v1::ENCODED_IMAGES);
  EXPECT_EQ(dataset.preprocessing().crop_height(), 28);
  EXPECT_EQ(dataset.preprocessing().color_order(), v1::GRAYSCALE);

  grpc::ClientContext context;
  v1::GetDatasetRequest get;
  get.set_dataset_id(dataset.id());
  v1::Dataset stored;
  ASSERT_TRUE(stub_->GetDataset(&context, get, &stored).ok());
  EXPECT_EQ(stored.format(), v1::ENCODED_IMAGES);
  EXPECT_EQ(stored.preprocessing().color_order(), v1::GRAYSCALE);
}

TEST_F(ImageInputsTest, CorruptImagesAreReportedByIndexAndNothingIsStored) {
  const v1::PreprocessingSpec spec = GraySpec();
  std::string truncated = TestImage(2, ".png");
  truncated.resize(truncated.size() / 3);
  v1::Dataset dataset;
  const grpc::Status status = UploadImages(
      &spec, {TestImage(1, ".png"), "not an image", TestImage(3, ".jpg"), truncated}, {}, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("images 1, 3 are not decodable (image 1:"));

  grpc::ClientContext context;
  v1::ListDatasetsResponse list;
  ASSERT_TRUE(stub_->ListDatasets(&context, {}, &list).ok());
  for (const v1::Dataset& d : list.datasets()) EXPECT_NE(d.format(), v1::ENCODED_IMAGES);
}

TEST_F(ImageInputsTest, EncodedImagesNeedMatchingLabelsAndAValidSpec) {
  const v1::PreprocessingSpec spec = GraySpec();
  v1::Dataset dataset;
  grpc::Status status =
      UploadImages(&spec, {TestImage(1, ".png"), TestImage(2, ".png")}, {1}, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("2 images need 2"));

  status = UploadImages(nullptr, {TestImage(1, ".png")}, {}, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("needs preprocessing"));

  v1::PreprocessingSpec bad = GraySpec();
  bad.add_std(0.0f);
  status = UploadImages(&bad, {TestImage(1, ".png")}, {}, &dataset);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("preprocessing.std"));

  bad = GraySpec();
  bad.set_resize_shorter_side(20);
  status = UploadImages(&bad, {TestImage(1, ".png")}, {}, &dataset);
  EXPECT_THAT(status.error_message(), HasSubstr("larger than the resized image"));
}

TEST_F(ImageInputsTest, ModelKeepsSpecAndLabels) {
  const v1::PreprocessingSpec spec = GraySpec();
  v1::Model model;
  grpc::Status status = UploadModelWith(&spec, TenLabels(), &model);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(model.preprocessing().crop_width(), 28);
  EXPECT_EQ(model.labels_size(), 10);

  grpc::ClientContext context;
  v1::GetModelRequest get;
  get.set_model_id(model.id());
  v1::Model stored;
  ASSERT_TRUE(stub_->GetModel(&context, get, &stored).ok());
  EXPECT_EQ(stored.preprocessing().color_order(), v1::GRAYSCALE);
  EXPECT_EQ(stored.labels(9), "boot");
}

TEST_F(ImageInputsTest, ModelSpecAndLabelsMustFitTheGraph) {
  v1::Model model;
  v1::PreprocessingSpec rgb = GraySpec();
  rgb.set_color_order(v1::RGB);
  grpc::Status status = UploadModelWith(&rgb, {}, &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("preprocessing makes samples [3, 28, 28]"));

  v1::PreprocessingSpec small = GraySpec();
  small.set_crop_width(20);
  status = UploadModelWith(&small, {}, &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::PreprocessingSpec bad_mean = GraySpec();
  bad_mean.add_mean(0.1f);
  bad_mean.add_mean(0.2f);
  status = UploadModelWith(&bad_mean, {}, &model);
  EXPECT_THAT(status.error_message(), HasSubstr("preprocessing.mean"));

  const v1::PreprocessingSpec spec = GraySpec();
  status = UploadModelWith(&spec, {"a", "b", "c"}, &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("labels has 3 entries"));
}

TEST_F(ImageInputsTest, InferOnImagesMatchesTheSameTensorAndReturnsTopK) {
  const v1::PreprocessingSpec spec = GraySpec();
  v1::Model model;
  ASSERT_TRUE(UploadModelWith(&spec, TenLabels(), &model).ok());
  const std::vector<std::string> images = {TestImage(3, ".png"), TestImage(11, ".png")};

  v1::InferResponse from_images;
  grpc::Status status = InferImages(model.id(), images, 3, &from_images);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(from_images.classifications_size(), 2);

  // The same pixels sent as a tensor (PNG is lossless; scale 1/255).
  v1::Tensor tensor;
  for (int64_t d : {2, 1, 28, 28}) tensor.add_shape(d);
  for (int seed : {3, 11}) {
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) tensor.add_data(static_cast<float>((x * seed + y * 7) % 256) / 255.0f);
  }
  v1::InferResponse from_tensor;
  ASSERT_TRUE(Infer(model.id(), v1::FP32, tensor, &from_tensor).ok());
  ASSERT_EQ(from_tensor.outputs(0).data_size(), 20);
  for (int i = 0; i < 20; ++i) {
    EXPECT_NEAR(from_images.outputs(0).data(i), from_tensor.outputs(0).data(i), 1e-4f);
  }

  for (int row = 0; row < 2; ++row) {
    const v1::Classification& c = from_images.classifications(row);
    ASSERT_EQ(c.top_size(), 3);
    const float* scores = from_tensor.outputs(0).data().data() + row * 10;
    const int64_t best = std::max_element(scores, scores + 10) - scores;
    EXPECT_EQ(c.top(0).class_index(), best);
    EXPECT_EQ(c.top(0).label(), TenLabels()[static_cast<size_t>(best)]);
    EXPECT_FLOAT_EQ(c.top(0).score(), scores[best]);
    EXPECT_GE(c.top(0).score(), c.top(1).score());
    EXPECT_GE(c.top(1).score(), c.top(2).score());
  }

  // top_k beyond the class count is clipped.
  v1::InferResponse all;
  ASSERT_TRUE(InferImages(model.id(), {images[0]}, 50, &all).ok());
  EXPECT_EQ(all.classifications(0).top_size(), 10);
}

TEST_F(ImageInputsTest, InferImageErrors) {
  const v1::PreprocessingSpec spec = GraySpec();
  v1::Model with_spec;
  ASSERT_TRUE(UploadModelWith(&spec, {}, &with_spec).ok());
  v1::Model without_spec;
  ASSERT_TRUE(UploadModelWith(nullptr, {}, &without_spec).ok());
  v1::InferResponse response;

  grpc::Status status = InferImages(without_spec.id(), {TestImage(1, ".png")}, 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("no preprocessing spec"));

  status = InferImages(with_spec.id(), {TestImage(1, ".png"), "junk"}, 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("image 1 is not decodable"));

  status = InferImages(with_spec.id(), {TestImage(1, ".png")}, -1, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("top_k"));

  status = InferImages(with_spec.id(), std::vector<std::string>(kMaxInferImages + 1, "x"), 0,
                       &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 256"));

  status = InferImages(with_spec.id(), {}, 0, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("exactly one of"));

  // A model without labels still gets class indices.
  ASSERT_TRUE(InferImages(with_spec.id(), {TestImage(1, ".png")}, 2, &response).ok());
  EXPECT_EQ(response.classifications(0).top_size(), 2);
  EXPECT_EQ(response.classifications(0).top(0).label(), "");
}

TEST(AddClassificationsTest, OrdersByScoreAndBreaksTiesByIndex) {
  engine::Tensor scores;
  scores.shape = {1, 4};
  scores.data = {0.5f, 2.0f, 0.5f, -1.0f};
  v1::Model model;
  model.add_labels("a");
  v1::InferResponse response;
  AddClassifications(scores, model, 3, response);
  ASSERT_EQ(response.classifications(0).top_size(), 3);
  EXPECT_EQ(response.classifications(0).top(0).class_index(), 1);
  EXPECT_EQ(response.classifications(0).top(1).class_index(), 0);
  EXPECT_EQ(response.classifications(0).top(1).label(), "a");
  EXPECT_EQ(response.classifications(0).top(2).class_index(), 2);
  EXPECT_EQ(response.classifications(0).top(2).label(), "");
}

}  // namespace
}  // namespace quantd::server
