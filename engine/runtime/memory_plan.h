#ifndef QUANTD_ENGINE_RUNTIME_MEMORY_PLAN_H_
#define QUANTD_ENGINE_RUNTIME_MEMORY_PLAN_H_

#include "engine/runtime/plan.h"

namespace quantd::engine {

// Fills plan.storage_of_buffer and plan.storage_sizes: activation buffers
// whose lifetimes (first to last step touching them, counting the input copy,
// observation and output reads) do not overlap share a storage block, so an
// ExecutionContext holds about the largest few activations rather than all.
void AssignStorage(Plan& plan);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_RUNTIME_MEMORY_PLAN_H_
