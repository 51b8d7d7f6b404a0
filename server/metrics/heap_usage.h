#ifndef QUANTD_SERVER_METRICS_HEAP_USAGE_H_
#define QUANTD_SERVER_METRICS_HEAP_USAGE_H_

#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace quantd::server {

// quantd_heap_bytes{state="in_use"|"free"}: what glibc's malloc holds, read
// at each scrape (mallinfo2). RSS alone cannot tell live memory from memory
// malloc keeps for reuse after it was freed; quantd asks malloc to keep large
// blocks (common/large_allocations.h), so the second can be large.
class HeapUsage final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace quantd::server

#endif  // QUANTD_SERVER_METRICS_HEAP_USAGE_H_
