#ifndef QUANTD_SERVER_SERVING_MODEL_RUNNER_H_
#define QUANTD_SERVER_SERVING_MODEL_RUNNER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/runtime/inference_session.h"
#include "engine/tensor.h"
#include "quantd/v1/quantd.pb.h"
#include "server/serving/infer_scheduler.h"
#include "server/serving/session_cache.h"
#include "server/storage/repository.h"

namespace quantd::server {

// Runs inference on stored model versions for both gRPC APIs (quantd.v1
// Infer and KServe ModelInfer): loads the version's session once (then the
// cache has it) and runs each call through the one InferScheduler, so calls
// of the two APIs merge with each other and share the executors.
class ModelRunner {
 public:
  // `idle_memory` caps the activation buffers the sessions it loads keep
  // between runs (null: uncapped).
  ModelRunner(const Repository* repository, SessionCache* sessions, InferScheduler* scheduler,
              std::shared_ptr<engine::IdleMemoryBudget> idle_memory = nullptr)
      : repository_(repository),
        sessions_(sessions),
        scheduler_(scheduler),
        idle_memory_(std::move(idle_memory)) {}

  // The version's session, loaded into the cache if it is not there.
  absl::StatusOr<std::shared_ptr<engine::InferenceSession>> Session(
      const std::string& model_id, const v1::ModelVersion& version);

  // Runs `inputs` (the model's graph inputs, matched by name) on the version.
  // Errors as InferScheduler::Run; `timing` gets the queue and run times.
  absl::StatusOr<std::vector<engine::Tensor>> Run(const std::string& model_id,
                                                  const v1::ModelVersion& version,
                                                  std::vector<engine::Tensor> inputs,
                                                  absl::Time deadline,
                                                  InferScheduler::Timing* timing);

  const InferScheduler& scheduler() const { return *scheduler_; }

 private:
  const Repository* const repository_;
  SessionCache* const sessions_;
  InferScheduler* const scheduler_;
  const std::shared_ptr<engine::IdleMemoryBudget> idle_memory_;
};

// Runs `infer`, which chooses a version and runs it. When the version was
// chosen by default (the newest), a DeleteVersion can remove it between the
// choice and the loading of its session; `infer` then answers NOT_FOUND for a
// version the client never named, so it is run again, choosing anew (a few
// times at most). A version the client named is not chosen again.
absl::Status ChooseAgainIfDeleted(bool default_version, const std::function<absl::Status()>& infer);

}  // namespace quantd::server

#endif  // QUANTD_SERVER_SERVING_MODEL_RUNNER_H_
