#ifndef QUANTD_SERVER_API_ADMISSION_BUDGET_H_
#define QUANTD_SERVER_API_ADMISSION_BUDGET_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace quantd::server {

// A process-wide allowance that calls take from while they run and give
// back when they end: concurrent uploads, concurrent downloads, bytes of
// Infer requests in flight. A call that would overdraw it is refused at once
// with RESOURCE_EXHAUSTED naming the limit and its flag, rather than waiting
// or letting memory grow with the number of clients.
class AdmissionBudget {
 public:
  // `what` names what is counted in messages ("concurrent uploads", "Infer
  // request bytes"), `flag` the flag that sets `capacity`.
  AdmissionBudget(int64_t capacity, std::string what, std::string flag)
      : capacity_(capacity), what_(std::move(what)), flag_(std::move(flag)) {}
  AdmissionBudget(const AdmissionBudget&) = delete;
  AdmissionBudget& operator=(const AdmissionBudget&) = delete;

  // What a call holds; given back when it is destroyed.
  class Taken {
   public:
    Taken(Taken&& other) noexcept : budget_(other.budget_), amount_(other.amount_) {
      other.budget_ = nullptr;
    }
    Taken& operator=(Taken&&) = delete;
    ~Taken();

   private:
    friend class AdmissionBudget;
    Taken(AdmissionBudget* budget, int64_t amount) : budget_(budget), amount_(amount) {}
    AdmissionBudget* budget_;
    int64_t amount_;
  };

  // Takes `amount` (>= 0), or RESOURCE_EXHAUSTED if that would exceed the
  // capacity. A single call larger than the whole capacity is refused too.
  absl::StatusOr<Taken> Take(int64_t amount = 1);

  int64_t in_use() const;
  int64_t capacity() const { return capacity_; }

 private:
  void Give(int64_t amount);

  const int64_t capacity_;
  const std::string what_;
  const std::string flag_;
  mutable absl::Mutex mu_;
  int64_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_API_ADMISSION_BUDGET_H_
