#ifndef QUANTD_TESTS_E2E_SERVER_PROCESS_H_
#define QUANTD_TESTS_E2E_SERVER_PROCESS_H_

// A real `quantd` binary running as a child process on ephemeral loopback
// ports with its own temporary data directory.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace quantd::e2e {

class ServerProcess {
 public:
  // Starts `binary` with --listen/--metrics_listen on 127.0.0.1:0, one worker
  // and `extra_flags`, and waits for its "quantd listening on ..." line. The
  // data directory is `data_dir`, kept afterwards, or else a fresh temporary
  // one removed with the process object.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& binary, const std::vector<std::string>& extra_flags = {},
      const std::string& data_dir = "") {
    auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
    if (data_dir.empty()) {
      std::string dir_template =
          (std::filesystem::temp_directory_path() / "quantd-e2e-XXXXXX").string();
      if (mkdtemp(dir_template.data()) == nullptr) {
        return absl::InternalError("mkdtemp failed for the server's data directory");
      }
      server->data_dir_ = dir_template;
      server->owns_data_dir_ = true;
    } else {
      server->data_dir_ = data_dir;
    }

    std::vector<std::string> args = {binary, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                                     absl::StrCat("--data_dir=", server->data_dir_), "--workers=1"};
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    // Tests of authentication pass a --token_file; the others need none.
    const bool has_tokens = std::any_of(extra_flags.begin(), extra_flags.end(), [](const auto& f) {
      return f.rfind("--token_file=", 0) == 0;
    });
    if (!has_tokens) args.push_back("--insecure_no_auth");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      dup2(out[1], STDOUT_FILENO);
      execv(argv[0], argv.data());
      std::perror("execv quantd");
      _exit(127);
    }
    close(out[1]);
    server->pid_ = pid;
    server->stdout_fd_ = out[0];

    std::string line;
    if (!server->ReadFirstLine(line, std::chrono::seconds(30))) {
      return absl::DeadlineExceededError(absl::StrCat(
          "quantd printed no 'quantd listening on' line within 30 s; got: '", line, "'"));
    }
    static const std::regex kListening(
        R"(quantd listening on ([0-9.]+):(\d+), metrics on ([0-9.]+):(\d+))");
    std::smatch match;
    if (!std::regex_search(line, match, kListening)) {
      return absl::InternalError(absl::StrCat("unexpected first line from quantd: '", line, "'"));
    }
    server->grpc_port_ = std::stoi(match[2]);
    server->metrics_port_ = std::stoi(match[4]);
    // Keep the pipe drained so later stdout output never blocks the server.
    server->drain_ = std::thread([fd = server->stdout_fd_] {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        if (write(STDERR_FILENO, buffer, static_cast<size_t>(n)) < 0) break;
      }
    });
    return server;
  }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  ~ServerProcess() {
    Stop();
    std::error_code ignored;
    if (owns_data_dir_) std::filesystem::remove_all(data_dir_, ignored);
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  int metrics_port() const { return metrics_port_; }
  const std::string& data_dir() const { return data_dir_; }

  // Sends `signal` (e.g. SIGHUP) to the running server.
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }

  // SIGKILL at once, as a crash or the OOM killer would: no shutdown code
  // runs. Returns the wait status (-1 if the server was already stopped).
  int Kill() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGKILL);
    int status = -1;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (drain_.joinable()) drain_.join();
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
    return status;
  }

  // SIGTERM, up to `grace` for a clean exit, then SIGKILL. Returns the exit
  // status as waitpid reports it (-1 if the server was already stopped).
  int Stop(std::chrono::seconds grace = std::chrono::seconds(15)) {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = -1;
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    if (drain_.joinable()) drain_.join();
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
    return status;
  }

 private:
  ServerProcess() = default;

  bool ReadFirstLine(std::string& line, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd fd{stdout_fd_, POLLIN, 0};
      if (poll(&fd, 1, 100) <= 0) continue;
      char c;
      const ssize_t n = read(stdout_fd_, &c, 1);
      if (n <= 0) return false;  // the server exited
      if (c == '\n') return true;
      line.push_back(c);
    }
    return false;
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::string data_dir_;
  bool owns_data_dir_ = false;
  std::thread drain_;
};

}  // namespace quantd::e2e

#endif  // QUANTD_TESTS_E2E_SERVER_PROCESS_H_
