#include "engine/quant/calibration_table.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/status_macros.h"

namespace quantd::engine {
namespace {

absl::StatusOr<float> ParseRangeBound(absl::string_view field, absl::string_view bound,
                                      int64_t line_number) {
  float value = 0.0f;
  // SimpleAtof also accepts "nan" and "inf"; a range must be finite to yield
  // a quantization scale, so those are rejected too.
  if (!absl::SimpleAtof(field, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat("calibration table line ", line_number, ": ",
                                                   bound, " '", field, "' is not a finite number"));
  }
  return value;
}

}  // namespace

std::string CalibrationTable::Serialize() const {
  std::string text;
  for (const auto& [name, range] : ranges) {
    // 9 significant digits are enough for any float to parse back to the
    // same bits, so a stored table rebuilds exactly the same int8 model.
    absl::StrAppendFormat(&text, "%s\t%.9g\t%.9g\n", name, range.min, range.max);
  }
  return text;
}

absl::StatusOr<CalibrationTable> CalibrationTable::Parse(std::string_view text) {
  CalibrationTable table;
  int64_t line_number = 0;
  // Debian's Abseil has its own string_view type, distinct from std::string_view.
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    // Tolerate files that passed through a CRLF editor, and blank lines
    // (including the one after the final newline).
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibration table line ", line_number, ": expected 3 tab-separated ",
                       "fields (name, min, max), got ", fields.size()));
    }
    if (fields[0].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibration table line ", line_number, ": value name is empty"));
    }
    TensorRange range;
    ASSIGN_OR_RETURN(range.min, ParseRangeBound(fields[1], "min", line_number));
    ASSIGN_OR_RETURN(range.max, ParseRangeBound(fields[2], "max", line_number));
    if (range.min > range.max) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "calibration table line %d: value '%s' has min %.9g greater than max %.9g", line_number,
          fields[0], range.min, range.max));
    }
    if (!table.ranges.emplace(std::string(fields[0]), range).second) {
      return absl::InvalidArgumentError(absl::StrCat("calibration table line ", line_number,
                                                     ": duplicate value name '", fields[0], "'"));
    }
  }
  return table;
}

}  // namespace quantd::engine
