#ifndef QUANTD_TESTS_PROMTOOL_FINDINGS_H_
#define QUANTD_TESTS_PROMTOOL_FINDINGS_H_

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace quantd::testing {

// The lines of `promtool check metrics` output that are real findings.
// Triton fixed its counters' names ("_us", "_count", no "_total"), and
// dashboards made for Triton query those names: naming lints of the
// nv_inference_* families are the one finding allowed.
inline std::vector<std::string> UnexpectedPromtoolFindings(const std::string& output) {
  static const std::regex kTritonNaming("nv_inference_[a-z_]+ .*(suffix|abbreviated units)");
  std::vector<std::string> findings;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && !std::regex_match(line, kTritonNaming)) findings.push_back(line);
  }
  return findings;
}

}  // namespace quantd::testing

#endif  // QUANTD_TESTS_PROMTOOL_FINDINGS_H_
