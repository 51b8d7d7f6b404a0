#include "engine/runtime/int8_coverage.h"

namespace quantd::engine {

int64_t Int8Coverage::total_macs() const {
  int64_t total = 0;
  for (const NodeExecution& node : nodes) total += node.macs;
  return total;
}

int64_t Int8Coverage::int8_macs() const {
  int64_t total = 0;
  for (const NodeExecution& node : nodes) total += node.int8 ? node.macs : 0;
  return total;
}

int Int8Coverage::int8_nodes() const {
  int count = 0;
  for (const NodeExecution& node : nodes) count += node.int8 ? 1 : 0;
  return count;
}

double Int8Coverage::mac_share() const {
  const int64_t total = total_macs();
  return total == 0 ? 1.0 : static_cast<double>(int8_macs()) / static_cast<double>(total);
}

}  // namespace quantd::engine
