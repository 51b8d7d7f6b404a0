#ifndef QUANTD_SERVER_JOBS_JOB_TRACKER_H_
#define QUANTD_SERVER_JOBS_JOB_TRACKER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "quantd/v1/quantd.pb.h"
#include "server/storage/repository.h"

namespace quantd::server {

inline constexpr char kInterruptedJobError[] =
    "interrupted: server restarted while the job was running";
inline constexpr char kCancelledJobError[] = "cancelled by CancelJob";

// SUCCEEDED, FAILED and CANCELLED: the job will never change again.
bool IsTerminal(v1::JobState state);

// Which jobs ListJobs returns; empty / unspecified fields match every job.
struct JobFilter {
  std::string model_id;
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
};

// The live state of every job, with change notification for WatchJob. State
// transitions are written through to the Repository; progress-only updates
// stay in memory (they are cheap to lose and frequent).
class JobTracker {
 public:
  // Loads the stored jobs. Jobs that were RUNNING when the previous process
  // stopped are marked FAILED (kInterruptedJobError) and saved, or CANCELLED
  // if a cancellation had been requested; jobs that were QUEUED are listed by
  // recovered_queued_job_ids() for re-queueing.
  //
  // Finished jobs are kept up to `max_finished_jobs` (at least 1); beyond,
  // the ones that finished first are deleted, at load and whenever a job
  // ends, so that the store and ListJobs do not grow without bound.
  static absl::StatusOr<std::unique_ptr<JobTracker>> Load(
      Repository* repository, int64_t max_finished_jobs = kDefaultMaxFinishedJobs);
  static constexpr int64_t kDefaultMaxFinishedJobs = 10000;

  JobTracker(const JobTracker&) = delete;
  JobTracker& operator=(const JobTracker&) = delete;

  // Oldest first.
  const std::vector<std::string>& recovered_queued_job_ids() const {
    return recovered_queued_job_ids_;
  }

  // Stores a new job.
  absl::Status Add(const v1::Job& job);
  // Forgets a job that was never admitted (e.g. the queue was full).
  absl::Status Remove(const std::string& job_id);
  // NOT_FOUND `job 'x' not found` for an unknown id.
  absl::StatusOr<v1::Job> Get(const std::string& job_id) const;
  // Oldest first.
  std::vector<v1::Job> List(const JobFilter& filter = {}) const;

  // Applies `mutate` to the job and wakes its watchers. With `persist`, the
  // new state is saved before watchers see it; if the save fails, the error
  // is returned and the job keeps its old state, unless the new state is
  // terminal: a job that ended is seen to end (and the error returned), and
  // a restart settles its stored row. `mutate` runs under the tracker's
  // lock, so updates from the worker and from CancelJob never overwrite each
  // other.
  absl::Status Update(const std::string& job_id, const std::function<void(v1::Job&)>& mutate,
                      bool persist);
  // Like Update(), but only if the job is still in `expected` state;
  // FAILED_PRECONDITION otherwise (e.g. a QUEUED job cancelled before a
  // worker could start it).
  absl::Status UpdateIf(const std::string& job_id, v1::JobState expected,
                        const std::function<void(v1::Job&)>& mutate, bool persist);

  // CancelJob: a QUEUED job becomes CANCELLED (saved) at once; a RUNNING job
  // gets cancel_requested, which its worker polls at every cancellation
  // point. FAILED_PRECONDITION for a job that already ended. Returns the job
  // as it is after the request.
  absl::StatusOr<v1::Job> RequestCancel(const std::string& job_id);
  // Whether CancelJob asked the job to stop (false for unknown jobs).
  bool IsCancelRequested(const std::string& job_id) const;

  struct Snapshot {
    v1::Job job;
    int64_t revision = 0;  // increases with every Update() of this job
    bool shutting_down = false;
  };
  // Returns the job as soon as its revision exceeds `after_revision`, or its
  // current state once `timeout` passes or Shutdown() is called (callers
  // compare revisions to tell which).
  absl::StatusOr<Snapshot> WaitForChange(const std::string& job_id, int64_t after_revision,
                                         absl::Duration timeout) const;

  // Releases every waiter; later waits return at once.
  void Shutdown();

 private:
  JobTracker(Repository* repository, int64_t max_finished_jobs)
      : repository_(repository), max_finished_jobs_(max_finished_jobs) {}

  absl::Status UpdateLocked(const std::string& job_id, std::optional<v1::JobState> expected,
                            const std::function<void(v1::Job&)>& mutate, bool persist)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the finished jobs beyond max_finished_jobs_, those that finished
  // first, never `keep_id` (the job that just ended).
  void PruneFinishedLocked(const std::string& keep_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Entry {
    v1::Job job;
    int64_t revision = 1;
    // Creation order: loaded jobs in the repository's order (creation time,
    // then insertion), then each Add. It orders jobs created in the same
    // millisecond, which their ids (random) do not.
    int64_t sequence = 0;
  };

  Repository* const repository_;
  const int64_t max_finished_jobs_;
  std::vector<std::string> recovered_queued_job_ids_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry, std::less<>> jobs_ ABSL_GUARDED_BY(mu_);
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_JOBS_JOB_TRACKER_H_
