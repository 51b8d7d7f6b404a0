// quantctl: the command-line client of quantd's gRPC API.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/commands.h"
#include "client/rpc_error.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "quantd's gRPC address, HOST:PORT");
ABSL_FLAG(int64_t, timeout, 60, "deadline of each unary RPC in seconds (0: none)");
ABSL_FLAG(std::string, token_file, "",
          "file holding the bearer token to send (quantctl new-token writes one)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates to verify quantd's TLS certificate with (turns TLS on)");
ABSL_FLAG(std::string, tls_cert, "", "mTLS: this client's PEM certificate chain (with --tls_ca)");
ABSL_FLAG(std::string, tls_key, "", "mTLS: the private key of --tls_cert");
ABSL_FLAG(std::string, token_out, "", "new-token: file to write the new token to (must not exist)");
ABSL_FLAG(std::string, name, "", "name of the uploaded model or dataset (default: file name)");
ABSL_FLAG(std::string, format, "idx", "upload-dataset: idx or raw (little-endian float32)");
ABSL_FLAG(std::string, samples, "", "upload-dataset: the samples / IDX images file");
ABSL_FLAG(std::string, labels, "",
          "upload-dataset: the labels file (optional); upload-model: class names, one per line");
ABSL_FLAG(std::string, images, "",
          "upload-dataset: folder of PNG/JPEG images (one subfolder per class gives labels)");
ABSL_FLAG(std::string, crop, "",
          "upload-dataset --images, upload-model: HEIGHTxWIDTH center crop (the model input)");
ABSL_FLAG(int32_t, resize_shorter_side, 0,
          "upload-dataset --images, upload-model: resize the shorter side first (0: no resize)");
ABSL_FLAG(float, scale, 0, "upload-dataset --images, upload-model: pixel scale (0: 1/255)");
ABSL_FLAG(std::string, mean, "", "upload-dataset --images, upload-model: per-channel mean");
ABSL_FLAG(std::string, std, "", "upload-dataset --images, upload-model: per-channel std");
ABSL_FLAG(std::string, color, "", "upload-dataset --images, upload-model: rgb|bgr|gray");
ABSL_FLAG(int32_t, top_k, 0, "infer: print the K highest-scoring classes of each sample");
ABSL_FLAG(std::string, sample_shape, "",
          "upload-dataset --format=raw: shape of one sample, e.g. 1,28,28");
ABSL_FLAG(float, pixel_scale, 0, "IDX pixel scale; 0 means 1/255");
ABSL_FLAG(int64_t, limit, 0,
          "upload-dataset, evaluate, compare: use only the first N samples (0: all)");
ABSL_FLAG(std::string, calibration, "", "quantize: calibration dataset id");
ABSL_FLAG(int64_t, calibration_samples, 0, "quantize: calibration samples to use (0: all)");
ABSL_FLAG(std::string, evaluation, "",
          "quantize: labelled dataset to report fp32/int8 accuracy on");
ABSL_FLAG(bool, wait, false, "quantize: watch the job until it ends");
ABSL_FLAG(std::string, calibration_method, "",
          "quantize: naive|entropy|percentile|ema|mse|auto (default naive)");
ABSL_FLAG(std::string, calibration_seed, "",
          "quantize: draw the calibration samples with this seed (default: the first N)");
ABSL_FLAG(std::string, percentile, "", "quantize --calibration_method=percentile: (0, 100]");
ABSL_FLAG(std::string, ema_decay, "", "quantize --calibration_method=ema: [0, 1)");
ABSL_FLAG(int32_t, ema_passes, 0, "quantize --calibration_method=ema: passes (0: 1)");
ABSL_FLAG(std::string, granularity, "",
          "quantize: weight scales per-channel|per-tensor|per-group (default per-channel)");
