#include "server/storage/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

namespace fs = std::filesystem;

TEST(AtomicFileTest, WritesAndReplacesWithoutLeavingTempFiles) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "artifact.bin";
  ASSERT_TRUE(WriteFileAtomically(path, std::string("first\0version", 13)).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  auto contents = ReadFileToString(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(*contents, "second");
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "artifact.bin");
  }
  EXPECT_EQ(files, 1);
}

TEST(AtomicFileTest, WriteIntoMissingDirectoryFailsNamingThePath) {
  testing::TempDir dir;
  absl::Status status = WriteFileAtomically(dir.path() / "missing" / "f", "x");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("missing"), std::string::npos) << status;
}

TEST(AtomicFileTest, CreatesNestedDirectories) {
  testing::TempDir dir;
  const fs::path nested = dir.path() / "a" / "b" / "c";
  ASSERT_TRUE(CreateDirectoriesDurably(nested).ok());
  EXPECT_TRUE(fs::is_directory(nested));
  EXPECT_TRUE(CreateDirectoriesDurably(nested).ok());
}

TEST(AtomicFileTest, LinkOrCopySharesContents) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "src", "payload").ok());
  ASSERT_TRUE(LinkOrCopyFileAtomically(dir.path() / "src", dir.path() / "dst").ok());
  EXPECT_EQ(*ReadFileToString(dir.path() / "dst"), "payload");
}

TEST(AtomicFileTest, RemovesStaleTempFilesOnly) {
  testing::TempDir dir;
  ASSERT_TRUE(CreateDirectoriesDurably(dir.path() / "sub").ok());
  const fs::path stale = dir.path() / "sub" / (std::string("model.onnx") + kTempFileMarker + "w_1");
  std::ofstream(stale) << "half written";
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "sub" / "model.onnx", "complete").ok());
  RemoveStaleTempFiles(dir.path());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(dir.path() / "sub" / "model.onnx"));
}

TEST(AtomicFileTest, ReadingAMissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(ReadFileToString(dir.path() / "nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace quantd::server
