#include "server/metrics/heap_usage.h"

#include <malloc.h>

namespace quantd::server {

std::vector<prometheus::MetricFamily> HeapUsage::Collect() const {
  const struct mallinfo2 info = mallinfo2();
  prometheus::MetricFamily family;
  family.name = "quantd_heap_bytes";
  family.help =
      "Bytes of glibc malloc's heap: in_use by live allocations (including blocks mapped on "
      "their own), free: released by quantd but kept by malloc for reuse";
  family.type = prometheus::MetricType::Gauge;
  for (const auto& [state, bytes] :
       {std::pair{"in_use", info.uordblks + info.hblkhd}, std::pair{"free", info.fordblks}}) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"state", state});
    metric.gauge.value = static_cast<double>(bytes);
    family.metric.push_back(std::move(metric));
  }
  return {family};
}

}  // namespace quantd::server