ABSL_FLAG(int32_t, group_size, 0, "quantize --granularity=per-group: channels per scale");
ABSL_FLAG(int32_t, weight_bits, 0, "quantize: 2..8 (0: 8); below 8 the version is simulated");
ABSL_FLAG(int32_t, activation_bits, 0, "quantize: 2..8 (0: 8); below 8 the version is simulated");
ABSL_FLAG(std::string, activation_type, "", "quantize: auto|uint8|int8 (default auto)");
ABSL_FLAG(bool, asymmetric_activations, false,
          "quantize: activations with a zero point (simulated versions only)");
ABSL_FLAG(std::string, weight_clipping, "", "quantize: max-abs|mse (default max-abs)");
ABSL_FLAG(std::string, exclude_nodes, "", "quantize: node names kept fp32, comma-separated");
ABSL_FLAG(std::string, exclude_op_types, "",
          "quantize: op types kept fp32, comma-separated (e.g. Gemm)");
ABSL_FLAG(bool, exclude_first_conv, false, "quantize: keep the first Conv fp32");
ABSL_FLAG(bool, exclude_last_fc, false, "quantize: keep the last Gemm/MatMul fp32");
ABSL_FLAG(bool, all_layers, false,
          "get-job, watch, quantize --wait: list every layer's SQNR and every fp32 island, "
          "not only the 10 worst and largest");
ABSL_FLAG(bool, keep_batchnorm, false,
          "quantize: do not fold BatchNormalization into Conv before quantizing");
ABSL_FLAG(std::string, precision, "fp32", "infer, evaluate: fp32 or int8");
ABSL_FLAG(int32_t, version, 0, "infer, evaluate: model version (0: newest of --precision)");
ABSL_FLAG(std::string, input, "", "infer: little-endian float32 input file");
ABSL_FLAG(std::string, image, "",
          "infer: PNG/JPEG image(s), comma-separated; sent as bytes when the model has a "
          "preprocessing spec, else decoded here to the model input with pixels scaled by 1/255");
ABSL_FLAG(std::string, shape, "1,1,28,28", "infer: shape of --input");
ABSL_FLAG(std::string, dataset_samples, "", "evaluate, compare: IDX images file (gzip or not)");
ABSL_FLAG(std::string, dataset_labels, "", "evaluate, compare: IDX labels file (gzip or not)");
ABSL_FLAG(int64_t, batch, 64, "evaluate, compare: images per Infer call");
ABSL_FLAG(int64_t, concurrency, 1, "evaluate, compare: Infer calls in flight at once");
ABSL_FLAG(bool, json, false,
          "list-models, get-model, list-datasets, get-dataset, list-jobs, get-job: print JSON");
ABSL_FLAG(std::string, model, "", "list-jobs: only jobs of this model id");
ABSL_FLAG(std::string, state, "",
          "list-jobs: only jobs in this state (queued|running|succeeded|failed|cancelled)");
ABSL_FLAG(std::string, out_dir, "",
          "download: directory to write into (default: MODEL_ID-vVERSION)");
ABSL_FLAG(std::string, artifact, "",
          "download: onnx, calibration, qdq or calibration-json (default: every artifact)");

