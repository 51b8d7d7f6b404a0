// Dataset files as clients upload them: gzip (maybe) around IDX arrays of
// images (rank 3) and labels (rank 1).
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/data/gzip.h"
#include "engine/data/idx_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string contents(reinterpret_cast<const char*>(data), size);
  if (quantd::engine::IsGzip(contents)) {
    // The server's cap is --max_dataset_bytes; a smaller one keeps runs fast.
    auto inflated = quantd::engine::Gunzip(contents, "fuzz input", size_t{16} << 20);
    if (!inflated.ok()) return 0;
    contents = *std::move(inflated);
  }
  (void)quantd::engine::ParseIdxUbyte(contents, 3, "images");
  (void)quantd::engine::ParseIdxUbyte(contents, 1, "labels");
  return 0;
}
