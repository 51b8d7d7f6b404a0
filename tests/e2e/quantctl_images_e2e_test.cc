// quantctl with image files against a real server: a class-per-folder tree
// of PNG and JPEG images (written from Fashion-MNIST by the test) as a
// calibration set, corrupt images reported by index and file name, and a
// model with a preprocessing spec and labels inferring on image files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "tests/e2e/shared_server.h"
#include "tests/e2e/subprocess.h"

namespace quantd::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::vector<std::string> kClasses = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                           "sandal",  "shirt",   "sneaker",  "bag",   "boot"};

class QuantctlImagesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = GetSharedServer();
    ASSERT_TRUE(shared.ok()) << "cannot start the shared quantd: " << shared.status();
    server_ = *shared;
    root_ = fs::temp_directory_path() / absl::StrCat("quantctl-images-e2e-", getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  ProgramResult Quantctl(const std::vector<std::string>& command_and_args) {
    std::vector<std::string> argv = {QUANTCTL_BINARY, command_and_args.at(0),
                                     absl::StrCat("--server=", server_->process->address())};
    argv.insert(argv.end(), command_and_args.begin() + 1, command_and_args.end());
    return RunProgram(argv);
  }

  // Test image `index` of Fashion-MNIST t10k as an 8-bit grayscale file.
  std::string WriteImage(int64_t index, const fs::path& path) {
    const auto& images = server_->test_images;
    cv::Mat pixels(28, 28, CV_8UC1);
    for (int i = 0; i < 28 * 28; ++i) {
      pixels.data[i] =
          static_cast<uchar>(std::lround(images.samples[index * 28 * 28 + i] * 255.0f));
    }
    fs::create_directories(path.parent_path());
    EXPECT_TRUE(cv::imwrite(path.string(), pixels)) << path;
    return path.string();
  }

  // `count` images in one folder per class, alternating PNG and JPEG.
  fs::path WriteClassFolders(int64_t count) {
    const fs::path dir = root_ / "fmnist";
    for (int64_t i = 0; i < count; ++i) {
      const int32_t label = server_->test_images.labels[static_cast<size_t>(i)];
      WriteImage(i, dir / kClasses[static_cast<size_t>(label)] /
                        absl::StrFormat("%04d.%s", i, i % 2 == 0 ? "png" : "jpg"));
    }
    return dir;
  }

  SharedServer* server_ = nullptr;
  fs::path root_;
};

TEST_F(QuantctlImagesE2eTest, ImageFolderCalibratesAQuantizationAndCorruptImagesAreNamed) {
  const fs::path folder = WriteClassFolders(200);

  const ProgramResult model =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-images"});
  ASSERT_EQ(model.exit_code, 0) << model.err;
  const std::string model_id(absl::StripAsciiWhitespace(model.out));

  const ProgramResult dataset = Quantctl({"upload-dataset", "--images=" + folder.string(),
                                          "--crop=28x28", "--color=gray", "--name=fmnist-png"});
  ASSERT_EQ(dataset.exit_code, 0) << dataset.err;
  const std::string dataset_id(absl::StripAsciiWhitespace(dataset.out));
  EXPECT_THAT(dataset.err, HasSubstr("200 images"));
  EXPECT_THAT(dataset.err, HasSubstr("10 classes"));
  EXPECT_THAT(dataset.err, HasSubstr("200 samples"));

  const ProgramResult job =
      Quantctl({"quantize", model_id, "--calibration=" + dataset_id, "--wait"});
  ASSERT_EQ(job.exit_code, 0) << job.out << job.err;
  EXPECT_THAT(job.out, HasSubstr("SUCCEEDED"));

  // Sorted by path, "zz-corrupt.png" in the last class folder comes last.
  const fs::path corrupt = folder / "trouser" / "zz-corrupt.png";
  std::ofstream(corrupt) << "this is not a PNG";
  const ProgramResult rejected = Quantctl(
      {"upload-dataset", "--images=" + folder.string(), "--crop=28x28", "--color=gray"});
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(rejected.err, HasSubstr("image 200 is not decodable"));
  EXPECT_THAT(rejected.err, HasSubstr("image 200 is " + corrupt.string()));
}

TEST_F(QuantctlImagesE2eTest, ModelWithSpecAndLabelsInfersOnImageFiles) {
  const fs::path labels = root_ / "labels.txt";
  {
    std::ofstream out(labels);
    for (const std::string& name : kClasses) out << name << "\n";
  }
  const ProgramResult model =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-labelled",
                "--crop=28x28", "--color=gray", "--labels=" + labels.string()});
  ASSERT_EQ(model.exit_code, 0) << model.err;
  const std::string model_id(absl::StripAsciiWhitespace(model.out));
  EXPECT_THAT(model.err, HasSubstr("10 labels"));

  const std::string boot = WriteImage(0, root_ / "boot.png");  // t10k image 0 is a boot
  const std::string second = WriteImage(1, root_ / "second.jpg");
  const ProgramResult inferred =
      Quantctl({"infer", model_id, "--image=" + boot + "," + second, "--top_k=3"});
  ASSERT_EQ(inferred.exit_code, 0) << inferred.err;
  EXPECT_THAT(inferred.out, HasSubstr("sample 0 (" + boot + "):\n  9 boot "));
  EXPECT_THAT(inferred.out, HasSubstr("sample 1 (" + second + "):"));

  const std::string garbage = (root_ / "garbage.png").string();
  std::ofstream(garbage) << "garbage";
  const ProgramResult rejected = Quantctl({"infer", model_id, "--image=" + boot + "," + garbage});
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.err, HasSubstr("image 1 is not decodable"));
  EXPECT_THAT(rejected.err, HasSubstr("image 1 is " + garbage));

  const fs::path three_labels = root_ / "three.txt";
  std::ofstream(three_labels) << "a\nb\nc\n";
  const ProgramResult bad_labels =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--crop=28x28",
                "--color=gray", "--labels=" + three_labels.string()});
  EXPECT_EQ(bad_labels.exit_code, 1);
  EXPECT_THAT(bad_labels.err, HasSubstr("labels has 3 entries"));
}

}  // namespace
}  // namespace quantd::e2e
