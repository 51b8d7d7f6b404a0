#include "client/proto_printer.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace quantd::client {

std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

std::string FormatBytes(int64_t bytes) {
  if (bytes >= (int64_t{1} << 20)) return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  if (bytes >= 1024) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrCat(bytes, " B");
}

std::string FormatUnixMs(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &utc);
  return absl::StrCat(text, " UTC");
}

std::string PrecisionName(v1::Precision precision) {
  switch (precision) {
    case v1::FP32:
      return "fp32";
    case v1::INT8:
      return "int8";
    default:
      return "unspecified";
  }
}

std::string JobStateName(v1::JobState state) { return v1::JobState_Name(state); }

std::string FormatAccuracy(const v1::AccuracyReport& report) {
  if (report.num_samples() == 0) return "-";
  return absl::StrFormat("top-1 %.2f%% top-5 %.2f%% on %d samples of dataset %s",
                         100.0 * report.top1(), 100.0 * report.top5(), report.num_samples(),
                         report.dataset_id());
}

std::string FormatOutputAgreement(const v1::OutputAgreement& agreement) {
  return absl::StrFormat(
      "top-1 agreement %.2f%%, cosine similarity mean %.4f min %.4f on %d samples of dataset %s",
      100.0 * agreement.top1_agreement(), agreement.mean_cosine_similarity(),
      agreement.min_cosine_similarity(), agreement.num_samples(), agreement.dataset_id());
}

