// download: writes a model version's artifacts (ONNX model, calibration
// table, QDQ ONNX model, calibration JSON) into a local directory, checking
// each against its sha256.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/commands.h"
#include "client/proto_printer.h"
#include "client/rpc_error.h"
#include "common/sha256.h"

namespace quantd::client {
namespace {

namespace fs = std::filesystem;

struct ReceivedArtifact {
  std::string file_name;
  int64_t size_bytes = 0;
  std::string sha256;
  std::string data;
};

bool ParseArtifact(const std::string& text, v1::ArtifactKind& kind) {
  if (text.empty()) {
    kind = v1::ARTIFACT_KIND_UNSPECIFIED;
  } else if (text == "onnx") {
    kind = v1::ONNX_MODEL;
  } else if (text == "calibration") {
    kind = v1::CALIBRATION_TABLE;
  } else if (text == "qdq") {
    kind = v1::QDQ_MODEL;
  } else if (text == "calibration-json") {
    kind = v1::CALIBRATION_JSON;
  } else {
    return false;
  }
  return true;
}

// Writes next to the destination and renames, so an interrupted download
// never leaves a truncated file under the real name.
absl::Status WriteFile(const fs::path& path, const std::string& data) {
  const fs::path partial = fs::path(path.string() + ".partial");
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", partial.string()));
  }
  std::error_code ec;
  fs::rename(partial, path, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot rename ", partial.string(), " to ",
                                            path.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

int DownloadCommand(const CommandContext& ctx) {
  int32_t version = 0;
  if (ctx.args.size() != 2 || !absl::SimpleAtoi(ctx.args[1], &version) || version < 1) {
    return ReportUsageError("download takes MODEL_ID VERSION (a number >= 1)");
  }
  v1::ArtifactKind kind;
  if (!ParseArtifact(ctx.options.artifact, kind)) {
    return ReportUsageError(
        "--artifact must be onnx, calibration, qdq or calibration-json (default: every artifact "
        "the version has)");
  }
  const fs::path out_dir = ctx.options.out_dir.empty()
                               ? fs::path(absl::StrCat(ctx.args[0], "-v", version))
                               : fs::path(ctx.options.out_dir);

  grpc::ClientContext context;
  v1::DownloadVersionRequest request;
  request.set_model_id(ctx.args[0]);
  request.set_version(version);
  request.set_artifact(kind);
  auto reader = ctx.stub.DownloadVersion(&context, request);
  std::map<v1::ArtifactKind, ReceivedArtifact> artifacts;
  v1::DownloadVersionResponse chunk;
  while (reader->Read(&chunk)) {
    ReceivedArtifact& artifact = artifacts[chunk.artifact()];
    if (!chunk.file_name().empty()) {
      artifact.file_name = chunk.file_name();
      artifact.size_bytes = chunk.size_bytes();
      artifact.sha256 = chunk.sha256();
    }
    artifact.data += chunk.data();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError("download", status, ctx.options.server);

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) {
    return ReportLocalError(
        "download",
        absl::InternalError(absl::StrCat("cannot create ", out_dir.string(), ": ", ec.message())));
  }
  for (const auto& [artifact_kind, artifact] : artifacts) {
    // The name comes from the server: keep only its last component.
    const std::string name = fs::path(artifact.file_name).filename().string();
    if (name.empty() || Sha256Hex(artifact.data) != artifact.sha256 ||
        static_cast<int64_t>(artifact.data.size()) != artifact.size_bytes) {
      return ReportLocalError(
          "download", absl::DataLossError(absl::StrCat(
                          v1::ArtifactKind_Name(artifact_kind),
                          " arrived incomplete or corrupt (size or sha256 mismatch); retry")));
    }
    const fs::path path = out_dir / name;
    if (absl::Status written = WriteFile(path, artifact.data); !written.ok()) {
      return ReportLocalError("download", written);
    }
    std::fprintf(stderr, "wrote %s (%s, sha256 %s)\n", path.string().c_str(),
                 FormatBytes(artifact.size_bytes).c_str(), artifact.sha256.c_str());
    std::printf("%s\n", path.string().c_str());
  }
  return kExitOk;
}

}  // namespace quantd::client
