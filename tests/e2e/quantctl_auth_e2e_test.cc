// Bearer tokens end to end: quantctl new-token makes them, quantd started
// with their digests enforces roles, quantctl --token_file sends them, and
// the health check needs none.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/sha256.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/subprocess.h"

namespace quantd::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class QuantctlAuthE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("quantd-auth-e2e-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream tokens(dir_ / "tokens");
    for (const char* role : {"admin", "infer"}) {
      const ProgramResult made = RunProgram(
          {QUANTCTL_BINARY, "new-token", role, "tester", "--token_out=" + TokenPath(role)});
      ASSERT_EQ(made.exit_code, 0) << made.err;
      tokens << made.out;
    }
    tokens.close();
    auto server =
        ServerProcess::Start(QUANTD_SERVER_BINARY, {"--token_file=" + (dir_ / "tokens").string()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string TokenPath(const std::string& role) const {
    return (dir_ / (role + ".token")).string();
  }

  ProgramResult Quantctl(std::vector<std::string> args) {
    args.insert(args.begin(), QUANTCTL_BINARY);
    args.push_back("--server=" + server_->address());
    return RunProgram(args);
  }

  std::filesystem::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(QuantctlAuthE2eTest, NewTokenWritesAPrivateTokenAndPrintsItsDigestLine) {
  const std::string path = TokenPath("admin");
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  std::string token;
  std::ifstream(path) >> token;
  EXPECT_THAT(token, MatchesRegex("[0-9a-f]{64}"));
  const std::string tokens = ReadWholeFile((dir_ / "tokens").string());
  EXPECT_THAT(tokens, HasSubstr(Sha256Hex(token) + " admin tester\n"));
  EXPECT_THAT(tokens, Not(HasSubstr(token + " ")));  // the token itself is not in the file
  // Never over an existing token file, and only known roles.
  EXPECT_EQ(RunProgram({QUANTCTL_BINARY, "new-token", "admin", "--token_out=" + path}).exit_code,
            1);
  EXPECT_EQ(
      RunProgram({QUANTCTL_BINARY, "new-token", "root", "--token_out=" + (dir_ / "x").string()})
          .exit_code,
      2);
}

TEST_F(QuantctlAuthE2eTest, CallsNeedATokenWhoseRoleAllowsThem) {
  const ProgramResult anonymous = Quantctl({"list-models"});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));

  const ProgramResult admin = Quantctl({"list-models", "--token_file=" + TokenPath("admin")});
  EXPECT_EQ(admin.exit_code, 0) << admin.err;

  const ProgramResult infer =
      Quantctl({"delete-model", "mdl_x", "--token_file=" + TokenPath("infer")});
  EXPECT_EQ(infer.exit_code, 1);
  EXPECT_THAT(infer.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(infer.err, HasSubstr("role 'infer' may not delete"));

  const ProgramResult health = Quantctl({"health"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "ready\n");
}

// A token is revoked or added by editing the token file and sending SIGHUP:
// no restart. A file that cannot be parsed keeps the tokens in use.
TEST_F(QuantctlAuthE2eTest, SighupReloadsTheTokenFile) {
  const std::string admin = "--token_file=" + TokenPath("admin");
  const std::string infer = "--token_file=" + TokenPath("infer");
  const std::string tokens = ReadWholeFile((dir_ / "tokens").string());
  const std::string infer_line = tokens.substr(tokens.find('\n') + 1);
  ASSERT_THAT(infer_line, HasSubstr(" infer tester"));

  // Polls: the server applies the file when it handles the signal.
  auto list_models_until = [&](const std::string& token_flag, int exit_code) {
    ProgramResult result;
    for (int attempt = 0; attempt < 100; ++attempt) {
      result = Quantctl({"list-models", token_flag});
      if (result.exit_code == exit_code) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return result;
  };

  std::ofstream(dir_ / "tokens") << infer_line;  // the admin token revoked
  server_->Signal(SIGHUP);
  const ProgramResult revoked = list_models_until(admin, 1);
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_THAT(revoked.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(Quantctl({"list-models", infer}).exit_code, 0);

  std::ofstream(dir_ / "tokens") << "not a token line\n";
  server_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Quantctl({"list-models", infer}).exit_code, 0);  // kept

  std::ofstream(dir_ / "tokens") << tokens;  // the admin token back
  server_->Signal(SIGHUP);
  EXPECT_EQ(list_models_until(admin, 0).exit_code, 0);
}

}  // namespace
}  // namespace quantd::e2e
