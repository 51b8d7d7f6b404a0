// The exports a quantization job publishes with an INT8 version (QDQ ONNX
// model, calibration JSON), streamed by DownloadVersion: present for real
// int8 versions, JSON only for simulated ones, neither for versions made
// before the exports existed (NOT_FOUND saying why), gone with the version.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/storage/atomic_file.h"
#include "server/storage/repository.h"
#include "tests/server/in_process_server.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Downloaded {
  std::vector<v1::ArtifactKind> order;
  std::map<v1::ArtifactKind, v1::DownloadVersionResponse> headers;
  std::map<v1::ArtifactKind, std::string> files;
};

class DownloadExportsTest : public InProcessServerTest {
 protected:
  void SetUp() override {
    InProcessServerTest::SetUp();
    if (HasFatalFailure()) return;
    UploadFixtureModelAndImages(&model_, &images_);
  }

  // Runs a quantization job to its end; returns the version it published.
  int32_t QuantizeAndWait(const v1::QuantizationSettings& settings) {
    v1::QuantizeModelRequest request;
    request.set_model_id(model_.id());
    request.set_calibration_dataset_id(images_.id());
    request.set_num_calibration_samples(64);
    *request.mutable_quantization() = settings;
    const v1::Job update = QuantizeAndWatchToEnd(request);
    EXPECT_EQ(update.state(), v1::SUCCEEDED) << update.error();
    return update.result_version();
  }

  grpc::Status Download(int32_t version, v1::ArtifactKind kind, Downloaded& out) {
    grpc::ClientContext context;
    v1::DownloadVersionRequest request;
    request.set_model_id(model_.id());
    request.set_version(version);
    request.set_artifact(kind);
    auto reader = stub_->DownloadVersion(&context, request);
    v1::DownloadVersionResponse chunk;
    while (reader->Read(&chunk)) {
      if (!chunk.file_name().empty()) {
        out.order.push_back(chunk.artifact());
        out.headers[chunk.artifact()] = chunk;
      }
      out.files[chunk.artifact()] += chunk.data();
    }
    return reader->Finish();
  }

  fs::path VersionDir(int32_t version) const {
    return dir_.path() / "models" / model_.id() / ("v" + std::to_string(version));
  }

  v1::Model model_;
  v1::Dataset images_;
};

TEST_F(DownloadExportsTest, Int8VersionStreamsQdqModelAndCalibrationJson) {
  const int32_t version = QuantizeAndWait({});
  ASSERT_EQ(version, 2);

  Downloaded all;
  ASSERT_TRUE(Download(version, v1::ARTIFACT_KIND_UNSPECIFIED, all).ok());
  EXPECT_THAT(all.order, ElementsAre(v1::ONNX_MODEL, v1::CALIBRATION_TABLE, v1::QDQ_MODEL,
                                     v1::CALIBRATION_JSON));

  Downloaded qdq;
  ASSERT_TRUE(Download(version, v1::QDQ_MODEL, qdq).ok());
  ASSERT_THAT(qdq.order, ElementsAre(v1::QDQ_MODEL));
  const std::string& model = qdq.files[v1::QDQ_MODEL];
  EXPECT_EQ(qdq.headers[v1::QDQ_MODEL].file_name(), "model.qdq.onnx");
  EXPECT_EQ(qdq.headers[v1::QDQ_MODEL].size_bytes(), static_cast<int64_t>(model.size()));
  EXPECT_EQ(qdq.headers[v1::QDQ_MODEL].sha256(), Sha256Hex(model));
  EXPECT_THAT(model, HasSubstr("QuantizeLinear"));
  EXPECT_THAT(model, HasSubstr("DequantizeLinear"));
  EXPECT_EQ(model, all.files[v1::QDQ_MODEL]);

  Downloaded json;
  ASSERT_TRUE(Download(version, v1::CALIBRATION_JSON, json).ok());
  ASSERT_THAT(json.order, ElementsAre(v1::CALIBRATION_JSON));
  EXPECT_EQ(json.headers[v1::CALIBRATION_JSON].file_name(), "calibration.json");
  EXPECT_EQ(json.headers[v1::CALIBRATION_JSON].sha256(),
            Sha256Hex(json.files[v1::CALIBRATION_JSON]));
  EXPECT_THAT(json.files[v1::CALIBRATION_JSON], HasSubstr("\"format\": \"quantd.calibration.v1\""));
  EXPECT_THAT(json.files[v1::CALIBRATION_JSON], HasSubstr("\"type\": \"uint8\""));

  // The fp32 original has neither.
  Downloaded none;
  const grpc::Status status = Download(1, v1::QDQ_MODEL, none);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("only INT8 versions"));
}

