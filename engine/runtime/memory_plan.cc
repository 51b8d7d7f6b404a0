#include "engine/runtime/memory_plan.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace quantd::engine {

void AssignStorage(Plan& plan) {
  const int n = static_cast<int>(plan.buffers.size());
  const int never = std::numeric_limits<int>::max();
  auto root = [&](int b) {
    while (plan.buffers[b].alias_of >= 0) b = plan.buffers[b].alias_of;
    return b;
  };
  std::vector<int> first(n, never), last(n, -1);
  auto touch = [&](int b, int step) {
    b = root(b);
    first[b] = std::min(first[b], step);
    last[b] = std::max(last[b], step);
  };
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    for (const auto& [arg, buffer] : plan.steps[i].args) touch(buffer, static_cast<int>(i));
  }
  for (const PlanInput& input : plan.inputs) touch(input.buffer, -1);  // filled before step 0
  for (const ObservedValue& value : plan.observed) touch(value.buffer, value.after_step - 1);
  for (const PlanOutput& output : plan.outputs) touch(output.buffer, never - 1);

  std::vector<int> order;
  for (int b = 0; b < n; ++b) {
    if (plan.buffers[b].alias_of < 0 && !plan.buffers[b].constant) order.push_back(b);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return first[a] < first[b]; });
  plan.storage_of_buffer.assign(n, -1);
  std::vector<int> storage_free_after;  // last step using each block
  for (int b : order) {
    const size_t size = plan.buffers[b].desc.get_size();
    int chosen = -1;
    for (size_t s = 0; s < storage_free_after.size(); ++s) {
      if (storage_free_after[s] < first[b] &&
          (chosen < 0 || (plan.storage_sizes[s] >= size) > (plan.storage_sizes[chosen] >= size))) {
        chosen = static_cast<int>(s);
      }
    }
    if (chosen < 0) {
      chosen = static_cast<int>(plan.storage_sizes.size());
      plan.storage_sizes.push_back(0);
      storage_free_after.push_back(-1);
    }
    plan.storage_sizes[chosen] = std::max(plan.storage_sizes[chosen], size);
    // A buffer no step touches still gets storage, kept for the whole run.
    storage_free_after[chosen] = first[b] == never ? never : last[b];
    plan.storage_of_buffer[b] = chosen;
  }
}

}  // namespace quantd::engine
