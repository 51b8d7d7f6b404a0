// TLS and mTLS on the gRPC port, with certificates made at test time by the
// openssl command-line tool: a test CA, a server certificate for 127.0.0.1,
// and client certificates from that CA and from a stranger's.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/server_process.h"
#include "tests/e2e/subprocess.h"

namespace quantd::e2e {
namespace {

using ::testing::HasSubstr;

class TlsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("quantd-tls-e2e-" + std::to_string(getpid())));
    std::filesystem::create_directories(*dir_);
    std::ofstream(Path("server.ext")) << "subjectAltName=IP:127.0.0.1\n";
    std::ofstream(Path("client.ext")) << "extendedKeyUsage=clientAuth\n";
    MakeCa("ca");
    MakeCa("stranger");
    MakeCertificate("server", "ca", "server.ext");
    MakeCertificate("client", "ca", "client.ext");
    MakeCertificate("impostor", "stranger", "client.ext");
  }

  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }

  static void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    const ProgramResult result = RunProgram(args);
    ASSERT_EQ(result.exit_code, 0) << "openssl " << args[1] << ": " << result.err;
  }

  static void MakeCa(const std::string& name) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", Path(name + ".key"), "-out", Path(name + ".pem"), "-days", "2", "-subj",
             "/CN=quantd test " + name});
  }

  static void MakeCertificate(const std::string& name, const std::string& ca,
                              const std::string& extensions) {
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", Path(name + ".key"), "-out", Path(name + ".csr"), "-subj",
             "/CN=127.0.0.1"});
    Openssl({"x509", "-req", "-in", Path(name + ".csr"), "-CA", Path(ca + ".pem"), "-CAkey",
             Path(ca + ".key"), "-CAcreateserial", "-out", Path(name + ".pem"), "-days", "2",
             "-extfile", Path(extensions)});
  }

  std::vector<std::string> TlsFlags() const {
    return {"--tls_cert=" + Path("server.pem"), "--tls_key=" + Path("server.key")};
  }

  static ProgramResult Health(const ServerProcess& server, std::vector<std::string> flags) {
    flags.insert(flags.begin(),
                 {QUANTCTL_BINARY, "health", "--server=" + server.address(), "--timeout=10"});
    return RunProgram(flags);
  }

  static std::filesystem::path* dir_;
};

std::filesystem::path* TlsE2eTest::dir_ = nullptr;

TEST_F(TlsE2eTest, TlsServesClientsThatTrustItsCaOnly) {
  auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, TlsFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  const ProgramResult trusted = Health(**server, {"--tls_ca=" + Path("ca.pem")});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_EQ(trusted.out, "ready\n");
  // A client that does not speak TLS, or does not trust the server's CA.
  const ProgramResult plaintext = Health(**server, {});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_THAT(plaintext.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(Health(**server, {"--tls_ca=" + Path("stranger.pem")}).exit_code, 1);
}

TEST_F(TlsE2eTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--tls_client_ca=" + Path("ca.pem"));
  auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, flags);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string ca = "--tls_ca=" + Path("ca.pem");
  EXPECT_EQ(Health(**server, {ca}).exit_code, 1);
  const ProgramResult client =
      Health(**server, {ca, "--tls_cert=" + Path("client.pem"), "--tls_key=" + Path("client.key")});
  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_EQ(Health(**server,
                   {ca, "--tls_cert=" + Path("impostor.pem"), "--tls_key=" + Path("impostor.key")})
                .exit_code,
            1);
}

TEST_F(TlsE2eTest, TokensTravelInsideTls) {
  const ProgramResult made =
      RunProgram({QUANTCTL_BINARY, "new-token", "read", "--token_out=" + Path("read.token")});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::ofstream(Path("tokens")) << made.out;
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--token_file=" + Path("tokens"));
  auto server = ServerProcess::Start(QUANTD_SERVER_BINARY, flags);
  ASSERT_TRUE(server.ok()) << server.status();
  const ProgramResult listed =
      RunProgram({QUANTCTL_BINARY, "list-models", "--server=" + (*server)->address(),
                  "--tls_ca=" + Path("ca.pem"), "--token_file=" + Path("read.token")});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  const ProgramResult anonymous =
      RunProgram({QUANTCTL_BINARY, "list-models", "--server=" + (*server)->address(),
                  "--tls_ca=" + Path("ca.pem")});
  EXPECT_THAT(anonymous.err, HasSubstr("UNAUTHENTICATED"));
}

TEST_F(TlsE2eTest, IncompleteTlsFlagsStopTheStart) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--tls_cert=" + Path("server.pem")},
        std::vector<std::string>{"--tls_client_ca=" + Path("ca.pem")},
        std::vector<std::string>{"--tls_cert=" + Path("server.pem"),
                                 "--tls_key=" + Path("no-such.key")}}) {
    EXPECT_FALSE(ServerProcess::Start(QUANTD_SERVER_BINARY, flags).ok()) << flags[0];
  }
}

}  // namespace
}  // namespace quantd::e2e