namespace quantd::client {
namespace {

constexpr char kUsage[] = R"(quantctl: command-line client of quantd.

usage: quantctl COMMAND [ARGS] [--server=HOST:PORT] [--token_file=FILE]
                [--tls_ca=PEM [--tls_cert=PEM --tls_key=PEM]] [flags]

models
  upload-model FILE [--name=NAME] [--labels=FILE] [preprocessing flags]
                                             upload an ONNX model; prints its id. With
                                             --crop=HxW (and --resize_shorter_side=N
                                             --scale=S --mean=a,b,c --std=a,b,c
                                             --color=rgb|bgr|gray) infer takes image files
  list-models [--json]                       one line per model
  get-model MODEL_ID [--json]                inputs, outputs, op counts, versions with
                                             precision, accuracy and measured speed-up
  delete-model MODEL_ID                      delete a model with every version
  delete-version MODEL_ID VERSION            delete one int8 version (>= 2)
  download MODEL_ID VERSION [--out_dir=DIR] [--artifact=onnx|calibration|qdq|calibration-json]
                                             write the version's files (model.onnx,
                                             calibration.tsv, model.qdq.onnx,
                                             calibration.json); prints their paths
datasets
  upload-dataset --samples=FILE [--labels=FILE] [--format=idx|raw]
                 [--sample_shape=1,28,28] [--pixel_scale=S] [--limit=N] [--name=NAME]
                                             upload a dataset; prints its id
  upload-dataset --images=DIR --crop=HxW [preprocessing flags] [--name=NAME]
                                             upload a folder of PNG/JPEG images (sorted by
                                             path; one subfolder per class gives labels)
  list-datasets [--json]                     one line per dataset
  get-dataset DATASET_ID [--json]            samples, shape, labels
  delete-dataset DATASET_ID                  delete a dataset no active job uses
quantization
  quantize MODEL_ID --calibration=DATASET_ID [--calibration_samples=N]
           [--evaluation=DATASET_ID] [--wait]
           [--calibration_method=naive|entropy|percentile|ema|mse|auto] [--calibration_seed=S]
           [--percentile=P] [--ema_decay=D] [--ema_passes=N]
           [--granularity=per-channel|per-tensor|per-group] [--group_size=G]
           [--weight_bits=2..8] [--activation_bits=2..8] [--activation_type=auto|uint8|int8]
           [--asymmetric_activations] [--weight_clipping=max-abs|mse]
           [--exclude_nodes=A,B] [--exclude_op_types=Gemm,...]
           [--exclude_first_conv] [--exclude_last_fc] [--keep_batchnorm]
                                             start a job; prints its id, or with
                                             --wait follows it and prints the result
  get-job JOB_ID [--json] [--all_layers]     a job's state, progress, ETA and results
                                             (accuracy, agreement with fp32, the 10
                                             layers with the lowest SQNR, int8 coverage
                                             and the 10 largest fp32 islands)
  watch JOB_ID [--all_layers]                follow a job until it ends (progress, ETA)
  list-jobs [--model=MODEL_ID] [--state=S] [--json]
                                             jobs, oldest first
  cancel JOB_ID                              cancel a queued or running job
inference
  infer MODEL_ID --input=FILE [--shape=1,1,28,28] [--precision=fp32|int8] [--version=V]
  infer MODEL_ID --image=A.png[,B.jpg...] [--top_k=K] [--precision=fp32|int8] [--version=V]
                                             top class and logits of each sample; with
                                             --top_k the K best classes with labels
  evaluate MODEL_ID --dataset_samples=IDX --dataset_labels=IDX [--precision=fp32|int8]
           [--batch=64] [--concurrency=1] [--limit=N]
                                             top-1, p50 latency, throughput over gRPC
  compare MODEL_ID --dataset_samples=IDX --dataset_labels=IDX [--batch=64]
          [--concurrency=1] [--limit=N]      fp32 vs newest int8: table and speed-up
access
  new-token ROLE [NAME] --token_out=FILE     make a token for ROLE (admin, build, infer,
                                             read): writes it to FILE, prints the line
                                             to add to quantd's --token_file
  health                                     is the server ready (needs no token)
local
  sha256 FILE...                             the digest upload-model sends
  help                                       this text (--helpfull lists every flag)

Exit codes: 0 success, 1 the operation failed (the message names the gRPC
status code), 2 usage error.
)";

