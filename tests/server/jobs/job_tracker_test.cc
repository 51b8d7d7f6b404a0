#include "server/jobs/job_tracker.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/break_job_saves.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

using ::testing::ElementsAre;

v1::Job MakeJob(const std::string& id, v1::JobState state, int64_t created) {
  v1::Job job;
  job.set_id(id);
  job.set_model_id("mdl_1");
  job.set_state(state);
  job.set_created_unix_ms(created);
  return job;
}

TEST(JobTrackerTest, RestartRequeuesQueuedAndFailsRunningJobs) {
  testing::TempDir dir;
  {
    auto repository = Repository::Open(dir.path());
    ASSERT_TRUE(repository.ok());
    ASSERT_TRUE((*repository)->SaveJob(MakeJob("job_queued_b", v1::QUEUED, 20)).ok());
    ASSERT_TRUE((*repository)->SaveJob(MakeJob("job_running", v1::RUNNING, 5)).ok());
    ASSERT_TRUE((*repository)->SaveJob(MakeJob("job_queued_a", v1::QUEUED, 10)).ok());
    ASSERT_TRUE((*repository)->SaveJob(MakeJob("job_done", v1::SUCCEEDED, 1)).ok());
  }
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok()) << tracker.status();

  EXPECT_THAT((*tracker)->recovered_queued_job_ids(), ElementsAre("job_queued_a", "job_queued_b"));
  auto interrupted = (*tracker)->Get("job_running");
  ASSERT_TRUE(interrupted.ok());
  EXPECT_EQ(interrupted->state(), v1::FAILED);
  EXPECT_EQ(interrupted->error(), "interrupted: server restarted while the job was running");
  EXPECT_GT(interrupted->finished_unix_ms(), 0);
  EXPECT_EQ((*tracker)->Get("job_done")->state(), v1::SUCCEEDED);

  // The failure is stored, not only reported: a second restart sees it too.
  auto jobs = (*repository)->LoadJobs();
  ASSERT_TRUE(jobs.ok());
  for (const v1::Job& job : *jobs) {
    if (job.id() == "job_running") {
      EXPECT_EQ(job.state(), v1::FAILED);
    }
  }
}

using testing::BreakJobSaves;

// A job whose final state cannot be saved still ends for its watchers (it
// used to stay RUNNING forever, holding its model against deletion), while a
// non-final update that cannot be saved is not applied. The stored row stays
// RUNNING, which a restart then settles as interrupted.
TEST(JobTrackerTest, AFinalStateThatCannotBeSavedStillEndsTheJob) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_1", v1::RUNNING, 1)).ok());
  BreakJobSaves(dir.path());

  const absl::Status progress = (*tracker)->Update(
      "job_1", [](v1::Job& j) { j.set_phase("quantizing"); }, /*persist=*/true);
  EXPECT_FALSE(progress.ok());
  EXPECT_EQ((*tracker)->Get("job_1")->phase(), "");

  const absl::Status finished = (*tracker)->Update(
      "job_1", [](v1::Job& j) { j.set_state(v1::SUCCEEDED); }, /*persist=*/true);
  EXPECT_FALSE(finished.ok());
  EXPECT_THAT(finished.message(), ::testing::HasSubstr("disk full"));
  EXPECT_EQ((*tracker)->Get("job_1")->state(), v1::SUCCEEDED);

  auto stored = (*repository)->LoadJobs();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].state(), v1::RUNNING);
}

// A QUEUED job's cancel that cannot be saved is not applied: its stored row
// would still say QUEUED, and a restart would run it.
TEST(JobTrackerTest, AnUnsavedCancelOfAQueuedJobIsNotApplied) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_1", v1::QUEUED, 1)).ok());
  BreakJobSaves(dir.path());
  EXPECT_FALSE((*tracker)->RequestCancel("job_1").ok());
  EXPECT_EQ((*tracker)->Get("job_1")->state(), v1::QUEUED);
}

