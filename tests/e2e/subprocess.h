#ifndef QUANTD_TESTS_E2E_SUBPROCESS_H_
#define QUANTD_TESTS_E2E_SUBPROCESS_H_

// Runs a program to completion and captures what it printed.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace quantd::e2e {

struct ProgramResult {
  int exit_code = -1;  // -1 when the program did not exit normally
  std::string out;
  std::string err;
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// `args[0]` is the program's path. `stdin_file`, if set, becomes its stdin.
inline ProgramResult RunProgram(std::vector<std::string> args, const std::string& stdin_file = "") {
  ProgramResult result;
  const auto dir = std::filesystem::temp_directory_path();
  std::string out_path = (dir / "quantd-e2e-out-XXXXXX").string();
  std::string err_path = (dir / "quantd-e2e-err-XXXXXX").string();
  const int out_fd = mkstemp(out_path.data());
  const int err_fd = mkstemp(err_path.data());
  if (out_fd < 0 || err_fd < 0) return result;

  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    if (!stdin_file.empty()) {
      const int in_fd = open(stdin_file.c_str(), O_RDONLY);
      if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    }
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    std::perror("execv");
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  result.out = ReadWholeFile(out_path);
  result.err = ReadWholeFile(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

}  // namespace quantd::e2e

#endif  // QUANTD_TESTS_E2E_SUBPROCESS_H_
