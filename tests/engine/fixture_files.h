#ifndef QUANTD_TESTS_ENGINE_FIXTURE_FILES_H_
#define QUANTD_TESTS_ENGINE_FIXTURE_FILES_H_

#include <fstream>
#include <sstream>
#include <string>

namespace quantd::engine {

// The bytes of fixtures/<name> in the source tree, or "" if it is missing.
inline std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(QUANTD_SOURCE_DIR) + "/fixtures/" + name, std::ios::binary);
  if (!in) return "";
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace quantd::engine

#endif  // QUANTD_TESTS_ENGINE_FIXTURE_FILES_H_
