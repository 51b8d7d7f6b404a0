#ifndef QUANTD_CLIENT_PROTO_PRINTER_H_
#define QUANTD_CLIENT_PROTO_PRINTER_H_

#include <cstdint>
#include <string>

#include "google/protobuf/message.h"
#include "google/protobuf/repeated_field.h"
#include "quantd/v1/quantd.pb.h"

namespace quantd::client {

// Human-readable renderings of API messages for quantctl's output.
std::string FormatShape(const google::protobuf::RepeatedField<int64_t>& shape);
std::string FormatBytes(int64_t bytes);
std::string FormatUnixMs(int64_t unix_ms);
std::string PrecisionName(v1::Precision precision);
std::string JobStateName(v1::JobState state);
std::string FormatAccuracy(const v1::AccuracyReport& report);
// "3.41x throughput (batch 32: 812 vs 2770 samples/s), 2.10x latency (batch 1: ...)".
std::string FormatSpeedup(const v1::SpeedupReport& report);
// "42s", "3m05s": an ETA for humans.
std::string FormatDuration(double seconds);
// The message as JSON (proto field names, every field printed) and a newline:
// what --json prints, stable for scripts.
std::string FormatJson(const google::protobuf::Message& message);

std::string ModelListHeader();
std::string FormatModelRow(const v1::Model& model);
std::string FormatModel(const v1::Model& model);  // multi-line detail
// One line: id, name, inputs -> outputs, node counts.
std::string FormatModelSummary(const v1::Model& model);
// One line: calibration method and its settings, weight and activation
// quantization, the nodes kept fp32 (defaults spelled out).
std::string FormatQuantizeOptions(const v1::QuantizeModelRequest& request);
std::string FormatDataset(const v1::Dataset& dataset);
std::string DatasetListHeader();
std::string FormatDatasetRow(const v1::Dataset& dataset);
// "top-1 agreement 99.20%, cosine mean 0.9991 min 0.9870 on 1000 samples of dataset D".
std::string FormatOutputAgreement(const v1::OutputAgreement& agreement);
// A table of the `max_layers` layers with the lowest SQNR, worst first
// (0: every layer); "" when the job has none.
std::string FormatLayerSqnrTable(const google::protobuf::RepeatedPtrField<v1::LayerSqnr>& layers,
                                 int max_layers);
inline constexpr int kDefaultSqnrLayersShown = 10;
// "1.2 GMAC", "41.2 MMAC", "930 MAC": multiply-accumulates for humans.
std::string FormatMacs(int64_t macs);
// "97.3% of MACs (41.2 MMAC of 42.3 per sample), 120 of 134 nodes"; the
// share is rounded down, so only a version without fp32 MACs shows 100.0%.
std::string FormatInt8Share(const v1::Int8Coverage& coverage);
// The share line, the reorders per run, and a table of the `max_islands`
// fp32 islands with the most MACs, largest first (0: every one).
std::string FormatInt8Coverage(const v1::Int8Coverage& coverage, int max_islands);
inline constexpr int kDefaultFp32IslandsShown = 10;
// Multi-line detail; the SQNR table lists at most `max_sqnr_layers` and the
// coverage at most `max_fp32_islands` fp32 islands (0: all).
std::string FormatJob(const v1::Job& job, int max_sqnr_layers = kDefaultSqnrLayersShown,
                      int max_fp32_islands = kDefaultFp32IslandsShown);
std::string JobListHeader();
std::string FormatJobRow(const v1::Job& job);
// One line: "job J RUNNING calibrating  42% ETA 1m05s".
std::string FormatJobProgress(const v1::Job& job);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_PROTO_PRINTER_H_