// Finished jobs beyond the limit go, those that finished first, at load
// and when a job ends; running and queued jobs are never pruned, nor is the
// job that just ended, however old.
TEST(JobTrackerTest, FinishedJobsBeyondTheLimitArePrunedOldestFinishedFirst) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  for (int i = 0; i < 4; ++i) {
    v1::Job done = MakeJob("job_done_" + std::to_string(i), v1::SUCCEEDED, i);
    done.set_finished_unix_ms(100 + i);
    ASSERT_TRUE((*repository)->SaveJob(done).ok());
  }
  ASSERT_TRUE((*repository)->SaveJob(MakeJob("job_old_running", v1::QUEUED, 0)).ok());
  auto tracker = JobTracker::Load(repository->get(), /*max_finished_jobs=*/2);
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  auto ids = [&] {
    std::vector<std::string> out;
    for (const v1::Job& job : (*tracker)->List()) out.push_back(job.id());
    return out;
  };
  EXPECT_THAT(ids(), ElementsAre("job_old_running", "job_done_2", "job_done_3"));

  ASSERT_TRUE((*tracker)
                  ->Update(
                      "job_old_running",
                      [](v1::Job& j) {
                        j.set_state(v1::FAILED);
                        j.set_finished_unix_ms(200);
                      },
                      /*persist=*/true)
                  .ok());
  EXPECT_THAT(ids(), ElementsAre("job_old_running", "job_done_3"));
  auto stored = (*repository)->LoadJobs();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 2u);
  EXPECT_EQ(JobTracker::Load(repository->get(), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Two jobs created in the same millisecond list in creation order, also after
// a restart, whatever their (random) ids. ListJobs ordered by timestamp only
// returned them in id order, which made a server test flaky.
TEST(JobTrackerTest, JobsOfOneMillisecondListInCreationOrder) {
  testing::TempDir dir;
  {
    auto repository = Repository::Open(dir.path());
    ASSERT_TRUE(repository.ok());
    auto tracker = JobTracker::Load(repository->get());
    ASSERT_TRUE(tracker.ok()) << tracker.status();
    for (const char* id : {"job_z", "job_m", "job_a"}) {
      ASSERT_TRUE((*tracker)->Add(MakeJob(id, v1::QUEUED, 100)).ok());
    }
    std::vector<std::string> ids;
    for (const v1::Job& job : (*tracker)->List({})) ids.push_back(job.id());
    EXPECT_THAT(ids, ElementsAre("job_z", "job_m", "job_a"));
  }
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  std::vector<std::string> ids;
  for (const v1::Job& job : (*tracker)->List({})) ids.push_back(job.id());
  EXPECT_THAT(ids, ElementsAre("job_z", "job_m", "job_a"));
}

// A kill between publishing a version and marking the job SUCCEEDED leaves a
// RUNNING job whose version exists: on restart it is SUCCEEDED with that
// version (it used to be reported FAILED as interrupted).
TEST(JobTrackerTest, RunningJobWhoseVersionWasPublishedSucceedsOnRestart) {
  testing::TempDir dir;
  std::string model_id;
  {
    auto repository = Repository::Open(dir.path());
    ASSERT_TRUE(repository.ok());
    const std::string onnx = "onnx bytes";  // the tracker never reads them
    engine::ModelSummary summary;
    summary.inputs = {{"input", {-1, 1, 28, 28}}};
    summary.outputs = {{"logits", {-1, 10}}};
    auto model = (*repository)->AddModel("m", onnx, Sha256Hex(onnx), summary);
    ASSERT_TRUE(model.ok()) << model.status();
    model_id = model->id();
    v1::Job published = MakeJob("job_published", v1::RUNNING, 10);
    published.set_model_id(model_id);
    ASSERT_TRUE((*repository)->SaveJob(published).ok());
    ASSERT_TRUE((*repository)->SaveJob(MakeJob("job_cut_short", v1::RUNNING, 11)).ok());
    v1::SpeedupReport speedup;
    speedup.set_throughput_speedup(2.5);
    ASSERT_TRUE(
        (*repository)->AddInt8Version(model_id, "job_published", "{}", std::nullopt, speedup).ok());
  }
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok()) << tracker.status();
  const absl::StatusOr<v1::Job> done = (*tracker)->Get("job_published");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state(), v1::SUCCEEDED);
  EXPECT_EQ(done->result_version(), 2);
  EXPECT_EQ(done->error(), "");
  EXPECT_EQ(done->speedup().throughput_speedup(), 2.5);
  EXPECT_EQ((*tracker)->Get("job_cut_short")->state(), v1::FAILED);
  // Stored, so a second restart agrees.
  const absl::StatusOr<std::vector<v1::Job>> stored = (*repository)->LoadJobs();
  ASSERT_TRUE(stored.ok()) << stored.status();
  for (const v1::Job& job : *stored) {
    if (job.id() == "job_published") {
      EXPECT_EQ(job.state(), v1::SUCCEEDED);
    }
  }
}

TEST(JobTrackerTest, PersistedUpdatesSurviveAndProgressOnlyUpdatesDoNot) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_1", v1::QUEUED, 1)).ok());
  ASSERT_TRUE((*tracker)
                  ->Update(
                      "job_1", [](v1::Job& j) { j.set_state(v1::RUNNING); }, true)
                  .ok());
  ASSERT_TRUE((*tracker)
                  ->Update(
                      "job_1", [](v1::Job& j) { j.set_progress(0.5); }, false)
                  .ok());
  EXPECT_DOUBLE_EQ((*tracker)->Get("job_1")->progress(), 0.5);
  auto stored = (*repository)->LoadJobs();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].state(), v1::RUNNING);
  EXPECT_DOUBLE_EQ((*stored)[0].progress(), 0.0);

  EXPECT_EQ((*tracker)->Get("job_nope").status().message(), "job 'job_nope' not found");
  ASSERT_TRUE((*tracker)->Remove("job_1").ok());
  EXPECT_EQ((*tracker)->Get("job_1").status().code(), absl::StatusCode::kNotFound);
}

