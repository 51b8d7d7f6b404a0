#include "server/jobs/job_tracker.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace quantd::server {

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

namespace {

// What MarkSucceeded would have recorded, from what the version keeps (the
// accuracy and SQNR reports lived only in the job and are lost).
void MarkPublished(v1::Job& job, const v1::ModelVersion& version) {
  job.set_state(v1::SUCCEEDED);
  job.set_phase("done");
  job.set_progress(1);
  job.clear_eta_seconds();
  job.clear_error();
  job.set_result_version(version.version());
  job.set_finished_unix_ms(version.created_unix_ms());
  if (version.has_speedup()) *job.mutable_speedup() = version.speedup();
  if (version.has_int8_coverage()) *job.mutable_int8_coverage() = version.int8_coverage();
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobTracker>> JobTracker::Load(Repository* repository,
                                                             int64_t max_finished_jobs) {
  if (max_finished_jobs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_finished_jobs must be at least 1, got ", max_finished_jobs));
  }
  std::unique_ptr<JobTracker> tracker(new JobTracker(repository, max_finished_jobs));
  ASSIGN_OR_RETURN(std::vector<v1::Job> jobs, repository->LoadJobs());
  // Versions by the job that published them. A version and its job's end
  // commit together now; a data directory of quantd before 0.2 may still hold
  // a job killed between the two, which did succeed.
  std::map<std::string, const v1::ModelVersion*> published;
  const std::vector<v1::Model> models = repository->ListModels();
  for (const v1::Model& model : models) {
    for (const v1::ModelVersion& version : model.versions()) {
      if (!version.created_by_job_id().empty()) published[version.created_by_job_id()] = &version;
    }
  }
  absl::MutexLock lock(&tracker->mu_);
  for (v1::Job& job : jobs) {
    if (const auto it = published.find(job.id());
        job.state() == v1::RUNNING && it != published.end()) {
      MarkPublished(job, *it->second);
      RETURN_IF_ERROR(repository->SaveJob(job));
    } else if (job.state() == v1::RUNNING) {
      // The client asked for the job to stop; honour that rather than fail it.
      job.set_state(job.cancel_requested() ? v1::CANCELLED : v1::FAILED);
      job.set_error(job.cancel_requested() ? kCancelledJobError : kInterruptedJobError);
      job.clear_eta_seconds();
      job.set_finished_unix_ms(NowUnixMs());
      RETURN_IF_ERROR(repository->SaveJob(job));
    } else if (job.state() == v1::QUEUED) {
      tracker->recovered_queued_job_ids_.push_back(job.id());
    }
    std::string id = job.id();
    tracker->jobs_[id] = Entry{std::move(job), 1, tracker->next_sequence_++};
  }
  tracker->PruneFinishedLocked("");
  return tracker;
}

absl::Status JobTracker::Add(const v1::Job& job) {
  // Saved under the lock: the row order (what a restart lists by) and the
  // sequence must agree when two jobs are added at once.
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(repository_->SaveJob(job));
  jobs_[job.id()] = Entry{job, 1, next_sequence_++};
  return absl::OkStatus();
}

absl::Status JobTracker::Remove(const std::string& job_id) {
  RETURN_IF_ERROR(repository_->DeleteJob(job_id));
  absl::MutexLock lock(&mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) jobs_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<v1::Job> JobTracker::Get(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
  return it->second.job;
}

std::vector<v1::Job> JobTracker::List(const JobFilter& filter) const {
  std::vector<const Entry*> entries;
  std::vector<v1::Job> jobs;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : jobs_) {
    if (!filter.model_id.empty() && entry.job.model_id() != filter.model_id) continue;
    if (filter.state != v1::JOB_STATE_UNSPECIFIED && entry.job.state() != filter.state) continue;
    entries.push_back(&entry);
  }
  // Oldest first; jobs of one millisecond in the order they were created.
  std::sort(entries.begin(), entries.end(), [](const Entry* a, const Entry* b) {
    return std::pair(a->job.created_unix_ms(), a->sequence) <
           std::pair(b->job.created_unix_ms(), b->sequence);
  });
  jobs.reserve(entries.size());
  for (const Entry* entry : entries) jobs.push_back(entry->job);
  return jobs;
}

absl::Status JobTracker::Update(const std::string& job_id,
                                const std::function<void(v1::Job&)>& mutate, bool persist) {
  absl::MutexLock lock(&mu_);
  return UpdateLocked(job_id, std::nullopt, mutate, persist);
}

absl::Status JobTracker::UpdateIf(const std::string& job_id, v1::JobState expected,
                                  const std::function<void(v1::Job&)>& mutate, bool persist) {
  absl::MutexLock lock(&mu_);
  return UpdateLocked(job_id, expected, mutate, persist);
}

absl::Status JobTracker::UpdateLocked(const std::string& job_id,
                                      std::optional<v1::JobState> expected,
                                      const std::function<void(v1::Job&)>& mutate, bool persist) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
  if (expected.has_value() && it->second.job.state() != *expected) {
    return absl::FailedPreconditionError(absl::StrCat("job '", job_id, "' is ",
                                                      v1::JobState_Name(it->second.job.state()),
                                                      ", not ", v1::JobState_Name(*expected)));
  }
  v1::Job updated = it->second.job;
  mutate(updated);
  // Saved under the lock so that the stored order of states matches the
  // order watchers see; a job's row is small, the write takes milliseconds.
  absl::Status saved = persist ? repository_->SaveJob(updated) : absl::OkStatus();
  // A job that ended must be seen to end even when its row cannot be
  // written (disk full, I/O error): left RUNNING it would hold its model and
  // datasets against deletion and keep WatchJob open forever. The stored row
  // stays RUNNING; a restart then settles it as interrupted (FAILED).
  // Only a RUNNING job's end is applied unsaved: a restart settles a stored
  // RUNNING row, but would run a QUEUED one whose cancel was not saved.
  if (!saved.ok() && !(IsTerminal(updated.state()) && it->second.job.state() == v1::RUNNING)) {
    return saved;
  }
  const bool ended = !IsTerminal(it->second.job.state()) && IsTerminal(updated.state());
  it->second.job = std::move(updated);
  ++it->second.revision;
  if (ended) PruneFinishedLocked(job_id);
  return saved;
}

void JobTracker::PruneFinishedLocked(const std::string& keep_id) {
  // Jobs that ended within the last minute stay, so that a WatchJob stream
  // still sees the end of its job even when many jobs end at once.
  const int64_t recent = NowUnixMs() - 60'000;
  std::vector<std::pair<std::pair<int64_t, int64_t>, std::string>> prunable;
  int64_t finished = 0;
  for (const auto& [id, entry] : jobs_) {
    if (!IsTerminal(entry.job.state())) continue;
    ++finished;
    if (id != keep_id && entry.job.finished_unix_ms() < recent) {
      prunable.push_back({{entry.job.finished_unix_ms(), entry.sequence}, id});
    }
  }
  const int64_t excess = finished - max_finished_jobs_;
  if (excess <= 0) return;
  std::sort(prunable.begin(), prunable.end());
  for (int64_t i = 0; i < excess && i < static_cast<int64_t>(prunable.size()); ++i) {
    const std::string& id = prunable[static_cast<size_t>(i)].second;
    // Kept (and tried again at the next job's end) if its row cannot go.
    if (const absl::Status deleted = repository_->DeleteJob(id); !deleted.ok()) {
      std::cerr << "quantd: could not prune finished job '" << id << "': " << deleted << std::endl;
      return;
    }
    jobs_.erase(id);
  }
}

absl::StatusOr<v1::Job> JobTracker::RequestCancel(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
  const v1::JobState state = it->second.job.state();
  if (IsTerminal(state)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job '", job_id, "' already ended ", v1::JobState_Name(state), "; nothing to cancel"));
  }
  if (state == v1::QUEUED) {
    RETURN_IF_ERROR(UpdateLocked(
        job_id, v1::QUEUED,
        [](v1::Job& job) {
          job.set_state(v1::CANCELLED);
          job.set_error(kCancelledJobError);
          job.set_finished_unix_ms(NowUnixMs());
        },
        /*persist=*/true));
  } else if (!it->second.job.cancel_requested()) {
    // Saved so that a restart before the worker notices still ends CANCELLED.
    RETURN_IF_ERROR(UpdateLocked(
        job_id, state, [](v1::Job& job) { job.set_cancel_requested(true); }, /*persist=*/true));
  }
  return it->second.job;
}

bool JobTracker::IsCancelRequested(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  return it != jobs_.end() && it->second.job.cancel_requested();
}

absl::StatusOr<JobTracker::Snapshot> JobTracker::WaitForChange(const std::string& job_id,
                                                               int64_t after_revision,
                                                               absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (shut_down_) return true;
    auto it = jobs_.find(job_id);
    return it == jobs_.end() || it->second.revision > after_revision;
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
  return Snapshot{it->second.job, it->second.revision, shut_down_};
}

void JobTracker::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

}  // namespace quantd::server
