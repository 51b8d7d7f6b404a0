#ifndef QUANTD_ENGINE_RUNTIME_SESSION_FACTORY_H_
#define QUANTD_ENGINE_RUNTIME_SESSION_FACTORY_H_

// Creating an InferenceSession from an already imported graph: what
// InferenceSession::Create does after import and passes, exposed for tests and
// tools that build or rewrite graphs themselves. Free of oneDNN headers.

#include <memory>

#include "absl/status/statusor.h"
#include "engine/graph/graph.h"
#include "engine/graph/model_summary.h"
#include "engine/runtime/inference_session.h"

namespace quantd::engine {

// `graph` must already have gone through RunStandardPasses (or be built in
// that form). Compiles a Plan for batch 1 right away, so unsupported
// operators and bad attributes are reported here rather than at first Run().
absl::StatusOr<std::unique_ptr<InferenceSession>> CreateSessionFromGraph(
    Graph graph, ModelSummary summary, const SessionOptions& options);

// Same, with a summary derived from `graph`.
absl::StatusOr<std::unique_ptr<InferenceSession>> CreateSessionFromGraph(
    Graph graph, const SessionOptions& options);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_SESSION_FACTORY_H_