// Abseil exits with status 1 on a bad flag; quantctl promises 2 for usage
// errors, so flags are checked here first.
bool CheckFlags(int argc, char** argv, std::string& error) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    const size_t eq = body.find('=');
    const std::string name(body.substr(0, eq));
    if (name == "help" || name == "helpfull" || name == "helpshort" || name == "version") {
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    const bool negated_bool = flag == nullptr && name.starts_with("no") &&
                              absl::FindCommandLineFlag(name.substr(2)) != nullptr &&
                              absl::FindCommandLineFlag(name.substr(2))->IsOfType<bool>();
    if (negated_bool) continue;
    if (flag == nullptr) {
      error = absl::StrCat("unknown flag --", name);
      return false;
    }
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (flag->IsOfType<bool>()) {
      continue;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      error = absl::StrCat("flag --", name, " needs a value");
      return false;
    }
    // ParseFrom sets the flag; ParseCommandLine sets it again from the same text.
    std::string parse_error;
    if (!flag->ParseFrom(value, &parse_error)) {
      error = absl::StrCat("bad value for --", name, ": ", parse_error);
      return false;
    }
  }
  return true;
}

bool ParseDims(const std::string& text, std::vector<int64_t>& dims) {
  dims.clear();
  if (text.empty()) return true;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t d = 0;
    if (!absl::SimpleAtoi(part, &d) || d <= 0) return false;
    dims.push_back(d);
  }
  return true;
}

