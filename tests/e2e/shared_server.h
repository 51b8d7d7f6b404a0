#ifndef QUANTD_TESTS_E2E_SHARED_SERVER_H_
#define QUANTD_TESTS_E2E_SHARED_SERVER_H_

// One quantd server per test binary run, started on first use and stopped
// after the last test. ctest runs every case in its own process, so each case
// then gets a fresh server; a plain `e2e_tests` run shares one.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/data/dataset.h"
#include "quantd/v1/quantd.grpc.pb.h"
#include "tests/e2e/quantd_test_client.h"
#include "tests/e2e/server_process.h"
#include "tests/e2e/subprocess.h"

namespace quantd::e2e {

struct SharedServer {
  std::unique_ptr<ServerProcess> process;
  std::unique_ptr<v1::Quantd::Stub> stub;
  std::string resnet_bytes;
  std::string resnet_sha256;
  v1::Model resnet;             // uploaded once; no test quantizes it
  engine::Dataset test_images;  // Fashion-MNIST t10k, labelled, pixel/255
};

// Lowercase hex SHA-256 of a file, from `quantctl sha256` (checked against a
// known digest in quantctl_e2e_test.cc).
inline std::string Sha256OfFile(const std::string& path) {
  const ProgramResult result = RunProgram({QUANTCTL_BINARY, "sha256", path});
  return result.exit_code == 0 ? result.out.substr(0, 64) : "";
}

namespace internal {

inline absl::StatusOr<std::unique_ptr<SharedServer>> StartSharedServer() {
  auto server = std::make_unique<SharedServer>();
  auto process = ServerProcess::Start(QUANTD_SERVER_BINARY);
  if (!process.ok()) return process.status();
  server->process = *std::move(process);
  server->stub = ConnectTo(server->process->address());

  const std::string resnet_path = FixtureFile("resnet_fmnist.onnx");
  server->resnet_bytes = ReadWholeFile(resnet_path);
  if (server->resnet_bytes.empty()) {
    return absl::NotFoundError(absl::StrCat("fixture ", resnet_path, " is missing or empty"));
  }
  server->resnet_sha256 = Sha256OfFile(resnet_path);
  const grpc::Status upload = UploadModel(*server->stub, "resnet-shared", server->resnet_bytes,
                                          server->resnet_sha256, server->resnet);
  if (!upload.ok()) {
    return absl::InternalError(absl::StrCat("uploading ", resnet_path, " failed: code ",
                                            upload.error_code(), ": ", upload.error_message()));
  }
  auto images =
      engine::ReadIdxDataset(FashionMnistFile("t10k-images-idx3-ubyte.gz"),
                             FashionMnistFile("t10k-labels-idx1-ubyte.gz"), 1.0f / 255.0f);
  if (!images.ok()) return images.status();
  server->test_images = *std::move(images);
  return server;
}

struct SharedServerSlot {
  absl::Mutex mutex;
  bool tried ABSL_GUARDED_BY(mutex) = false;
  std::unique_ptr<SharedServer> server ABSL_GUARDED_BY(mutex);
  absl::Status error ABSL_GUARDED_BY(mutex);
};

inline SharedServerSlot& Slot() {
  static SharedServerSlot* const slot = new SharedServerSlot;  // never destroyed
  return *slot;
}

// Stops the shared server after the last test of the binary.
class SharedServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    absl::MutexLock lock(&Slot().mutex);
    Slot().server.reset();
  }
};

inline ::testing::Environment* const kSharedServerEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedServerEnvironment);

}  // namespace internal

// The running shared server, or why it could not be started.
inline absl::StatusOr<SharedServer*> GetSharedServer() {
  internal::SharedServerSlot& slot = internal::Slot();
  absl::MutexLock lock(&slot.mutex);
  if (!slot.tried) {
    slot.tried = true;
    auto started = internal::StartSharedServer();
    if (started.ok()) {
      slot.server = *std::move(started);
    } else {
      slot.error = started.status();
    }
  }
  if (slot.server == nullptr) return slot.error;
  return slot.server.get();
}

}  // namespace quantd::e2e

#endif  // QUANTD_TESTS_E2E_SHARED_SERVER_H_