TEST(JobTrackerTest, WaitForChangeWakesOnUpdateAndTimesOutOtherwise) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_1", v1::QUEUED, 1)).ok());

  auto first = (*tracker)->WaitForChange("job_1", 0, absl::Seconds(10));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->job.state(), v1::QUEUED);

  auto unchanged = (*tracker)->WaitForChange("job_1", first->revision, absl::Milliseconds(20));
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->revision, first->revision);

  std::thread updater([&] {
    (*tracker)
        ->Update(
            "job_1", [](v1::Job& j) { j.set_state(v1::SUCCEEDED); }, true)
        .IgnoreError();
  });
  auto changed = (*tracker)->WaitForChange("job_1", first->revision, absl::Seconds(30));
  updater.join();
  ASSERT_TRUE(changed.ok());
  EXPECT_GT(changed->revision, first->revision);
  EXPECT_EQ(changed->job.state(), v1::SUCCEEDED);
  EXPECT_TRUE(IsTerminal(changed->job.state()));

  (*tracker)->Shutdown();
  auto after_shutdown = (*tracker)->WaitForChange("job_1", changed->revision, absl::Hours(1));
  ASSERT_TRUE(after_shutdown.ok());
  EXPECT_TRUE(after_shutdown->shutting_down);
}

TEST(JobTrackerTest, CancelEndsQueuedJobsAtOnceAndFlagsRunningOnes) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_queued", v1::QUEUED, 1)).ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_running", v1::RUNNING, 2)).ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_done", v1::SUCCEEDED, 3)).ok());

  auto queued = (*tracker)->RequestCancel("job_queued");
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->state(), v1::CANCELLED);
  EXPECT_EQ(queued->error(), kCancelledJobError);
  EXPECT_GT(queued->finished_unix_ms(), 0);
  // A worker that took the id off the queue must not start it any more.
  EXPECT_EQ((*tracker)
                ->UpdateIf(
                    "job_queued", v1::QUEUED, [](v1::Job& j) { j.set_state(v1::RUNNING); }, true)
                .code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_FALSE((*tracker)->IsCancelRequested("job_running"));
  auto running = (*tracker)->RequestCancel("job_running");
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->state(), v1::RUNNING);
  EXPECT_TRUE(running->cancel_requested());
  EXPECT_TRUE((*tracker)->IsCancelRequested("job_running"));

  auto done = (*tracker)->RequestCancel("job_done");
  EXPECT_EQ(done.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(done.status().message(), ::testing::HasSubstr("SUCCEEDED"));
  EXPECT_EQ((*tracker)->RequestCancel("job_nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tracker)->RequestCancel("job_queued").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(JobTrackerTest, CancelledAndCancelRequestedJobsEndCancelledAfterRestart) {
  testing::TempDir dir;
  {
    auto repository = Repository::Open(dir.path());
    ASSERT_TRUE(repository.ok());
    auto tracker = JobTracker::Load(repository->get());
    ASSERT_TRUE(tracker.ok());
    ASSERT_TRUE((*tracker)->Add(MakeJob("job_queued", v1::QUEUED, 1)).ok());
    ASSERT_TRUE((*tracker)->Add(MakeJob("job_running", v1::RUNNING, 2)).ok());
    ASSERT_TRUE((*tracker)->RequestCancel("job_queued").ok());
    ASSERT_TRUE((*tracker)->RequestCancel("job_running").ok());
    // The process dies before the worker notices the request.
  }
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  EXPECT_TRUE((*tracker)->recovered_queued_job_ids().empty());
  EXPECT_EQ((*tracker)->Get("job_queued")->state(), v1::CANCELLED);
  EXPECT_EQ((*tracker)->Get("job_running")->state(), v1::CANCELLED);
  EXPECT_EQ((*tracker)->Get("job_running")->error(), kCancelledJobError);
}

TEST(JobTrackerTest, ListFiltersByModelAndState) {
  testing::TempDir dir;
  auto repository = Repository::Open(dir.path());
  ASSERT_TRUE(repository.ok());
  auto tracker = JobTracker::Load(repository->get());
  ASSERT_TRUE(tracker.ok());
  v1::Job other = MakeJob("job_other_model", v1::SUCCEEDED, 1);
  other.set_model_id("mdl_2");
  ASSERT_TRUE((*tracker)->Add(other).ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_b", v1::SUCCEEDED, 3)).ok());
  ASSERT_TRUE((*tracker)->Add(MakeJob("job_a", v1::QUEUED, 2)).ok());

  auto ids = [](const std::vector<v1::Job>& jobs) {
    std::vector<std::string> out;
    for (const v1::Job& job : jobs) out.push_back(job.id());
    return out;
  };
  EXPECT_THAT(ids((*tracker)->List()), ElementsAre("job_other_model", "job_a", "job_b"));
  EXPECT_THAT(ids((*tracker)->List({.model_id = "mdl_1"})), ElementsAre("job_a", "job_b"));
  EXPECT_THAT(ids((*tracker)->List({.model_id = "", .state = v1::SUCCEEDED})),
              ElementsAre("job_other_model", "job_b"));
  EXPECT_THAT(ids((*tracker)->List({.model_id = "mdl_1", .state = v1::SUCCEEDED})),
              ElementsAre("job_b"));
  EXPECT_TRUE((*tracker)->List({.model_id = "mdl_none"}).empty());
}

}  // namespace
}  // namespace quantd::server
