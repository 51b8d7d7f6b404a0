#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "client/commands.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

namespace quantd::client {
namespace {

// Sends `authorization: Bearer <token>` with every call. An interceptor,
// because gRPC sends call credentials only over TLS channels.
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(const std::string* header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* const header_;
};

class BearerTokenFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(const std::string& token) : header_("Bearer " + token) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

// TLS when --tls_ca is given (mTLS with --tls_cert/--tls_key), else plaintext.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientOptions& options) {
  if (options.tls_ca.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = options.tls_ca;
  tls.pem_cert_chain = options.tls_cert;
  tls.pem_private_key = options.tls_key;
  return grpc::SslCredentials(tls);
}

}  // namespace

std::shared_ptr<grpc::Channel> OpenChannel(const ClientOptions& options) {
  if (options.token.empty()) {
    return grpc::CreateChannel(options.server, ChannelCredentials(options));
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<BearerTokenFactory>(options.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      options.server, ChannelCredentials(options), grpc::ChannelArguments(), std::move(factories));
}

void SetUnaryDeadline(grpc::ClientContext& context, const ClientOptions& options) {
  if (options.timeout_seconds > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(options.timeout_seconds));
  }
}

}  // namespace quantd::client
