#include <chrono>

#include "client/commands.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace quantd::client {

std::unique_ptr<v1::Quantd::Stub> ConnectToServer(const std::string& address) {
  return v1::Quantd::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

void SetUnaryDeadline(grpc::ClientContext& context, const ClientOptions& options) {
  if (options.timeout_seconds > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(options.timeout_seconds));
  }
}

}  // namespace quantd::client
