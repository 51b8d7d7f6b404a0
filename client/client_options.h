#ifndef QUANTD_CLIENT_CLIENT_OPTIONS_H_
#define QUANTD_CLIENT_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace quantd::client {

// Every quantctl flag, parsed once in main and handed to the subcommands.
struct ClientOptions {
  std::string server;
  std::string token;             // from --token_file; "" sends none
  // TLS: PEM contents of --tls_ca (set: the channel uses TLS and trusts these
  // CAs), and of --tls_cert / --tls_key for mTLS.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  int64_t timeout_seconds = 60;  // deadline of unary RPCs
  bool json = false;             // list-*/get-*: print the API message as JSON
  bool all_layers = false;       // get-job / watch: every layer's SQNR and fp32 island, not 10

  // list-jobs filters
  std::string model_filter;
  std::string state_filter;  // "", or a JobState name in any case

  // download
  std::string out_dir;   // "": <model_id>-v<version> in the working directory
  std::string artifact;  // "", "onnx" or "calibration"

  // upload-model / upload-dataset
  std::string name;
  std::string format;  // "idx" or "raw"
  std::string samples_file;
  std::string labels_file;
  std::vector<int64_t> sample_shape;  // raw only
  float pixel_scale = 0.0f;           // idx only; 0 means 1/255
  int64_t limit = 0;                  // 0: every sample
  std::string images_dir;             // upload-dataset: folder of encoded images
  // Preprocessing spec (upload-dataset --images, upload-model); see
  // preprocessing_flags.h. --crop unset means no spec.
  std::string crop;  // "HxW"
  int32_t resize_shorter_side = 0;
  float scale = 0.0f;  // 0 means 1/255
  std::string pixel_mean;  // --mean: comma-separated, one per channel
  std::string pixel_std;   // --std
  std::string color;  // rgb|bgr|gray

  // quantize
  std::string calibration_dataset;
  int64_t calibration_samples = 0;
  std::string evaluation_dataset;
  bool wait = false;
  // Quantization knobs as typed; QuantizeCommand parses them into the request.
  // Empty strings (and 0 for the integers) leave the server's defaults.
  std::string calibration_method;  // naive|entropy|percentile|ema|mse
  std::string calibration_seed;
  std::string percentile;
  std::string ema_decay;
  int32_t ema_passes = 0;
  std::string granularity;  // per-channel|per-tensor|per-group
  int32_t group_size = 0;
  int32_t weight_bits = 0;
  int32_t activation_bits = 0;
  std::string activation_type;  // auto|uint8|int8
  bool asymmetric_activations = false;
  std::string weight_clipping;  // max-abs|mse
  std::vector<std::string> exclude_nodes;
  std::vector<std::string> exclude_op_types;
  bool exclude_first_conv = false;
  bool exclude_last_fc = false;
  bool keep_batchnorm = false;

  // infer / evaluate / compare
  std::string precision;  // "fp32" or "int8"
  int32_t version = 0;
  std::string input_file;
  std::vector<std::string> image_files;  // infer: PNG/JPEG files, one sample each
  int32_t top_k = 0;                      // infer: print the k best classes per sample
  std::vector<int64_t> shape;
  std::string dataset_samples;
  std::string dataset_labels;
  int64_t batch = 64;
  int64_t concurrency = 1;  // evaluate / compare: Infer calls in flight
};

// Process exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_CLIENT_OPTIONS_H_
