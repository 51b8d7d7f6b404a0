// quantctl against a real server: what a user types, what it prints, and its
// exit codes (0 ok, 1 failed operation, 2 usage).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "tests/e2e/shared_server.h"
#include "tests/e2e/subprocess.h"

namespace quantd::e2e {
namespace {

using ::testing::HasSubstr;

class QuantctlE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = GetSharedServer();
    ASSERT_TRUE(shared.ok()) << "cannot start the shared quantd: " << shared.status();
    server_ = *shared;
  }

  // quantctl COMMAND --server=<shared server> ARGS...
  ProgramResult Quantctl(const std::vector<std::string>& command_and_args) {
    std::vector<std::string> argv = {QUANTCTL_BINARY, command_and_args.at(0),
                                     absl::StrCat("--server=", server_->process->address())};
    argv.insert(argv.end(), command_and_args.begin() + 1, command_and_args.end());
    return RunProgram(argv);
  }

  std::string TempPath(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            absl::StrCat("quantctl-e2e-", getpid(), "-", name))
        .string();
  }

  SharedServer* server_ = nullptr;
};

TEST(QuantctlDigestTest, Sha256MatchesFipsExample) {
  const auto path =
      std::filesystem::temp_directory_path() / absl::StrCat("quantctl-e2e-abc-", getpid());
  std::ofstream(path, std::ios::binary) << "abc";
  const ProgramResult result = RunProgram({QUANTCTL_BINARY, "sha256", path.string()});
  std::filesystem::remove(path);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out,
              HasSubstr("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

TEST(QuantctlUsageTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY}).exit_code, 2);
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY, "no-such-command"}).exit_code, 2);
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY, "list-models", "--no_such_flag=1"}).exit_code, 2);
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY, "quantize", "m"}).exit_code, 2);  // no --calibration
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY, "quantize", "m", "--calibration=d", "--granularity=x"})
                .exit_code,
            2);
  EXPECT_EQ(
      RunProgram({QUANTCTL_BINARY, "quantize", "m", "--calibration=d", "--calibration_method=none"})
          .exit_code,
      2);
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY, "evaluate", "m", "--batch=x"}).exit_code, 2);
  const ProgramResult help = RunProgram({QUANTCTL_BINARY, "help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("upload-model"));
}

TEST(QuantctlUsageTest, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  const ProgramResult result =
      RunProgram({QUANTCTL_BINARY, "list-models", "--server=127.0.0.1:1", "--timeout=5"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));
}

TEST_F(QuantctlE2eTest, UploadsListsAndInfers) {
  const ProgramResult upload =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-cli"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  const std::string model_id(absl::StripAsciiWhitespace(upload.out));
  ASSERT_FALSE(model_id.empty());

  const ProgramResult listed = Quantctl({"list-models"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr(model_id));
  EXPECT_THAT(listed.out, HasSubstr("resnet-cli"));

  const ProgramResult model = Quantctl({"get-model", model_id});
  ASSERT_EQ(model.exit_code, 0) << model.err;
  EXPECT_THAT(model.out, HasSubstr("Conv"));
  EXPECT_THAT(model.out, HasSubstr("[-1,1,28,28]"));

  // One test image as raw float32.
  const std::string input = TempPath("input.f32");
  const auto& images = server_->test_images;
  std::ofstream(input, std::ios::binary)
      .write(reinterpret_cast<const char*>(images.samples.data()), 28 * 28 * sizeof(float));
  const ProgramResult inferred = Quantctl({"infer", model_id, absl::StrCat("--input=", input)});
  std::filesystem::remove(input);
  ASSERT_EQ(inferred.exit_code, 0) << inferred.err;
  EXPECT_THAT(inferred.out, HasSubstr("top class"));

  const ProgramResult evaluated = Quantctl(
      {"evaluate", model_id, "--dataset_samples=" + FashionMnistFile("t10k-images-idx3-ubyte.gz"),
       "--dataset_labels=" + FashionMnistFile("t10k-labels-idx1-ubyte.gz"), "--limit=256",
       "--batch=64"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_THAT(evaluated.out, HasSubstr("fp32"));
  EXPECT_THAT(evaluated.out, HasSubstr("throughput"));
}

// A user holding a picture rather than a tensor: --image decodes it with
// OpenCV to the model's input shape and pixel/255, so a lossless PNG of a test
// image must give exactly the logits of the same image sent as raw floats.
TEST_F(QuantctlE2eTest, InfersFromAnImageFileLikeFromTheRawTensor) {
  const ProgramResult upload =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-image"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  const std::string model_id(absl::StripAsciiWhitespace(upload.out));

  const auto& images = server_->test_images;
  cv::Mat pixels(28, 28, CV_8UC1);
  for (int i = 0; i < 28 * 28; ++i) {
    pixels.data[i] = static_cast<uchar>(std::lround(images.samples[i] * 255.0f));
  }
  const std::string png = TempPath("image.png");
  ASSERT_TRUE(cv::imwrite(png, pixels));
  const std::string raw = TempPath("image.f32");
  std::ofstream(raw, std::ios::binary)
      .write(reinterpret_cast<const char*>(images.samples.data()), 28 * 28 * sizeof(float));

  const ProgramResult from_image = Quantctl({"infer", model_id, "--image=" + png});
  const ProgramResult from_raw = Quantctl({"infer", model_id, "--input=" + raw});
  std::filesystem::remove(png);
  std::filesystem::remove(raw);
  ASSERT_EQ(from_image.exit_code, 0) << from_image.err;
  ASSERT_EQ(from_raw.exit_code, 0) << from_raw.err;
  EXPECT_THAT(from_image.out, HasSubstr("sample 0: top class 9"));  // test image 0 is a boot
  EXPECT_EQ(from_image.out, from_raw.out);

  const std::string garbage = TempPath("garbage.png");
  std::ofstream(garbage, std::ios::binary) << "this is not a picture";
  const ProgramResult rejected = Quantctl({"infer", model_id, "--image=" + garbage});
  std::filesystem::remove(garbage);
  EXPECT_EQ(rejected.exit_code, 1);
  EXPECT_THAT(rejected.err, HasSubstr("not a PNG, JPEG or BMP"));
}

TEST_F(QuantctlE2eTest, QuantizesWithWaitAndCompares) {
  const ProgramResult upload =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-cli-q"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  const std::string model_id(absl::StripAsciiWhitespace(upload.out));

  const ProgramResult dataset =
      Quantctl({"upload-dataset", "--samples=" + FashionMnistFile("train-images-idx3-ubyte.gz"),
                "--labels=" + FashionMnistFile("train-labels-idx1-ubyte.gz"), "--limit=100"});
  ASSERT_EQ(dataset.exit_code, 0) << dataset.err;
  const std::string dataset_id(absl::StripAsciiWhitespace(dataset.out));
  EXPECT_THAT(dataset.err, HasSubstr("100 samples"));

  const ProgramResult job =
      Quantctl({"quantize", model_id, "--calibration=" + dataset_id, "--wait"});
  ASSERT_EQ(job.exit_code, 0) << job.out << job.err;
  EXPECT_THAT(job.out, HasSubstr("SUCCEEDED"));

  const ProgramResult compared = Quantctl(
      {"compare", model_id, "--dataset_samples=" + FashionMnistFile("t10k-images-idx3-ubyte.gz"),
       "--dataset_labels=" + FashionMnistFile("t10k-labels-idx1-ubyte.gz"), "--limit=256"});
  ASSERT_EQ(compared.exit_code, 0) << compared.err;
  EXPECT_THAT(compared.out, HasSubstr("int8"));
  EXPECT_THAT(compared.out, HasSubstr("speed-up"));
}

// Quantization knobs on the command line reach the version, which get-model
// shows with its options and whether it is simulated.
TEST_F(QuantctlE2eTest, QuantizesWithKnobsAndShowsThem) {
  const ProgramResult upload =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-cli-knobs"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  const std::string model_id(absl::StripAsciiWhitespace(upload.out));
  const ProgramResult dataset =
      Quantctl({"upload-dataset", "--samples=" + FashionMnistFile("train-images-idx3-ubyte.gz"),
                "--limit=100", "--name=train-100-knobs"});
  ASSERT_EQ(dataset.exit_code, 0) << dataset.err;
  const std::string dataset_id(absl::StripAsciiWhitespace(dataset.out));

  const ProgramResult job =
      Quantctl({"quantize", model_id, "--calibration=" + dataset_id, "--calibration_method=entropy",
                "--weight_bits=4", "--granularity=per-tensor", "--exclude_first_conv", "--wait"});
  ASSERT_EQ(job.exit_code, 0) << job.out << job.err;
  EXPECT_THAT(job.out, HasSubstr("calibration entropy; weights 4-bit per-tensor"));
  EXPECT_THAT(job.out, HasSubstr("fp32: first conv"));

  const ProgramResult model = Quantctl({"get-model", model_id});
  ASSERT_EQ(model.exit_code, 0) << model.err;
  EXPECT_THAT(model.out, HasSubstr("simulated"));
  EXPECT_THAT(model.out, HasSubstr("options  calibration entropy; weights 4-bit per-tensor"));

  const ProgramResult bad =
      Quantctl({"quantize", model_id, "--calibration=" + dataset_id, "--weight_bits=9"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("weight_bits must be in 2..8"));
}

// The management commands a user runs around a quantization: list and
// inspect (also as JSON), cancel, download, delete.
TEST_F(QuantctlE2eTest, ManagesJobsDatasetsVersionsAndDownloads) {
  const ProgramResult upload =
      Quantctl({"upload-model", FixtureFile("resnet_fmnist.onnx"), "--name=resnet-cli-manage"});
  ASSERT_EQ(upload.exit_code, 0) << upload.err;
  const std::string model_id(absl::StripAsciiWhitespace(upload.out));
  const ProgramResult dataset =
      Quantctl({"upload-dataset", "--samples=" + FashionMnistFile("train-images-idx3-ubyte.gz"),
                "--labels=" + FashionMnistFile("train-labels-idx1-ubyte.gz"), "--limit=100",
                "--name=train-100"});
  ASSERT_EQ(dataset.exit_code, 0) << dataset.err;
  const std::string dataset_id(absl::StripAsciiWhitespace(dataset.out));

  const ProgramResult quantized =
      Quantctl({"quantize", model_id, "--calibration=" + dataset_id, "--wait"});
  ASSERT_EQ(quantized.exit_code, 0) << quantized.out << quantized.err;
  EXPECT_THAT(quantized.out, HasSubstr("speed-up"));
  EXPECT_THAT(quantized.err, HasSubstr("ETA"));  // the progress lines
  const size_t id_at = quantized.out.find("job_");
  ASSERT_NE(id_at, std::string::npos) << quantized.out;
  const std::string job_id = quantized.out.substr(id_at, quantized.out.find('\n', id_at) - id_at);

  ProgramResult result = Quantctl({"get-model", model_id});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("speed-up"));
  EXPECT_THAT(result.out, HasSubstr("int8     100.0% of MACs"));
  result = Quantctl({"get-model", model_id, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"throughput_speedup\""));
  EXPECT_THAT(result.out, HasSubstr("\"mac_share\":1"));
  EXPECT_THAT(result.out, HasSubstr("\"precision\":\"INT8\""));

  result = Quantctl({"list-jobs", "--model=" + model_id});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(job_id));
  EXPECT_THAT(result.out, HasSubstr("SUCCEEDED"));
  result = Quantctl({"list-jobs", "--state=succeeded", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(job_id));
  EXPECT_EQ(Quantctl({"list-jobs", "--state=bogus"}).exit_code, 2);
  result = Quantctl({"get-job", job_id, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"state\":\"SUCCEEDED\""));
  EXPECT_THAT(result.out, HasSubstr("\"layer_sqnr\""));
  EXPECT_THAT(result.out, HasSubstr("\"int8_coverage\""));
  EXPECT_THAT(result.out, HasSubstr("\"fp32_islands\""));
  // The evaluation report: agreement with fp32 (on calibration samples here)
  // and the worst layers by SQNR, or every layer with --all_layers; then how
  // much of the version runs in int8 (every MAC of the ResNet fixture).
  result = Quantctl({"get-job", job_id});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("vs fp32      top-1 agreement"));
  EXPECT_THAT(result.out, HasSubstr("layer SQNR, 10 worst of"));
  EXPECT_THAT(result.out, ::testing::ContainsRegex(
                              "int8 coverage  100\\.0% of MACs \\([0-9.]+ [kMG]?MAC of [0-9.]+ "
                              "per sample\\), [0-9]+ of [0-9]+ nodes; reorders per run: [0-9]+ "
                              "quantize, [0-9]+ dequantize, [0-9]+ requantize, [0-9]+ relayout"));
  result = Quantctl({"get-job", job_id, "--all_layers"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("layers, worst first"));

  // Cancelling a finished job fails and says why.
  result = Quantctl({"cancel", job_id});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(result.err, HasSubstr("nothing to cancel"));

  // A long job, cancelled whether it is still queued or already running.
  const ProgramResult big =
      Quantctl({"upload-dataset", "--samples=" + FashionMnistFile("train-images-idx3-ubyte.gz"),
                "--limit=20000", "--name=train-20000"});
  ASSERT_EQ(big.exit_code, 0) << big.err;
  const std::string big_id(absl::StripAsciiWhitespace(big.out));
  const ProgramResult started = Quantctl({"quantize", model_id, "--calibration=" + big_id});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  const std::string long_job(absl::StripAsciiWhitespace(started.out));
  result = Quantctl({"delete-dataset", big_id});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr(long_job));
  EXPECT_THAT(result.err, HasSubstr("quantctl cancel"));
  result = Quantctl({"cancel", long_job});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  result = Quantctl({"watch", long_job});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("CANCELLED"));

  // Download writes the files of version 2, byte for byte.
  const std::string out_dir = TempPath("download");
  result = Quantctl({"download", model_id, "2", "--out_dir=" + out_dir});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ReadWholeFile(out_dir + "/model.onnx"),
            ReadWholeFile(FixtureFile("resnet_fmnist.onnx")));
  EXPECT_FALSE(ReadWholeFile(out_dir + "/calibration.tsv").empty());
  EXPECT_THAT(ReadWholeFile(out_dir + "/model.qdq.onnx"), HasSubstr("QuantizeLinear"));
  std::filesystem::remove_all(out_dir);
  result =
      Quantctl({"download", model_id, "2", "--artifact=calibration-json", "--out_dir=" + out_dir});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(ReadWholeFile(out_dir + "/calibration.json"), HasSubstr("quantd.calibration.v1"));
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/model.onnx"));
  result = Quantctl({"download", model_id, "2", "--artifact=qdq", "--out_dir=" + out_dir});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(ReadWholeFile(out_dir + "/model.qdq.onnx"), HasSubstr("DequantizeLinear"));
  result = Quantctl({"download", model_id, "2", "--artifact=tflite", "--out_dir=" + out_dir});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("calibration-json"));
  std::filesystem::remove_all(out_dir);
  result = Quantctl({"download", model_id, "1", "--artifact=calibration", "--out_dir=" + out_dir});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("NOT_FOUND"));
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/calibration.tsv"));

  result = Quantctl({"list-datasets"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr(dataset_id));
  EXPECT_THAT(result.out, HasSubstr("train-100"));
  result = Quantctl({"get-dataset", dataset_id, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"num_samples\":\"100\""));

  // Deletions: version 1 only with its model; afterwards the ids are gone.
  result = Quantctl({"delete-version", model_id, "1"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("delete-model"));
  EXPECT_EQ(Quantctl({"delete-version", model_id, "2"}).exit_code, 0);
  EXPECT_EQ(Quantctl({"delete-dataset", dataset_id}).exit_code, 0);
  EXPECT_EQ(Quantctl({"delete-dataset", big_id}).exit_code, 0);
  result = Quantctl({"get-dataset", dataset_id});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Quantctl({"delete-model", model_id}).exit_code, 0);
  result = Quantctl({"get-model", model_id});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("list-models"));
}

TEST_F(QuantctlE2eTest, FailuresNameTheStatusCode) {
  ProgramResult result = Quantctl({"get-model", "no-such-model"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("NOT_FOUND"));

  result = Quantctl({"get-job", "no-such-job"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("NOT_FOUND"));

  result = Quantctl({"upload-model", TempPath("missing.onnx")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("missing.onnx"));
}

}  // namespace
}  // namespace quantd::e2e
