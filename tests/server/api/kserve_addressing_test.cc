#include "server/api/kserve_addressing.h"

#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

v1::Model WithVersions(std::initializer_list<v1::Precision> precisions) {
  v1::Model model;
  model.set_id("mdl_1");
  int32_t number = 1;
  for (v1::Precision precision : precisions) {
    v1::ModelVersion& version = *model.add_versions();
    version.set_version(number++);
    version.set_precision(precision);
  }
  return model;
}

TEST(KServeAddressingTest, DefaultVersionIsTheNewestInt8ElseTheOriginal) {
  EXPECT_EQ(ResolveKServeVersion(WithVersions({v1::FP32}), "")->version(), 1);
  EXPECT_EQ(ResolveKServeVersion(WithVersions({v1::FP32, v1::INT8, v1::INT8}), "")->version(), 3);
  // Versions 2 and 3 deleted after 4 was published: still the newest int8.
  v1::Model gaps = WithVersions({v1::FP32});
  v1::ModelVersion& v4 = *gaps.add_versions();
  v4.set_version(4);
  v4.set_precision(v1::INT8);
  EXPECT_EQ(ResolveKServeVersion(gaps, "")->version(), 4);
}

TEST(KServeAddressingTest, ExplicitVersionsAreNumbers) {
  const v1::Model model = WithVersions({v1::FP32, v1::INT8});
  EXPECT_EQ(ResolveKServeVersion(model, "1")->version(), 1);
  EXPECT_EQ(ResolveKServeVersion(model, "2")->precision(), v1::INT8);
  EXPECT_EQ(ResolveKServeVersion(model, "3").status().code(), absl::StatusCode::kNotFound);
  for (const char* bad : {"latest", "0", "-1", "2.0", " 2", "+2"}) {
    const auto version = ResolveKServeVersion(model, bad);
    EXPECT_EQ(version.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(version.status().message(), HasSubstr(bad));
  }
}

class KServeModelLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto repository = Repository::Open(dir_.path());
    ASSERT_TRUE(repository.ok()) << repository.status();
    repository_ = *std::move(repository);
  }

  v1::Model Add(const std::string& name) {
    const std::string onnx = "onnx bytes of " + name;
    auto model = repository_->AddModel(name, onnx, Sha256Hex(onnx), engine::ModelSummary{});
    EXPECT_TRUE(model.ok()) << model.status();
    return model.ok() ? *model : v1::Model{};
  }

  testing::TempDir dir_;
  std::unique_ptr<Repository> repository_;
};

TEST_F(KServeModelLookupTest, ByIdOrUniqueName) {
  const v1::Model resnet = Add("resnet");
  const v1::Model vgg_a = Add("vgg");
  const v1::Model vgg_b = Add("vgg");
  EXPECT_EQ(FindKServeModel(*repository_, resnet.id())->id(), resnet.id());
  EXPECT_EQ(FindKServeModel(*repository_, "resnet")->id(), resnet.id());
  EXPECT_EQ(FindKServeModel(*repository_, vgg_b.id())->id(), vgg_b.id());

  const auto shared = FindKServeModel(*repository_, "vgg");
  EXPECT_EQ(shared.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shared.status().message(), HasSubstr(vgg_a.id()));
  EXPECT_THAT(shared.status().message(), HasSubstr(vgg_b.id()));
  EXPECT_EQ(FindKServeModel(*repository_, "bert").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindKServeModel(*repository_, "").status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(KServeName(*repository_, resnet), "resnet");
  EXPECT_EQ(KServeName(*repository_, vgg_a), vgg_a.id());
}

}  // namespace
}  // namespace quantd::server
