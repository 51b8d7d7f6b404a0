#include "server/api/access_control.h"

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/access_tokens.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "inference/grpc_service.grpc.pb.h"
#include "tests/server/in_process_server.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

using ::testing::HasSubstr;

std::filesystem::path WriteFile(const testing::TempDir& dir, const std::string& text) {
  const std::filesystem::path path = dir.path() / "tokens";
  std::ofstream(path) << text;
  return path;
}

TEST(AccessControlTest, TokenFileLinesAreCheckedAndNamed) {
  testing::TempDir dir;
  const std::string digest(64, 'a');
  const struct {
    std::string text;
    std::string message;
  } bad[] = {
      {"", "holds no token"},
      {"# only a comment\n\n", "holds no token"},
      {digest + "\n", "line 1: expected"},
      {"# ok\n" + digest + " admin ops\n" + digest + " root\n", "line 3: unknown role 'root'"},
      {std::string(63, 'a') + " read\n", "line 1: expected"},
      {std::string(64, 'A') + " read\n", "line 1: expected"},  // digests are lowercase
      {digest + " read a b\n", "line 1: expected"},
  };
  for (const auto& [text, message] : bad) {
    const auto access = AccessControl::FromTokenFile(WriteFile(dir, text));
    EXPECT_EQ(access.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(access.status().message(), HasSubstr(message)) << text;
  }
  EXPECT_EQ(AccessControl::FromTokenFile(dir.path() / "missing").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(AccessControl::FromTokenFile(WriteFile(dir, digest + "\tbuild\n")).ok());
}

// Every RPC of both services, called with each role's token, a wrong token
// and none. The table below is the documented one (README "Authentication"),
// written out here rather than derived from RoleGrants.
class AccessMatrixTest : public InProcessServerTest {
 protected:
  void AdjustConfig(ServerConfig& config) override {
    std::string lines;
    for (const char* role : kRoleNames) {
      tokens_[role] = *GenerateToken();
      lines += TokenFileLine(tokens_[role], role, std::string("holder-") + role) + "\n";
    }
    config.insecure_no_auth = false;
    config.token_file = WriteFile(token_dir_, lines).string();
  }

  testing::TempDir token_dir_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(AccessMatrixTest, EveryRpcAnswersEachRoleAsDocumented) {
  auto channel = grpc::CreateChannel(server_->listen_address(), grpc::InsecureChannelCredentials());
  auto quantd = v1::Quantd::NewStub(channel);
  auto kserve = inference::GRPCInferenceService::NewStub(channel);
  v1::GetModelRequest model;
  model.set_model_id("mdl_x");
  v1::InferRequest infer;
  infer.set_model_id("mdl_x");
  inference::ModelMetadataRequest metadata;
  metadata.set_name("mdl_x");
  // Who may call it: a(dmin) b(uild) i(nfer) r(ead), "-" no token, "?" an
  // unknown token (health checks take any).
  const std::vector<
      std::tuple<std::string, std::string, std::function<grpc::Status(grpc::ClientContext&)>>>
      rpcs = {
          {"UploadModel", "ab",
           [&](grpc::ClientContext& c) {
             v1::Model m;
             auto writer = quantd->UploadModel(&c, &m);
             writer->WritesDone();
             return writer->Finish();
           }},
          {"ListModels", "abir",
           [&](grpc::ClientContext& c) {
             v1::ListModelsResponse r;
             return quantd->ListModels(&c, {}, &r);
           }},
          {"GetModel", "abir",
           [&](grpc::ClientContext& c) {
             v1::Model r;
             return quantd->GetModel(&c, model, &r);
           }},
          {"DeleteModel", "a",
           [&](grpc::ClientContext& c) {
             v1::DeleteModelRequest q;
             q.set_model_id("mdl_x");
             v1::DeleteModelResponse r;
             return quantd->DeleteModel(&c, q, &r);
           }},
          {"DeleteVersion", "a",
           [&](grpc::ClientContext& c) {
             v1::DeleteVersionRequest q;
             q.set_model_id("mdl_x");
             q.set_version(2);
             v1::DeleteVersionResponse r;
             return quantd->DeleteVersion(&c, q, &r);
           }},
          {"DownloadVersion", "ab",
           [&](grpc::ClientContext& c) {
             v1::DownloadVersionRequest q;
             q.set_model_id("mdl_x");
             auto reader = quantd->DownloadVersion(&c, q);
             v1::DownloadVersionResponse r;
             while (reader->Read(&r)) {
             }
             return reader->Finish();
           }},
          {"UploadDataset", "ab",
           [&](grpc::ClientContext& c) {
             v1::Dataset d;
             auto writer = quantd->UploadDataset(&c, &d);
             writer->WritesDone();
             return writer->Finish();
           }},
          {"ListDatasets", "abr",
           [&](grpc::ClientContext& c) {
             v1::ListDatasetsResponse r;
             return quantd->ListDatasets(&c, {}, &r);
           }},
          {"GetDataset", "abr",
           [&](grpc::ClientContext& c) {
             v1::GetDatasetRequest q;
             q.set_dataset_id("ds_x");
             v1::Dataset r;
             return quantd->GetDataset(&c, q, &r);
           }},
          {"DeleteDataset", "a",
           [&](grpc::ClientContext& c) {
             v1::DeleteDatasetRequest q;
             q.set_dataset_id("ds_x");
             v1::DeleteDatasetResponse r;
             return quantd->DeleteDataset(&c, q, &r);
           }},
          {"QuantizeModel", "ab",
           [&](grpc::ClientContext& c) {
             v1::Job r;
             return quantd->QuantizeModel(&c, {}, &r);
           }},
          {"GetJob", "abr",
           [&](grpc::ClientContext& c) {
             v1::GetJobRequest q;
             q.set_job_id("job_x");
             v1::Job r;
             return quantd->GetJob(&c, q, &r);
           }},
          {"WatchJob", "abr",
           [&](grpc::ClientContext& c) {
             v1::WatchJobRequest q;
             q.set_job_id("job_x");
             auto reader = quantd->WatchJob(&c, q);
             v1::Job r;
             while (reader->Read(&r)) {
             }
             return reader->Finish();
           }},
          {"ListJobs", "abr",
           [&](grpc::ClientContext& c) {
             v1::ListJobsResponse r;
             return quantd->ListJobs(&c, {}, &r);
           }},
          {"CancelJob", "ab",
           [&](grpc::ClientContext& c) {
             v1::CancelJobRequest q;
             q.set_job_id("job_x");
             v1::Job r;
             return quantd->CancelJob(&c, q, &r);
           }},
          {"Infer", "ai",
           [&](grpc::ClientContext& c) {
             v1::InferResponse r;
             return quantd->Infer(&c, infer, &r);
           }},
          {"ServerLive", "abir-?",
           [&](grpc::ClientContext& c) {
             inference::ServerLiveResponse r;
             return kserve->ServerLive(&c, {}, &r);
           }},
          {"ServerReady", "abir-?",
           [&](grpc::ClientContext& c) {
             inference::ServerReadyResponse r;
             return kserve->ServerReady(&c, {}, &r);
           }},
          {"ServerMetadata", "abir-?",
           [&](grpc::ClientContext& c) {
             inference::ServerMetadataResponse r;
             return kserve->ServerMetadata(&c, {}, &r);
           }},
          {"ModelReady", "abir",
           [&](grpc::ClientContext& c) {
             inference::ModelReadyRequest q;
             q.set_name("mdl_x");
             inference::ModelReadyResponse r;
             return kserve->ModelReady(&c, q, &r);
           }},
          {"ModelMetadata", "abir",
           [&](grpc::ClientContext& c) {
             inference::ModelMetadataResponse r;
             return kserve->ModelMetadata(&c, metadata, &r);
           }},
          {"ModelConfig", "abir",
           [&](grpc::ClientContext& c) {
             inference::ModelConfigRequest q;
             q.set_name("mdl_x");
             inference::ModelConfigResponse r;
             return kserve->ModelConfig(&c, q, &r);
           }},
          {"ModelStatistics", "abir",
           [&](grpc::ClientContext& c) {
             inference::ModelStatisticsResponse r;
             return kserve->ModelStatistics(&c, {}, &r);
           }},
          {"RepositoryIndex", "abir",
           [&](grpc::ClientContext& c) {
             inference::RepositoryIndexResponse r;
             return kserve->RepositoryIndex(&c, {}, &r);
           }},
          {"ModelInfer", "ai",
           [&](grpc::ClientContext& c) {
             inference::ModelInferRequest q;
             q.set_model_name("mdl_x");
             inference::ModelInferResponse r;
             return kserve->ModelInfer(&c, q, &r);
           }},
      };
  const std::vector<std::pair<std::string, std::string>> callers = {{"a", tokens_["admin"]},
                                                                    {"b", tokens_["build"]},
                                                                    {"i", tokens_["infer"]},
                                                                    {"r", tokens_["read"]},
                                                                    {"-", ""},
                                                                    {"?", std::string(64, '0')}};
  for (const auto& [rpc, allowed, call] : rpcs) {
    for (const auto& [who, token] : callers) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
      const grpc::StatusCode code = call(context).error_code();
      const std::string where = rpc + " as " + who;
      if (allowed.find(who) != std::string::npos) {
        EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << where;
        EXPECT_NE(code, grpc::StatusCode::PERMISSION_DENIED) << where;
      } else if (who == "-" || who == "?") {
        EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << where;
      } else {
        EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED) << where;
      }
    }
  }
}

TEST(AccessControlTest, ServerRefusesToStartWithoutAuthenticationChosen) {
  testing::TempDir dir;
  ServerConfig config;
  config.listen_address = "127.0.0.1:0";
  config.metrics_listen_address = "none";
  config.data_dir = dir.path().string();
  auto server = QuantdServer::Start(config);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("--token_file"));
  EXPECT_THAT(server.status().message(), HasSubstr("--insecure_no_auth"));
}

}  // namespace
}  // namespace quantd::server