int Run(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::string flag_error;
  if (!CheckFlags(argc, argv, flag_error)) return ReportUsageError(flag_error);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());
  if (command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (command == "sha256") return Sha256Command(args);
  if (command == "new-token") return NewTokenCommand(args, absl::GetFlag(FLAGS_token_out));

  ClientOptions options;
  options.server = absl::GetFlag(FLAGS_server);
  options.timeout_seconds = absl::GetFlag(FLAGS_timeout);
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    std::ifstream in(path);
    if (!(in >> options.token)) {
      return ReportUsageError(absl::StrCat("cannot read a token from --token_file=", path));
    }
  }
  for (auto [flag, path, pem] :
       {std::tuple{"tls_ca", absl::GetFlag(FLAGS_tls_ca), &options.tls_ca},
        std::tuple{"tls_cert", absl::GetFlag(FLAGS_tls_cert), &options.tls_cert},
        std::tuple{"tls_key", absl::GetFlag(FLAGS_tls_key), &options.tls_key}}) {
    if (path.empty()) continue;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    *pem = contents.str();
    if (!in || pem->empty())
      return ReportUsageError(absl::StrCat("cannot read --", flag, "=", path));
  }
  if (options.tls_ca.empty() && !(options.tls_cert.empty() && options.tls_key.empty())) {
    return ReportUsageError("--tls_cert and --tls_key need --tls_ca");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return ReportUsageError("--tls_cert and --tls_key go together");
  }
  options.json = absl::GetFlag(FLAGS_json);
  options.model_filter = absl::GetFlag(FLAGS_model);
  options.state_filter = absl::GetFlag(FLAGS_state);
  options.out_dir = absl::GetFlag(FLAGS_out_dir);
  options.artifact = absl::GetFlag(FLAGS_artifact);
  options.name = absl::GetFlag(FLAGS_name);
  options.format = absl::GetFlag(FLAGS_format);
  options.samples_file = absl::GetFlag(FLAGS_samples);
  options.labels_file = absl::GetFlag(FLAGS_labels);
  options.pixel_scale = absl::GetFlag(FLAGS_pixel_scale);
  options.limit = absl::GetFlag(FLAGS_limit);
  options.calibration_dataset = absl::GetFlag(FLAGS_calibration);
  options.calibration_samples = absl::GetFlag(FLAGS_calibration_samples);
  options.evaluation_dataset = absl::GetFlag(FLAGS_evaluation);
  options.wait = absl::GetFlag(FLAGS_wait);
  options.calibration_method = absl::GetFlag(FLAGS_calibration_method);
  options.calibration_seed = absl::GetFlag(FLAGS_calibration_seed);
  options.percentile = absl::GetFlag(FLAGS_percentile);
  options.ema_decay = absl::GetFlag(FLAGS_ema_decay);
  options.ema_passes = absl::GetFlag(FLAGS_ema_passes);
  options.granularity = absl::GetFlag(FLAGS_granularity);
  options.group_size = absl::GetFlag(FLAGS_group_size);
  options.weight_bits = absl::GetFlag(FLAGS_weight_bits);
  options.activation_bits = absl::GetFlag(FLAGS_activation_bits);
  options.activation_type = absl::GetFlag(FLAGS_activation_type);
  options.asymmetric_activations = absl::GetFlag(FLAGS_asymmetric_activations);
  options.weight_clipping = absl::GetFlag(FLAGS_weight_clipping);
  options.exclude_nodes =
      absl::StrSplit(absl::GetFlag(FLAGS_exclude_nodes), ',', absl::SkipEmpty());
  options.exclude_op_types =
      absl::StrSplit(absl::GetFlag(FLAGS_exclude_op_types), ',', absl::SkipEmpty());
  options.exclude_first_conv = absl::GetFlag(FLAGS_exclude_first_conv);
  options.exclude_last_fc = absl::GetFlag(FLAGS_exclude_last_fc);
  options.keep_batchnorm = absl::GetFlag(FLAGS_keep_batchnorm);
  options.all_layers = absl::GetFlag(FLAGS_all_layers);
  options.precision = absl::GetFlag(FLAGS_precision);
  options.version = absl::GetFlag(FLAGS_version);
  options.input_file = absl::GetFlag(FLAGS_input);
  options.image_files = absl::StrSplit(absl::GetFlag(FLAGS_image), ',', absl::SkipEmpty());
  options.top_k = absl::GetFlag(FLAGS_top_k);
  options.images_dir = absl::GetFlag(FLAGS_images);
  options.crop = absl::GetFlag(FLAGS_crop);
  options.resize_shorter_side = absl::GetFlag(FLAGS_resize_shorter_side);
  options.scale = absl::GetFlag(FLAGS_scale);
  options.pixel_mean = absl::GetFlag(FLAGS_mean);
  options.pixel_std = absl::GetFlag(FLAGS_std);
  options.color = absl::GetFlag(FLAGS_color);
  options.dataset_samples = absl::GetFlag(FLAGS_dataset_samples);
  options.dataset_labels = absl::GetFlag(FLAGS_dataset_labels);
  options.batch = absl::GetFlag(FLAGS_batch);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  if (!ParseDims(absl::GetFlag(FLAGS_sample_shape), options.sample_shape)) {
    return ReportUsageError("--sample_shape must be positive integers separated by commas");
  }
  if (!ParseDims(absl::GetFlag(FLAGS_shape), options.shape)) {
    return ReportUsageError("--shape must be positive integers separated by commas");
  }

  using Command = std::function<int(const CommandContext&)>;
  const std::map<std::string, Command> commands = {
      {"upload-model", UploadModelCommand}, {"list-models", ListModelsCommand},
      {"get-model", GetModelCommand},       {"upload-dataset", UploadDatasetCommand},
      {"quantize", QuantizeCommand},        {"get-job", GetJobCommand},
      {"watch", WatchJobCommand},           {"infer", InferCommand},
      {"evaluate", EvaluateCommand},        {"compare", CompareCommand},
      {"delete-model", DeleteModelCommand}, {"delete-version", DeleteVersionCommand},
      {"download", DownloadCommand},        {"list-datasets", ListDatasetsCommand},
      {"get-dataset", GetDatasetCommand},   {"delete-dataset", DeleteDatasetCommand},
      {"list-jobs", ListJobsCommand},       {"cancel", CancelJobCommand},
  };
  const std::shared_ptr<grpc::Channel> channel = OpenChannel(options);
  if (command == "health") return HealthCommand(*channel, options);
  const auto it = commands.find(command);
  if (it == commands.end())
    return ReportUsageError(absl::StrCat("unknown command '", command, "'"));
  auto stub = v1::Quantd::NewStub(channel);
  return it->second(CommandContext{options, std::move(args), *stub});
}

}  // namespace
}  // namespace quantd::client

int main(int argc, char** argv) { return quantd::client::Run(argc, argv); }