TEST_F(DownloadExportsTest, SimulatedVersionHasJsonButNoQdqModel) {
  v1::QuantizationSettings settings;
  settings.set_weight_bits(4);
  settings.set_activation_bits(4);
  const int32_t version = QuantizeAndWait(settings);
  ASSERT_EQ(version, 2);

  Downloaded qdq;
  const grpc::Status status = Download(version, v1::QDQ_MODEL, qdq);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("QDQ_MODEL"));
  EXPECT_THAT(status.error_message(), HasSubstr("simulated"));

  Downloaded all;
  ASSERT_TRUE(Download(version, v1::ARTIFACT_KIND_UNSPECIFIED, all).ok());
  EXPECT_THAT(all.order, ElementsAre(v1::ONNX_MODEL, v1::CALIBRATION_TABLE, v1::CALIBRATION_JSON));
  EXPECT_THAT(all.files[v1::CALIBRATION_JSON], HasSubstr("\"simulated\": true"));
  EXPECT_THAT(all.files[v1::CALIBRATION_JSON], HasSubstr("\"type\": \"uint4\""));
}

TEST_F(DownloadExportsTest, VersionFromBeforeTheExportsAnswersNotFoundSayingWhy) {
  // A version as published before the exports existed: table only.
  server_.reset();
  {
    absl::StatusOr<std::unique_ptr<Repository>> repository = Repository::Open(dir_.path());
    ASSERT_TRUE(repository.ok()) << repository.status();
    ASSERT_TRUE(
        (*repository)->AddInt8Version(model_.id(), "job_old", "input\t0\t1\n", std::nullopt).ok());
  }
  StartServer();
  for (const v1::ArtifactKind kind : {v1::QDQ_MODEL, v1::CALIBRATION_JSON}) {
    Downloaded none;
    const grpc::Status status = Download(2, kind, none);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(status.error_message(), HasSubstr("published before"));
  }
  Downloaded all;
  ASSERT_TRUE(Download(2, v1::ARTIFACT_KIND_UNSPECIFIED, all).ok());
  EXPECT_THAT(all.order, ElementsAre(v1::ONNX_MODEL, v1::CALIBRATION_TABLE));
}

TEST_F(DownloadExportsTest, DeletingTheVersionRemovesItsExports) {
  const int32_t version = QuantizeAndWait({});
  ASSERT_EQ(version, 2);
  EXPECT_TRUE(fs::exists(VersionDir(version) / "model.qdq.onnx"));
  EXPECT_TRUE(fs::exists(VersionDir(version) / "calibration.json"));
  grpc::ClientContext context;
  v1::DeleteVersionRequest request;
  request.set_model_id(model_.id());
  request.set_version(version);
  v1::DeleteVersionResponse response;
  ASSERT_TRUE(stub_->DeleteVersion(&context, request, &response).ok());
  EXPECT_FALSE(fs::exists(VersionDir(version) / "model.qdq.onnx"));
  EXPECT_FALSE(fs::exists(VersionDir(version) / "calibration.json"));
}

}  // namespace
}  // namespace quantd::server
