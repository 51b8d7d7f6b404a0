#ifndef QUANTD_CLIENT_COMMANDS_H_
#define QUANTD_CLIENT_COMMANDS_H_

#include <memory>
#include <string>
#include <vector>

#include "client/client_options.h"
#include "grpcpp/channel.h"
#include "quantd/v1/quantd.grpc.pb.h"

namespace quantd::client {

// What every subcommand gets: parsed flags, positional arguments after the
// subcommand name, and a stub connected to --server.
struct CommandContext {
  const ClientOptions& options;
  std::vector<std::string> args;
  v1::Quantd::Stub& stub;
};

// A channel to --server that sends --token_file's token with every call.
std::shared_ptr<grpc::Channel> OpenChannel(const ClientOptions& options);

// Applies --timeout to a unary call.
void SetUnaryDeadline(grpc::ClientContext& context, const ClientOptions& options);

// model_commands.cc
int UploadModelCommand(const CommandContext& ctx);
int ListModelsCommand(const CommandContext& ctx);
int GetModelCommand(const CommandContext& ctx);
int DeleteModelCommand(const CommandContext& ctx);
int DeleteVersionCommand(const CommandContext& ctx);

// download_command.cc
int DownloadCommand(const CommandContext& ctx);

// dataset_commands.cc
int UploadDatasetCommand(const CommandContext& ctx);
int ListDatasetsCommand(const CommandContext& ctx);
int GetDatasetCommand(const CommandContext& ctx);
int DeleteDatasetCommand(const CommandContext& ctx);

// job_commands.cc
int QuantizeCommand(const CommandContext& ctx);
int GetJobCommand(const CommandContext& ctx);
int WatchJobCommand(const CommandContext& ctx);
int ListJobsCommand(const CommandContext& ctx);
int CancelJobCommand(const CommandContext& ctx);

// infer_commands.cc
int InferCommand(const CommandContext& ctx);

// evaluate_commands.cc
int EvaluateCommand(const CommandContext& ctx);
int CompareCommand(const CommandContext& ctx);

// Local, no server involved: prints the lowercase hex SHA-256 of each file.
int Sha256Command(const std::vector<std::string>& files);

// access_commands.cc
// Local: writes a new token for ROLE to `token_out` (mode 0600, never over an
// existing file) and prints the line to add to the server's --token_file.
int NewTokenCommand(const std::vector<std::string>& args, const std::string& token_out);
// KServe ServerReady, which needs no token: the Docker health check.
int HealthCommand(grpc::Channel& channel, const ClientOptions& options);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_COMMANDS_H_
