#include "server/job_tracker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace quantd::server {

bool IsTerminal(v1::JobState state) { return state == v1::SUCCEEDED || state == v1::FAILED; }

absl::StatusOr<std::unique_ptr<JobTracker>> JobTracker::Load(Repository* repository) {
  std::unique_ptr<JobTracker> tracker(new JobTracker(repository));
  ASSIGN_OR_RETURN(std::vector<v1::Job> jobs, repository->LoadJobs());
  absl::MutexLock lock(&tracker->mu_);
  for (v1::Job& job : jobs) {
    if (job.state() == v1::RUNNING) {
      job.set_state(v1::FAILED);
      job.set_error(kInterruptedJobError);
      job.set_finished_unix_ms(NowUnixMs());
      RETURN_IF_ERROR(repository->SaveJob(job));
    } else if (job.state() == v1::QUEUED) {
      tracker->recovered_queued_job_ids_.push_back(job.id());
    }
    std::string id = job.id();
    tracker->jobs_[id] = Entry{std::move(job), 1};
  }
  return tracker;
}

absl::Status JobTracker::Add(const v1::Job& job) {
  RETURN_IF_ERROR(repository_->SaveJob(job));
  absl::MutexLock lock(&mu_);
  jobs_[job.id()] = Entry{job, 1};
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

std::vector<v1::Job> JobTracker::List() const {
  std::vector<v1::Job> jobs;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : jobs_) jobs.push_back(entry.job);
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const v1::Job& a, const v1::Job& b) {
    return a.created_unix_ms() < b.created_unix_ms();
  });
  return jobs;
}

absl::Status JobTracker::Update(const std::string& job_id,
                                const std::function<void(v1::Job&)>& mutate, bool persist) {
  v1::Job updated;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) {
      return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
    }
    updated = it->second.job;
  }
  // Only the worker running a job updates it, so mutating a copy outside the
  // lock cannot lose a concurrent update.
  mutate(updated);
  if (persist) RETURN_IF_ERROR(repository_->SaveJob(updated));
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("job '", job_id, "' not found"));
  it->second.job = std::move(updated);
  ++it->second.revision;
  return absl::OkStatus();
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
