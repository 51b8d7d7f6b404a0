#include "engine/data/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace quantd::engine {
namespace {

// Owns a z_stream set up for gzip decoding; inflateEnd runs on every path.
class Inflater {
 public:
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() {
    if (initialized_) inflateEnd(&stream_);
  }

  bool Init() {
    // 16 + MAX_WBITS: expect a gzip header and trailer, not a raw zlib stream.
    initialized_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK;
    return initialized_;
  }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool initialized_ = false;
};

}  // namespace

bool IsGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

absl::StatusOr<std::string> Gunzip(std::string_view compressed, const std::string& what,
                                   size_t max_output_bytes) {
  Inflater inflater;
  if (!inflater.Init()) {
    return absl::InternalError(absl::StrCat(what, ": cannot initialise zlib"));
  }
  z_stream& stream = inflater.stream();
  // zlib counts in uInt; feed inputs larger than 4 GiB in slices.
  constexpr size_t kMaxChunk = std::numeric_limits<uInt>::max();
  const auto* next_in = reinterpret_cast<const Bytef*>(compressed.data());
  size_t in_left = compressed.size();

  std::string out;
  constexpr size_t kGrowBytes = size_t{1} << 20;
  int rc = Z_OK;
  while (true) {
    if (stream.avail_in == 0 && in_left > 0) {
      const size_t chunk = std::min(in_left, kMaxChunk);
      stream.next_in = const_cast<Bytef*>(next_in);  // zlib's API is not const-correct
      stream.avail_in = static_cast<uInt>(chunk);
      next_in += chunk;
      in_left -= chunk;
    }
    if (out.size() > max_output_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": gzip stream inflates to more than ", max_output_bytes, " bytes"));
    }
    const size_t old_size = out.size();
    // One byte beyond the limit so that "exactly at the limit" and "over the
    // limit" can be told apart.
    const size_t grow = std::min({kGrowBytes, max_output_bytes + 1 - old_size, kMaxChunk});
    out.resize(old_size + grow);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + old_size);
    stream.avail_out = static_cast<uInt>(grow);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.resize(old_size + (grow - stream.avail_out));
    if (rc == Z_STREAM_END) {
      // A gzip file may hold several members back to back; skip trailing
      // zero padding some tools append, and decode any further member.
      while (stream.avail_in > 0 && *stream.next_in == 0) {
        ++stream.next_in;
        --stream.avail_in;
      }
      if (stream.avail_in == 0 && in_left == 0) break;
      if (inflateReset(&stream) != Z_OK) {
        return absl::InternalError(absl::StrCat(what, ": cannot reset zlib"));
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && stream.avail_in == 0 && in_left == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": gzip stream is truncated (ends after ", out.size(), " inflated bytes)"));
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": corrupt gzip data: ", stream.msg != nullptr ? stream.msg : zError(rc)));
    }
  }
  if (out.size() > max_output_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": gzip stream inflates to more than ", max_output_bytes, " bytes"));
  }
  return out;
}

}  // namespace quantd::engine
