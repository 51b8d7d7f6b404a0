#include "server/serving/model_runner.h"

#include <utility>

#include "server/serving/session_loader.h"

namespace quantd::server {

absl::StatusOr<std::shared_ptr<engine::InferenceSession>> ModelRunner::Session(
    const std::string& model_id, const v1::ModelVersion& version) {
  return sessions_->GetOrLoad(model_id, version.version(), [&] {
    return LoadModelVersion(*repository_, model_id, version, idle_memory_);
  });
}

absl::StatusOr<std::vector<engine::Tensor>> ModelRunner::Run(const std::string& model_id,
                                                             const v1::ModelVersion& version,
                                                             std::vector<engine::Tensor> inputs,
                                                             absl::Time deadline,
                                                             InferScheduler::Timing* timing) {
  absl::StatusOr<std::shared_ptr<engine::InferenceSession>> session = Session(model_id, version);
  if (!session.ok()) return session.status();
  return scheduler_->Run(*std::move(session), std::move(inputs), deadline, timing);
}

absl::Status ChooseAgainIfDeleted(bool default_version,
                                  const std::function<absl::Status()>& infer) {
  constexpr int kAttempts = 3;
  absl::Status status;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    status = infer();
    if (!default_version || !absl::IsNotFound(status)) break;
  }
  return status;
}

}  // namespace quantd::server
