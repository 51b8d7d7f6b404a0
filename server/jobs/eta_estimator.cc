#include "server/jobs/eta_estimator.h"

#include <algorithm>

namespace quantd::server {

std::optional<double> EtaEstimator::Update(const std::string& phase, double progress,
                                           absl::Time now) {
  if (phase != phase_) {
    phase_ = phase;
    phase_start_progress_ = progress;
    phase_start_ = now;
    return std::nullopt;
  }
  const absl::Duration elapsed = now - phase_start_;
  const double advanced = progress - phase_start_progress_;
  if (elapsed < kMinObservation || advanced <= 0) return std::nullopt;
  const double seconds_per_unit = absl::ToDoubleSeconds(elapsed) / advanced;
  return std::max(0.0, (1.0 - progress) * seconds_per_unit);
}

}  // namespace quantd::server
