// Upload streams as the server assembles them: the input is a sequence of
// messages, each a 2-byte little-endian length and that many bytes of a
// serialized UploadModelRequest (first byte of the input even) or
// UploadDatasetRequest (odd). A model stream is received and inspected; a
// dataset stream received and decoded into samples.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "google/protobuf/stubs/logging.h"
#include "server/api/dataset_upload.h"
#include "server/api/model_upload.h"

namespace {

// Smaller than the server's defaults so that runs stay fast; the code paths
// are the same.
constexpr int64_t kMaxUploadBytes = int64_t{1} << 20;
constexpr int64_t kMaxSampleBytes = int64_t{16} << 20;

const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path* dir = [] {
    auto* path = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                           ("quantd-fuzz-" + std::to_string(getpid())));
    std::filesystem::create_directories(*path);
    return path;
  }();
  return *dir;
}

// The messages the input holds; a truncated last one is dropped.
template <typename Message>
std::vector<Message> Messages(const uint8_t* data, size_t size) {
  std::vector<Message> messages;
  while (size >= 2) {
    const size_t length = data[0] | (size_t{data[1]} << 8);
    data += 2;
    size -= 2;
    if (length > size) break;
    Message message;
    if (!message.ParseFromArray(data, static_cast<int>(length))) break;
    messages.push_back(std::move(message));
    data += length;
    size -= length;
  }
  return messages;
}

template <typename Message>
quantd::server::StreamReader<Message> Replay(const std::vector<Message>& messages) {
  return [&messages, next = size_t{0}](Message& message) mutable {
    if (next == messages.size()) return false;
    message = messages[next++];
    return true;
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every invalid UTF-8 string it parses; mutated inputs are
  // full of them.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  (void)quiet;
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    const auto messages = Messages<quantd::v1::UploadModelRequest>(data + 1, size - 1);
    (void)quantd::server::ReceiveAndValidateModel(Replay(messages), kMaxUploadBytes, ScratchDir());
    return 0;
  }
  const auto messages = Messages<quantd::v1::UploadDatasetRequest>(data + 1, size - 1);
  auto received =
      quantd::server::ReceiveDatasetUpload(Replay(messages), kMaxUploadBytes, ScratchDir());
  if (received.ok()) (void)quantd::server::DecodeDataset(*received, ScratchDir(), kMaxSampleBytes);
  return 0;
}
