#ifndef QUANTD_CLIENT_PROTO_PRINTER_H_
#define QUANTD_CLIENT_PROTO_PRINTER_H_

#include <cstdint>
#include <string>

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

std::string ModelListHeader();
std::string FormatModelRow(const v1::Model& model);
std::string FormatModel(const v1::Model& model);  // multi-line detail
// One line: id, name, inputs -> outputs, node counts.
std::string FormatModelSummary(const v1::Model& model);
std::string FormatDataset(const v1::Dataset& dataset);
std::string FormatJob(const v1::Job& job);  // multi-line detail
// One line: "job J RUNNING calibrating 42%".
std::string FormatJobProgress(const v1::Job& job);

}  // namespace quantd::client

#endif  // QUANTD_CLIENT_PROTO_PRINTER_H_
