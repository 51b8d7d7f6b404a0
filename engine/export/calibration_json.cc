#include "engine/export/calibration_json.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/runtime/quantization_scheme.h"

namespace quantd::engine {
namespace {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out += ch;  // UTF-8 bytes pass through unchanged
    }
  }
  return out + "\"";
}

std::string JsonNumber(float value) { return absl::StrFormat("%.9g", value); }

}  // namespace

std::string CalibrationTableToJson(const CalibrationTable& table,
                                   const QuantizationOptions& options) {
  std::string json = absl::StrCat(
      "{\"format\": \"quantd.calibration.v1\", \"activation_bits\": ", options.activation_bits,
      ", \"symmetric_activations\": ", options.symmetric_activations ? "true" : "false",
      ", \"simulated\": ", options.simulated() ? "true" : "false", ", \"tensors\": {");
  bool first = true;
  for (const auto& [name, range] : table.ranges) {
    const ActivationGrid grid = ActivationGridForRange(range, options);
    const std::string type =
        options.activation_bits == 8
            ? (grid.is_signed() ? "int8" : "uint8")
            : absl::StrCat(grid.is_signed() ? "int" : "uint", options.activation_bits);
    absl::StrAppend(&json, first ? "\n  " : ",\n  ", JsonString(name),
                    ": {\"min\": ", JsonNumber(range.min), ", \"max\": ", JsonNumber(range.max),
                    ", \"scale\": ", JsonNumber(1.0f / grid.scale),
                    ", \"zero_point\": ", grid.zero_point, ", \"type\": \"", type, "\"}");
    first = false;
  }
  absl::StrAppend(&json, first ? "}}\n" : "\n}}\n");
  return json;
}

}  // namespace quantd::engine
