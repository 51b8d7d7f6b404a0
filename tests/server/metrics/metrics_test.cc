#include "server/metrics/metrics.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/glibc_malloc.h"
#include "tests/promtool_findings.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Metrics::InferCall SuccessfulInt8Call() {
  Metrics::InferCall call;
  call.model = "mdl_1";
  call.version = "3";
  call.precision = "int8";
  call.code = absl::StatusCode::kOk;
  call.latency = absl::Microseconds(300);
  call.queue_time = absl::Microseconds(50);
  call.compute_time = absl::Microseconds(200);
  call.batch_size = 32;
  call.merged_batch_rows = 64;
  call.request_bytes = 4096;
  call.response_bytes = 1280;
  return call;
}

TEST(MetricsTest, RendersEveryDocumentedFamily) {
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ((*metrics)->bound_address(), "");
  (*metrics)->RecordInfer(SuccessfulInt8Call());
  Metrics::InferCall refused;
  refused.model = "mdl_1";
  refused.code = absl::StatusCode::kInvalidArgument;
  (*metrics)->RecordInfer(refused);
  (*metrics)->SetInferConcurrency(1, 4);
  (*metrics)->SetJobWorkers(2, 1);
  (*metrics)->RecordJobFinished(JobOutcome::kSucceeded, absl::Seconds(12));
  (*metrics)->SetJobQueueDepth(3);
  (*metrics)->SetModelTop1("mdl_1", 2, 0.91, 0.905);

  const std::string text = (*metrics)->RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE quantd_infer_latency_seconds histogram"));
  const std::string labels = "model=\"mdl_1\",precision=\"int8\",version=\"3\"";
  EXPECT_THAT(text,
              HasSubstr("quantd_infer_latency_seconds_bucket{" + labels + ",le=\"0.0005\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_latency_seconds_count{" + labels + "} 1"));
  // Queue and compute time split the latency; 50 us of queueing lands in the
  // first bucket, 200 us of compute in the 0.25 ms one.
  EXPECT_THAT(text, HasSubstr("quantd_infer_queue_seconds_bucket{" + labels + ",le=\"0.0001\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("quantd_infer_compute_seconds_bucket{" + labels + ",le=\"0.0001\"} 0"));
  EXPECT_THAT(text,
              HasSubstr("quantd_infer_compute_seconds_bucket{" + labels + ",le=\"0.00025\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_batch_size_bucket{" + labels + ",le=\"16\"} 0"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_batch_size_bucket{" + labels + ",le=\"32\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_merged_batch_rows_bucket{" + labels + ",le=\"32\"} 0"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_merged_batch_rows_bucket{" + labels + ",le=\"64\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_request_bytes_total{" + labels + "} 4096"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_response_bytes_total{" + labels + "} 1280"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_requests_total{code=\"OK\"," + labels + "} 1"));
  // A call refused before a version was chosen counts under version "none"
  // and records no latency.
  EXPECT_THAT(text, HasSubstr("quantd_infer_requests_total{code=\"INVALID_ARGUMENT\","
                              "model=\"mdl_1\",precision=\"unspecified\",version=\"none\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("quantd_infer_latency_seconds_count{model=\"mdl_1\","
                                  "precision=\"unspecified\"")));
  EXPECT_THAT(text, HasSubstr("quantd_infer_running 1"));
  EXPECT_THAT(text, HasSubstr("quantd_infer_waiting 4"));
  EXPECT_THAT(text, HasSubstr("quantd_job_workers 2"));
  EXPECT_THAT(text, HasSubstr("quantd_job_workers_busy 1"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_total{outcome=\"succeeded\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_total{outcome=\"failed\"} 0"));
  EXPECT_THAT(text, HasSubstr("quantd_job_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("quantd_job_queue_depth 3"));
  EXPECT_THAT(text, HasSubstr("quantd_model_fp32_top1{model=\"mdl_1\",version=\"2\"} 0.91"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_top1{model=\"mdl_1\",version=\"2\"} 0.905"));
}

// The heap gauge follows live allocations: 64 MiB held shows in "in_use".
// glibc's mallinfo2 does not see a sanitizer's allocator, so there it is
// not measured.
TEST(MetricsTest, HeapBytesCountLiveAllocations) {
  if (!testing_support::kGlibcMalloc) {
    GTEST_SKIP() << "a sanitizer's allocator replaces glibc's malloc";
  }
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  auto in_use = [&] {
    const std::string text = (*metrics)->RenderText();
    const std::string key = "quantd_heap_bytes{state=\"in_use\"} ";
    const size_t at = text.find(key);
    EXPECT_NE(at, std::string::npos) << text;
    return at == std::string::npos ? 0.0 : std::stod(text.substr(at + key.size()));
  };
  const double before = in_use();
  std::vector<char> held(64 << 20, 1);
  const double during = in_use();
  EXPECT_GE(during - before, static_cast<double>(held.size()));
  EXPECT_THAT((*metrics)->RenderText(), HasSubstr("quantd_heap_bytes{state=\"free\"} "));
}

// A call that ran while its version was deleted is not recorded: recording
// it after RemoveModelVersion would bring the version's series back, and
// nothing would remove them again (the soak found /metrics growing by 94
// lines per deleted version).
TEST(MetricsTest, CallsOfADeletedVersionDoNotBringItsSeriesBack) {
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok());
  (*metrics)->RecordInfer(SuccessfulInt8Call(), [] { return true; });
  EXPECT_THAT((*metrics)->RenderText(), HasSubstr("version=\"3\""));
  (*metrics)->RemoveModelVersion("mdl_1", 3);
  (*metrics)->RecordInfer(SuccessfulInt8Call(), [] { return false; });
  EXPECT_THAT((*metrics)->RenderText(), Not(HasSubstr("version=\"3\"")));
  EXPECT_TRUE((*metrics)->InferStatisticsOf("mdl_1", "3").empty());
}

// A version deleted while its job publishes its gauges or an Infer call of
// it is recorded: prometheus-cpp's Family::Add returns a reference that
// Remove frees, so setting a gauge while its series is removed wrote freed
// memory (under ASan a heap-use-after-free here; in a plain build heap
// corruption, which one soak run ended with as a segfault in libprotobuf).
// Each version is published, then deleted while a second thread sets its
// gauges and records a call; nothing of any version may be left.
TEST(MetricsTest, SeriesSetWhileTheirVersionIsDeletedAreNeitherFreedUnderfootNorLeft) {
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  constexpr int kVersions = 2000;
  std::atomic<int> stored{0};   // versions 1..stored exist ("published")
  std::atomic<int> deleted{0};  // versions 1..deleted were deleted
  const auto exists = [&](int version) {
    return version <= stored.load() && version > deleted.load();
  };
  std::thread publisher([&] {
    for (int version = 1; version <= kVersions; ++version) {
      stored.store(version);
      const auto version_exists = [&, version] { return exists(version); };
      (*metrics)->SetModelSpeedup("mdl_1", version, 2.5, version_exists);
      (*metrics)->SetModelTop1("mdl_1", version, 0.9, 0.89, version_exists);
      (*metrics)->SetModelInt8MacShare("mdl_1", version, 1.0, version_exists);
      Metrics::InferCall call = SuccessfulInt8Call();
      call.version = std::to_string(version);
      (*metrics)->RecordInfer(call, version_exists);
    }
  });
  for (int version = 1; version <= kVersions; ++version) {
    while (stored.load() < version) std::this_thread::yield();
    deleted.store(version);  // the repository forgets it first, as DeleteVersion does
    (*metrics)->RemoveModelVersion("mdl_1", version);
  }
  publisher.join();
  EXPECT_THAT((*metrics)->RenderText(), Not(HasSubstr("model=\"mdl_1\"")));
}

TEST(MetricsTest, ExpositionPassesPromtool) {
  const char* promtool = "/usr/bin/promtool";
  if (!std::filesystem::exists(promtool))
    FAIL()
        << "promtool is missing: Debian package prometheus (scripts/install_deps.sh installs it)";
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok());
  (*metrics)->RecordInfer(SuccessfulInt8Call());
  (*metrics)->RecordJobFinished(JobOutcome::kFailed, absl::Seconds(3));
  (*metrics)->SetModelTop1("mdl_1", 2, 0.9, 0.89);
  (*metrics)->SetModelSpeedup("mdl_1", 2, 3.1);
  (*metrics)->SetModelInt8MacShare("mdl_1", 2, 0.97);
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / "metrics.txt";
  std::ofstream(file) << (*metrics)->RenderText();
  const std::string command = std::string(promtool) + " check metrics < " + file.string() + " > " +
                              (dir.path() / "promtool.out").string() + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(dir.path() / "promtool.out");
  const std::string report((std::istreambuf_iterator<char>(out)), {});
  EXPECT_THAT(::quantd::testing::UnexpectedPromtoolFindings(report), ::testing::IsEmpty())
      << report;
  // A failed run prints why; a clean exit then has nothing else to report.
  if (rc != 0) {
    EXPECT_THAT(report, HasSubstr("nv_inference_"));
  }
}

TEST(MetricsTest, TritonCountersFollowEveryCallAndGoWithTheirVersion) {
  auto metrics = Metrics::Create("none");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  Metrics::InferCall first = SuccessfulInt8Call();
  first.counts_execution = true;
  first.input_time = absl::Microseconds(7);
  first.output_time = absl::Microseconds(9);
  (*metrics)->RecordInfer(first);
  (*metrics)->RecordInfer(SuccessfulInt8Call());  // merged into the same run
  Metrics::InferCall failed = SuccessfulInt8Call();
  failed.code = absl::StatusCode::kDeadlineExceeded;
  (*metrics)->RecordInfer(failed);
  Metrics::InferCall unknown_model;  // never reached a version: not counted
  unknown_model.code = absl::StatusCode::kNotFound;
  (*metrics)->RecordInfer(unknown_model);

  const std::string text = (*metrics)->RenderText();
  const std::string labels = "{model=\"mdl_1\",version=\"3\"}";
  EXPECT_THAT(text, HasSubstr("# TYPE nv_inference_request_success counter"));
  EXPECT_THAT(text, HasSubstr("nv_inference_request_success" + labels + " 2"));
  EXPECT_THAT(text, HasSubstr("nv_inference_request_failure" + labels + " 1"));
  EXPECT_THAT(text, HasSubstr("nv_inference_count" + labels + " 64"));  // 2 x 32 samples
  EXPECT_THAT(text, HasSubstr("nv_inference_exec_count" + labels + " 1"));
  EXPECT_THAT(text, HasSubstr("nv_inference_request_duration_us" + labels + " 600"));
  EXPECT_THAT(text, HasSubstr("nv_inference_queue_duration_us" + labels + " 100"));
  EXPECT_THAT(text, HasSubstr("nv_inference_compute_input_duration_us" + labels + " 7"));
  EXPECT_THAT(text, HasSubstr("nv_inference_compute_infer_duration_us" + labels + " 400"));
  EXPECT_THAT(text, HasSubstr("nv_inference_compute_output_duration_us" + labels + " 9"));
  EXPECT_THAT(text, Not(HasSubstr("model=\"unknown\",version")));

  const std::vector<VersionStatistics> stats = (*metrics)->InferStatisticsOf("mdl_1", "3");
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].execution_count, 1u);
  ASSERT_EQ(stats[0].batches.size(), 1u);
  EXPECT_EQ(stats[0].batches.begin()->first, 64);  // the merged run's rows
  EXPECT_EQ(stats[0].batches.begin()->second.compute_infer.count, 1u);

  (*metrics)->RemoveModelVersion("mdl_1", 3);
  const std::string after = (*metrics)->RenderText();
  EXPECT_THAT(after, Not(HasSubstr("nv_inference_request_success{")));
  EXPECT_THAT(after, Not(HasSubstr("version=\"3\"")));
  EXPECT_TRUE((*metrics)->InferStatisticsOf("mdl_1", "").empty());
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
  (*metrics)->SetModelInt8MacShare("mdl_1", 2, 1.0);
  (*metrics)->SetModelInt8MacShare("mdl_1", 3, 0.875);
  std::string text = (*metrics)->RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE quantd_model_int8_speedup gauge"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_speedup{model=\"mdl_1\",version=\"2\"} 2.5"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_speedup{model=\"mdl_1\",version=\"3\"} 3.25"));
  EXPECT_THAT(text, HasSubstr("# TYPE quantd_model_int8_mac_share gauge"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_mac_share{model=\"mdl_1\",version=\"2\"} 1"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_mac_share{model=\"mdl_1\",version=\"3\"} 0.875"));
  EXPECT_THAT(text, HasSubstr("quantd_jobs_total{outcome=\"cancelled\"} 1"));

  (*metrics)->RemoveModelVersion("mdl_1", 2);
  (*metrics)->RemoveModelVersion("mdl_9", 7);  // never set: a no-op
  text = (*metrics)->RenderText();
  EXPECT_THAT(text, Not(HasSubstr("version=\"2\"")));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_speedup{model=\"mdl_1\",version=\"3\"} 3.25"));
  EXPECT_THAT(text, HasSubstr("quantd_model_int8_mac_share{model=\"mdl_1\",version=\"3\"} 0.875"));
}

}  // namespace
}  // namespace quantd::server
