#ifndef QUANTD_SERVER_JOBS_ETA_ESTIMATOR_H_
#define QUANTD_SERVER_JOBS_ETA_ESTIMATOR_H_

#include <optional>
#include <string>

#include "absl/time/time.h"

namespace quantd::server {

// Estimates how long a running job still needs from the progress rate of its
// current phase. Phases run at very different speeds (calibration observes
// every activation, evaluation only runs the plan), so the rate is measured
// afresh in each phase rather than over the whole job.
class EtaEstimator {
 public:
  // Records that at `now` the job is in `phase` at overall `progress` (a
  // fraction of the whole job) and returns the seconds it still needs, or
  // nullopt while the current phase has not run long enough to tell.
  std::optional<double> Update(const std::string& phase, double progress, absl::Time now);

 private:
  // A rate measured over less time than this is mostly noise.
  static constexpr absl::Duration kMinObservation = absl::Milliseconds(300);

  std::string phase_;
  double phase_start_progress_ = 0;
  absl::Time phase_start_ = absl::InfinitePast();
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_JOBS_ETA_ESTIMATOR_H_