namespace {

// One row of a table of graph nodes: a figure, the node's op type and name,
// and a last column of any width.
struct NodeRow {
  std::string figure;
  std::string op_type;
  std::string node;
  std::string last;
};

// `header` and `rows`, the figure right-aligned in `figure_width`, the op and
// node columns as wide as their longest entry (node names are paths).
std::string FormatNodeTable(const NodeRow& header, const std::vector<NodeRow>& rows,
                            int figure_width) {
  size_t op_width = header.op_type.size(), node_width = header.node.size();
  for (const NodeRow& row : rows) {
    op_width = std::max(op_width, row.op_type.size());
    node_width = std::max(node_width, row.node.size());
  }
  std::string out;
  auto append = [&](const NodeRow& row) {
    absl::StrAppend(&out, absl::StrFormat("  %*s  %-*s  %-*s  %s\n", figure_width, row.figure,
                                          static_cast<int>(op_width), row.op_type,
                                          static_cast<int>(node_width), row.node, row.last));
  };
  append(header);
  for (const NodeRow& row : rows) append(row);
  return out;
}

// How many of `total` rows a list capped at `max_rows` (0: no cap) shows.
size_t RowsShown(size_t total, int max_rows) {
  return max_rows > 0 ? std::min(total, static_cast<size_t>(max_rows)) : total;
}

struct MacUnit {
  double per_unit;
  const char* name;
};

MacUnit MacUnitFor(int64_t macs) {
  if (macs >= 1'000'000'000) return {1e9, "GMAC"};
  if (macs >= 1'000'000) return {1e6, "MMAC"};
  if (macs >= 1'000) return {1e3, "kMAC"};
  return {1, "MAC"};
}

}  // namespace

std::string FormatLayerSqnrTable(const google::protobuf::RepeatedPtrField<v1::LayerSqnr>& layers,
                                 int max_layers) {
  if (layers.empty()) return "";
  std::vector<const v1::LayerSqnr*> worst_first;
  for (const v1::LayerSqnr& layer : layers) worst_first.push_back(&layer);
  // Stable: layers with equal SQNR keep graph order.
  std::stable_sort(
      worst_first.begin(), worst_first.end(),
      [](const v1::LayerSqnr* a, const v1::LayerSqnr* b) { return a->sqnr_db() < b->sqnr_db(); });
  const size_t shown = RowsShown(worst_first.size(), max_layers);
  std::string out =
      shown < worst_first.size()
          ? absl::StrFormat("layer SQNR, %d worst of %d layers (--all_layers for every one):\n",
                            shown, worst_first.size())
          : absl::StrFormat("layer SQNR, %d layers, worst first:\n", worst_first.size());
  std::vector<NodeRow> rows;
  for (size_t i = 0; i < shown; ++i) {
    const v1::LayerSqnr& layer = *worst_first[i];
    rows.push_back({absl::StrFormat("%.2f", layer.sqnr_db()), layer.op_type(), layer.node_name(),
                    layer.output()});
  }
  absl::StrAppend(&out, FormatNodeTable({"SQNR dB", "OP", "NODE", "OUTPUT"}, rows, 9));
  return out;
}

std::string FormatMacs(int64_t macs) {
  const MacUnit unit = MacUnitFor(macs);
  if (unit.per_unit == 1) return absl::StrCat(macs, " MAC");
  return absl::StrFormat("%.1f %s", macs / unit.per_unit, unit.name);
}

std::string FormatInt8Share(const v1::Int8Coverage& coverage) {
  // Down, with slack for 0.973 * 1000 = 972.99999...
  const double percent = std::floor(coverage.mac_share() * 1000.0 + 1e-6) / 10.0;
  const MacUnit unit = MacUnitFor(coverage.total_macs());
  const int decimals = unit.per_unit == 1 ? 0 : 1;
  return absl::StrFormat("%.1f%% of MACs (%.*f %s of %.*f per sample), %d of %d nodes", percent,
                         decimals, coverage.int8_macs() / unit.per_unit, unit.name, decimals,
                         coverage.total_macs() / unit.per_unit, coverage.int8_nodes(),
                         coverage.total_nodes());
}

std::string FormatInt8Coverage(const v1::Int8Coverage& coverage, int max_islands) {
  const v1::ReorderCounts& reorders = coverage.reorders();
  std::string out = absl::StrFormat(
      "int8 coverage  %s; reorders per run: %d quantize, %d dequantize, %d requantize, "
      "%d relayout\n",
      FormatInt8Share(coverage), reorders.quantize(), reorders.dequantize(), reorders.requantize(),
      reorders.relayout());
  if (coverage.fp32_islands().empty()) return out;
  std::vector<const v1::Fp32Island*> largest_first;
  for (const v1::Fp32Island& island : coverage.fp32_islands()) largest_first.push_back(&island);
  // Stable: islands with equal MACs keep graph order.
  std::stable_sort(
      largest_first.begin(), largest_first.end(),
      [](const v1::Fp32Island* a, const v1::Fp32Island* b) { return a->macs() > b->macs(); });
  const size_t shown = RowsShown(largest_first.size(), max_islands);
  // The line above counts them; a cut list says how many it shows.
  absl::StrAppend(&out, shown < largest_first.size()
                            ? absl::StrFormat("fp32 islands, the %d with the most MACs of %d "
                                              "(--all_layers for every one):\n",
                                              shown, largest_first.size())
                            : std::string("fp32 islands, most MACs first:\n"));
  std::vector<NodeRow> rows;
  for (size_t i = 0; i < shown; ++i) {
    const v1::Fp32Island& island = *largest_first[i];
    rows.push_back(
        {FormatMacs(island.macs()), island.op_type(), island.node_name(), island.reason()});
  }
  absl::StrAppend(&out, FormatNodeTable({"MACS", "OP", "NODE", "REASON"}, rows, 10));
  return out;
}

std::string FormatSpeedup(const v1::SpeedupReport& report) {
  return absl::StrFormat(
      "%.2fx throughput (batch %d: fp32 %.0f, int8 %.0f samples/s), %.2fx latency "
      "(batch 1: fp32 %.3f ms, int8 %.3f ms), measured on dataset %s",
      report.throughput_speedup(), report.throughput_batch_size(), report.fp32_samples_per_second(),
      report.int8_samples_per_second(), report.latency_speedup(), report.fp32_latency_ms(),
      report.int8_latency_ms(), report.dataset_id());
}

std::string FormatDuration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  if (total < 60) return absl::StrCat(total, "s");
  if (total < 3600) return absl::StrFormat("%dm%02ds", total / 60, total % 60);
  return absl::StrFormat("%dh%02dm", total / 3600, (total % 3600) / 60);
}

std::string FormatJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return "{}\n";
  }
  return json + "\n";
}

