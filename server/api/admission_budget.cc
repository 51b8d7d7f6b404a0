#include "server/api/admission_budget.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace quantd::server {

AdmissionBudget::Taken::~Taken() {
  if (budget_ != nullptr) budget_->Give(amount_);
}

absl::StatusOr<AdmissionBudget::Taken> AdmissionBudget::Take(int64_t amount) {
  absl::MutexLock lock(&mu_);
  if (amount > capacity_ - in_use_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what_, ": ", amount, " more would exceed ", flag_, " (", capacity_,
                     ", of which ", in_use_, " held by calls in progress); try again later",
                     amount > 1 ? " or send less in one call" : ""));
  }
  in_use_ += amount;
  return Taken(this, amount);
}

int64_t AdmissionBudget::in_use() const {
  absl::MutexLock lock(&mu_);
  return in_use_;
}

void AdmissionBudget::Give(int64_t amount) {
  absl::MutexLock lock(&mu_);
  in_use_ -= amount;
}

}  // namespace quantd::server
