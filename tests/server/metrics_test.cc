#include "server/metrics.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, RendersEveryDocumentedFamily) {
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ((*metrics)->bound_address(), "");
  (*metrics)->RecordInfer("mdl_1", "int8", absl::StatusCode::kOk, absl::Microseconds(300));
  (*metrics)->RecordInfer("mdl_1", "int8", absl::StatusCode::kInvalidArgument,
                          absl::Microseconds(10));
  (*metrics)->RecordJobFinished(JobOutcome::kSucceeded, absl::Seconds(12));
  (*metrics)->SetJobQueueDepth(3);
  (*metrics)->SetModelTop1("mdl_1", 2, 0.91, 0.905);

  const std::string text = (*metrics)->RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE quantd_infer_latency_seconds histogram"));
  EXPECT_THAT(text,
              HasSubstr("quantd_infer_latency_seconds_bucket{model=\"mdl_1\",precision=\"int8\","
                        "le=\"0.0005\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_latency_seconds_count{model=\"mdl_1\","
                              "precision=\"int8\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_requests_total{code=\"OK\",model=\"mdl_1\","
                              "precision=\"int8\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_requests_total{code=\"INVALID_ARGUMENT\","
                              "model=\"mdl_1\",precision=\"int8\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_total{outcome=\"succeeded\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_total{outcome=\"failed\"} 0"));
  EXPECT_THAT(text, HasSubstr("quantd_job_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("quantd_job_queue_depth 3"));
  EXPECT_THAT(text, HasSubstr("quantd_model_fp32_top1{model=\"mdl_1\",version=\"2\"} 0.91"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_top1{model=\"mdl_1\",version=\"2\"} 0.905"));
}

TEST(MetricsTest, ExpositionPassesPromtool) {
  const char* promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool))
    FAIL()
        << "promtool is missing: Debian package prometheus (scripts/install_deps.sh installs it)";
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok());
  (*metrics)->RecordInfer("mdl_1", "fp32", absl::StatusCode::kOk, absl::Milliseconds(2));
  (*metrics)->RecordJobFinished(JobOutcome::kFailed, absl::Seconds(3));
  (*metrics)->SetModelTop1("mdl_1", 2, 0.9, 0.89);
  (*metrics)->SetModelSpeedup("mdl_1", 2, 3.1);
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / "metrics.txt";
  std::ofstream(file) << (*metrics)->RenderText();
  const std::string command = std::string(promtool) + " check metrics < " + file.string() + " > " +
                              (dir.path() / "promtool.out").string() + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(dir.path() / "promtool.out");
  const std::string report((std::istreambuf_iterator<char>(out)), {});
  EXPECT_EQ(rc, 0) << report;
}

TEST(MetricsTest, ServesOnAnEphemeralPort) {
  // One exposer for the whole binary: its destructor takes about two seconds.
  auto metrics = Metrics::Create("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT((*metrics)->bound_address(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_NE((*metrics)->bound_address(), "127.0.0.1:0");
}

TEST(MetricsTest, UnusableAddressIsAnError) {
  auto metrics = Metrics::Create("256.1.1.1:99999");
  EXPECT_FALSE(metrics.ok());
}

TEST(MetricsTest, SpeedupGaugeAndCancelledJobsAreExportedAndDeletedVersionsDropped) {
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  (*metrics)->RecordJobFinished(JobOutcome::kCancelled, absl::Seconds(2));
  (*metrics)->SetModelSpeedup("mdl_1", 2, 2.5);
  (*metrics)->SetModelSpeedup("mdl_1", 3, 3.25);
  (*metrics)->SetModelTop1("mdl_1", 2, 0.9, 0.89);
  std::string text = (*metrics)->RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE quantd_model_int8_speedup gauge"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_speedup{model=\"mdl_1\",version=\"2\"} 2.5"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_speedup{model=\"mdl_1\",version=\"3\"} 3.25"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_total{outcome=\"cancelled\"} 1"));

  (*metrics)->RemoveModelVersion("mdl_1", 2);
  (*metrics)->RemoveModelVersion("mdl_9", 7);  // never set: a no-op
  text = (*metrics)->RenderText();
  EXPECT_THAT(text, Not(HasSubstr("version=\"2\"")));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_speedup{model=\"mdl_1\",version=\"3\"} 3.25"));
}

}  // namespace
}  // namespace quantd::server
