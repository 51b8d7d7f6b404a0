// Load generator for quantd's Infer (or, with --api=kserve, KServe's
// ModelInfer on the same server), in the manner of Triton's perf_analyzer:
// for each concurrency of --concurrency, that many clients (a thread and a
// channel each) send batch-1 Infer calls back to back for --seconds after
// --warmup_seconds, and it prints calls/s and the p50/p90/p99 latency.
// Sync gRPC: a client thread spends its time blocked in the call, so on a
// 2-core machine the clients cost little of the server's cores.
//
//   quantd_load --server=127.0.0.1:50051 --model_id=mdl_... --precision=int8

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "inference/grpc_service.grpc.pb.h"
#include "quantd/v1/quantd.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "quantd's gRPC address");
ABSL_FLAG(std::string, model_id, "", "Model to call");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token to send (quantctl new-token)");
ABSL_FLAG(std::string, precision, "int8", "fp32 or int8");
ABSL_FLAG(std::string, concurrency, "1,2,4,8,16,32", "Client counts to sweep, comma-separated");
ABSL_FLAG(double, seconds, 10, "Measured seconds per concurrency");
ABSL_FLAG(double, warmup_seconds, 3, "Unmeasured seconds before each measurement");
ABSL_FLAG(std::string, label, "", "Printed in each result line (e.g. batching on/off)");
ABSL_FLAG(std::string, api, "quantd",
          "quantd: quantd.v1 Infer; kserve: KServe ModelInfer (raw_input_contents; int8 is the "
          "default version, fp32 version 1)");
ABSL_FLAG(bool, raw_input, true,
          "Send the input as Tensor.raw_data (float32 bytes) rather than repeated float data");

namespace {

using quantd::v1::InferRequest;
using quantd::v1::InferResponse;
using quantd::v1::Quantd;

struct Step {
  int clients = 0;
  int64_t calls = 0;
  int64_t errors = 0;
  std::vector<double> latencies_ms;
};

// Adds --token_file's bearer token (read once) to a call.
void AddToken(grpc::ClientContext& context) {
  static const std::string header = [] {
    std::string token;
    if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
      std::ifstream(path) >> token;
    }
    return token.empty() ? std::string() : "Bearer " + token;
  }();
  if (!header.empty()) context.AddMetadata("authorization", header);
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[index];
}

// The model's input with dynamic dims as 1 and random values.
bool MakeRequest(Quantd::Stub& stub, InferRequest& request) {
  grpc::ClientContext context;
  AddToken(context);
  quantd::v1::GetModelRequest get;
  get.set_model_id(absl::GetFlag(FLAGS_model_id));
  quantd::v1::Model model;
  const grpc::Status status = stub.GetModel(&context, get, &model);
  if (!status.ok() || model.inputs_size() == 0) {
    std::fprintf(stderr, "quantd_load: GetModel failed: %s\n", status.error_message().c_str());
    return false;
  }
  request.set_model_id(model.id());
  request.set_precision(absl::GetFlag(FLAGS_precision) == "fp32" ? quantd::v1::FP32
                                                                 : quantd::v1::INT8);
  quantd::v1::Tensor& input = *request.mutable_input();
  input.set_name(model.inputs(0).name());
  int64_t count = 1;
  for (int64_t d : model.inputs(0).shape()) {
    input.add_shape(d > 0 ? d : 1);
    count *= d > 0 ? d : 1;
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = value(rng);
  if (absl::GetFlag(FLAGS_raw_input)) {
    input.set_raw_data(
        std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  } else {
    input.mutable_data()->Add(values.begin(), values.end());
  }
  return true;
}

// The same call as KServe's ModelInfer: the input as raw bytes.
inference::ModelInferRequest ToModelInfer(const InferRequest& request) {
  inference::ModelInferRequest infer;
  infer.set_model_name(request.model_id());
  infer.set_model_version(request.precision() == quantd::v1::FP32 ? "1" : "");
  auto& input = *infer.add_inputs();
  input.set_name(request.input().name());
  input.set_datatype("FP32");
  input.mutable_shape()->CopyFrom(request.input().shape());
  if (!request.input().raw_data().empty()) {
    infer.add_raw_input_contents(request.input().raw_data());
  } else {
    input.mutable_contents()->mutable_fp32_contents()->CopyFrom(request.input().data());
  }
  return infer;
}

// One client's call, through the API --api names.
std::function<grpc::Status(grpc::ClientContext*)> ClientCall(
    const std::shared_ptr<grpc::Channel>& channel, const InferRequest& request) {
  if (absl::GetFlag(FLAGS_api) == "kserve") {
    auto stub = std::shared_ptr(inference::GRPCInferenceService::NewStub(channel));
    auto infer = std::make_shared<inference::ModelInferRequest>(ToModelInfer(request));
    return [stub, infer](grpc::ClientContext* context) {
      inference::ModelInferResponse response;
      return stub->ModelInfer(context, *infer, &response);
    };
  }
  auto stub = std::shared_ptr(Quantd::NewStub(channel));
  return [stub, &request](grpc::ClientContext* context) {
    InferResponse response;
    return stub->Infer(context, request, &response);
  };
}

Step RunStep(int clients, const InferRequest& request) {
  const std::string address = absl::GetFlag(FLAGS_server);
  const absl::Time start = absl::Now();
  const absl::Time measure_from = start + absl::Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  const absl::Time stop = measure_from + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  std::vector<Step> per_client(clients);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per client
      args.SetMaxSendMessageSize(64 << 20);
      const auto call = ClientCall(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args), request);
      Step& mine = per_client[c];
      while (true) {
        const absl::Time sent = absl::Now();
        if (sent >= stop) break;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        AddToken(context);
        const grpc::Status status = call(&context);
        const absl::Time done = absl::Now();
        if (sent < measure_from || done > stop) continue;
        if (!status.ok()) {
          ++mine.errors;
          continue;
        }
        ++mine.calls;
        mine.latencies_ms.push_back(absl::ToDoubleMilliseconds(done - sent));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Step total;
  total.clients = clients;
  for (Step& s : per_client) {
    total.calls += s.calls;
    total.errors += s.errors;
    total.latencies_ms.insert(total.latencies_ms.end(), s.latencies_ms.begin(),
                              s.latencies_ms.end());
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto stub = Quantd::NewStub(
      grpc::CreateChannel(absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials()));
  InferRequest request;
  if (!MakeRequest(*stub, request)) return 1;
  std::printf("%-10s %8s %10s %9s %9s %9s %7s\n", "label", "clients", "calls/s", "p50 ms", "p90 ms",
              "p99 ms", "errors");
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int clients = 0;
    if (!absl::SimpleAtoi(part, &clients) || clients < 1) {
      std::fprintf(stderr, "quantd_load: bad --concurrency entry '%s'\n",
                   std::string(part).c_str());
      return 2;
    }
    Step step = RunStep(clients, request);
    std::sort(step.latencies_ms.begin(), step.latencies_ms.end());
    std::printf("%-10s %8d %10.1f %9.2f %9.2f %9.2f %7lld\n", absl::GetFlag(FLAGS_label).c_str(),
                clients, static_cast<double>(step.calls) / absl::GetFlag(FLAGS_seconds),
                Percentile(step.latencies_ms, 0.5), Percentile(step.latencies_ms, 0.9),
                Percentile(step.latencies_ms, 0.99), static_cast<long long>(step.errors));
    std::fflush(stdout);
  }
  return 0;
}