std::string ModelListHeader() {
  return absl::StrFormat("%-24s %-28s %-10s %-10s %s", "ID", "NAME", "VERSIONS", "SIZE", "CREATED");
}

std::string FormatModelRow(const v1::Model& model) {
  std::vector<std::string> versions;
  for (const auto& v : model.versions()) {
    versions.push_back(absl::StrCat(v.version(), ":", PrecisionName(v.precision())));
  }
  return absl::StrFormat("%-24s %-28s %-10s %-10s %s", model.id(), model.name(),
                         absl::StrJoin(versions, ","), FormatBytes(model.size_bytes()),
                         FormatUnixMs(model.created_unix_ms()));
}

namespace {

std::string FormatOpCounts(const v1::Model& model) {
  // Map order is unspecified on the wire: most frequent first, then by name.
  std::vector<std::pair<std::string, int64_t>> ops(model.op_counts().begin(),
                                                   model.op_counts().end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::vector<std::string> texts;
  for (const auto& [op, count] : ops) texts.push_back(absl::StrCat(op, " ", count));
  return absl::StrJoin(texts, ", ");
}

std::string FormatTensorInfos(const google::protobuf::RepeatedPtrField<v1::TensorInfo>& infos) {
  std::vector<std::string> texts;
  for (const auto& info : infos)
    texts.push_back(absl::StrCat(info.name(), FormatShape(info.shape())));
  return absl::StrJoin(texts, ", ");
}

}  // namespace

std::string FormatModelSummary(const v1::Model& model) {
  int64_t nodes = 0;
  for (const auto& [op, count] : model.op_counts()) nodes += count;
  return absl::StrCat("model ", model.id(), " '", model.name(),
                      "': ", FormatTensorInfos(model.inputs()), " -> ",
                      FormatTensorInfos(model.outputs()), ", opset ", model.opset_version(), ", ",
                      nodes, " nodes (", FormatOpCounts(model), ")");
}

std::string FormatModel(const v1::Model& model) {
  std::string out = absl::StrCat("model    ", model.id(), "\n",                       //
                                 "name     ", model.name(), "\n",                     //
                                 "size     ", FormatBytes(model.size_bytes()), "\n",  //
                                 "sha256   ", model.sha256(), "\n",                   //
                                 "created  ", FormatUnixMs(model.created_unix_ms()), "\n",
                                 "opset    ", model.opset_version(), "\n");
  for (const auto& input : model.inputs()) {
    absl::StrAppend(&out, "input    ", input.name(), " ", FormatShape(input.shape()), "\n");
  }
  for (const auto& output : model.outputs()) {
    absl::StrAppend(&out, "output   ", output.name(), " ", FormatShape(output.shape()), "\n");
  }
  absl::StrAppend(&out, "ops      ", FormatOpCounts(model), "\n");
  absl::StrAppend(&out, "versions\n");
  for (const auto& v : model.versions()) {
    absl::StrAppend(&out, "  v", v.version(), "  ", PrecisionName(v.precision()), "  ",
                    FormatUnixMs(v.created_unix_ms()));
    if (!v.created_by_job_id().empty()) absl::StrAppend(&out, "  job ", v.created_by_job_id());
    if (v.has_accuracy() && v.accuracy().num_samples() > 0) {
      absl::StrAppend(&out, "  ", FormatAccuracy(v.accuracy()));
    }
    if (v.simulated()) absl::StrAppend(&out, "  simulated (no speed-up measured)");
    if (v.has_speedup()) {
      absl::StrAppend(&out, "\n      speed-up ", FormatSpeedup(v.speedup()));
    }
    if (v.has_int8_coverage()) {
      absl::StrAppend(&out, "\n      int8     ", FormatInt8Share(v.int8_coverage()));
    }
    if (v.has_options()) {
      absl::StrAppend(&out, "\n      options  ", FormatQuantizeOptions(v.options()));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string FormatQuantizeOptions(const v1::QuantizeModelRequest& request) {
  const v1::CalibrationMethod method = request.calibration() == v1::CALIBRATION_METHOD_UNSPECIFIED
                                           ? v1::NAIVE
                                           : request.calibration();
  std::string out =
      absl::StrCat("calibration ", absl::AsciiStrToLower(v1::CalibrationMethod_Name(method)));
  if (request.has_percentile()) absl::StrAppend(&out, " percentile ", request.percentile());
  if (request.has_ema_decay()) absl::StrAppend(&out, " decay ", request.ema_decay());
  if (request.ema_passes() > 0) absl::StrAppend(&out, " passes ", request.ema_passes());
  if (request.has_calibration_seed()) absl::StrAppend(&out, " seed ", request.calibration_seed());
  const v1::QuantizationSettings& q = request.quantization();
  const auto bits = [](int32_t b) { return b == 0 ? 8 : b; };
  std::string granularity = "per-channel";
  if (q.weight_granularity() == v1::PER_TENSOR) granularity = "per-tensor";
  if (q.weight_granularity() == v1::PER_GROUP) {
    granularity = absl::StrCat("per-group of ", q.weight_group_size());
  }
  std::string activation_type = "auto";
  if (q.activation_type() == v1::ACTIVATION_TYPE_UINT8) activation_type = "uint8";
  if (q.activation_type() == v1::ACTIVATION_TYPE_INT8) activation_type = "int8";
  absl::StrAppend(&out, "; weights ", bits(q.weight_bits()), "-bit ", granularity,
                  q.weight_clipping() == v1::WEIGHT_CLIPPING_MSE ? " mse-clipped" : "",
                  "; activations ", bits(q.activation_bits()), "-bit ", activation_type,
                  q.asymmetric_activations() ? " asymmetric" : " symmetric");
  std::vector<std::string> excluded(q.exclude_nodes().begin(), q.exclude_nodes().end());
  for (const std::string& op_type : q.exclude_op_types()) excluded.push_back(op_type + " ops");
  if (q.exclude_first_conv()) excluded.push_back("first conv");
  if (q.exclude_last_fc()) excluded.push_back("last fc");
  if (!excluded.empty()) absl::StrAppend(&out, "; fp32: ", absl::StrJoin(excluded, ", "));
  if (q.keep_batchnorm()) absl::StrAppend(&out, "; BatchNorm kept");
  return out;
}

std::string FormatDataset(const v1::Dataset& dataset) {
  return absl::StrCat("dataset ", dataset.id(), " '", dataset.name(), "': ", dataset.num_samples(),
                      " samples of shape ", FormatShape(dataset.sample_shape()),
                      dataset.has_labels() ? ", labelled" : ", no labels");
}

std::string DatasetListHeader() {
  return absl::StrFormat("%-24s %-28s %-10s %-12s %-8s %s", "ID", "NAME", "SAMPLES", "SHAPE",
                         "LABELS", "CREATED");
}

std::string FormatDatasetRow(const v1::Dataset& dataset) {
  return absl::StrFormat("%-24s %-28s %-10d %-12s %-8s %s", dataset.id(), dataset.name(),
                         dataset.num_samples(), FormatShape(dataset.sample_shape()),
                         dataset.has_labels() ? "yes" : "no",
                         FormatUnixMs(dataset.created_unix_ms()));
}

std::string JobListHeader() {
  return absl::StrFormat("%-24s %-24s %-10s %-13s %-9s %s", "ID", "MODEL", "STATE", "PHASE",
                         "PROGRESS", "CREATED");
}

std::string FormatJobRow(const v1::Job& job) {
  return absl::StrFormat("%-24s %-24s %-10s %-13s %-9s %s", job.id(), job.model_id(),
                         JobStateName(job.state()), job.phase().empty() ? "-" : job.phase(),
                         absl::StrFormat("%.0f%%", 100.0 * job.progress()),
                         FormatUnixMs(job.created_unix_ms()));
}

std::string FormatJobProgress(const v1::Job& job) {
  std::string line = absl::StrCat("job ", job.id(), " ", JobStateName(job.state()));
  if (!job.phase().empty()) absl::StrAppend(&line, " ", job.phase());
  if (job.state() == v1::RUNNING) {
    absl::StrAppend(&line, absl::StrFormat(" %3.0f%%", 100.0 * job.progress()));
    absl::StrAppend(&line, " ETA ",
                    job.has_eta_seconds() ? FormatDuration(job.eta_seconds()) : "?");
    if (job.cancel_requested()) absl::StrAppend(&line, " (cancelling)");
  }
  return line;
}

std::string FormatJob(const v1::Job& job, int max_sqnr_layers, int max_fp32_islands) {
  std::string out = absl::StrCat("job          ", job.id(), "\n",        //
                                 "model        ", job.model_id(), "\n",  //
                                 "state        ", JobStateName(job.state()), "\n");
  if (!job.phase().empty()) absl::StrAppend(&out, "phase        ", job.phase(), "\n");
  absl::StrAppend(&out, absl::StrFormat("progress     %.0f%%\n", 100.0 * job.progress()));
  if (job.has_eta_seconds()) {
    absl::StrAppend(&out, "eta          ", FormatDuration(job.eta_seconds()), "\n");
  }
  if (job.cancel_requested() && job.state() == v1::RUNNING) {
    absl::StrAppend(&out, "cancel       requested; the job stops at its next check\n");
  }
  if (!job.error().empty()) absl::StrAppend(&out, "error        ", job.error(), "\n");
  if (job.result_version() > 0) {
    absl::StrAppend(&out, "result       version ", job.result_version(), "\n");
  }
  const auto& request = job.request();
  absl::StrAppend(&out, "calibration  dataset ", request.calibration_dataset_id(), ", ",
                  request.num_calibration_samples() > 0
                      ? absl::StrCat(request.num_calibration_samples(), " samples")
                      : std::string("all samples"),
                  "\n");
  if (!request.evaluation_dataset_id().empty()) {
    absl::StrAppend(&out, "evaluation   dataset ", request.evaluation_dataset_id(), "\n");
  }
  absl::StrAppend(&out, "options      ", FormatQuantizeOptions(request), "\n");
  absl::StrAppend(&out, "created      ", FormatUnixMs(job.created_unix_ms()), "\n");
  absl::StrAppend(&out, "started      ", FormatUnixMs(job.started_unix_ms()), "\n");
  absl::StrAppend(&out, "finished     ", FormatUnixMs(job.finished_unix_ms()), "\n");
  if (job.started_unix_ms() > 0 && job.finished_unix_ms() >= job.started_unix_ms()) {
    absl::StrAppend(&out,
                    absl::StrFormat("duration     %.1f s\n",
                                    (job.finished_unix_ms() - job.started_unix_ms()) / 1000.0));
  }
  if (job.has_fp32_accuracy()) {
    absl::StrAppend(&out, "fp32         ", FormatAccuracy(job.fp32_accuracy()), "\n");
  }
  if (job.has_int8_accuracy()) {
    absl::StrAppend(&out, "int8         ", FormatAccuracy(job.int8_accuracy()), "\n");
  }
  if (job.has_speedup()) {
    absl::StrAppend(&out, "speed-up     ", FormatSpeedup(job.speedup()), "\n");
  }
  if (job.has_agreement()) {
    absl::StrAppend(&out, "vs fp32      ", FormatOutputAgreement(job.agreement()), "\n");
  }
  absl::StrAppend(&out, FormatLayerSqnrTable(job.layer_sqnr(), max_sqnr_layers));
  if (job.has_int8_coverage()) {
    absl::StrAppend(&out, FormatInt8Coverage(job.int8_coverage(), max_fp32_islands));
  }
  return out;
}

}  // namespace quantd::client
