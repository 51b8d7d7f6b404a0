#include "server/storage/mapped_file.h"

#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "server/storage/atomic_file.h"
#include "tests/server/temp_dir.h"

namespace quantd::server {
namespace {

TEST(MappedFileTest, MapsTheFilesBytes) {
  testing::TempDir dir;
  const std::string contents = std::string("onnx\0bytes", 10) + std::string(70000, 'x');
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "m.onnx", contents).ok());
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(dir.path() / "m.onnx");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_EQ(mapped->bytes(), contents);
  // Moving hands the mapping over; the source is left empty.
  MappedFile moved = std::move(*mapped);
  EXPECT_EQ(moved.bytes(), contents);
  EXPECT_TRUE(mapped->bytes().empty());
}

TEST(MappedFileTest, EmptyFileHasNoBytes) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "empty", "").ok());
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(dir.path() / "empty");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  EXPECT_TRUE(mapped->bytes().empty());
}

TEST(MappedFileTest, MissingFileIsNotFoundNamingThePath) {
  testing::TempDir dir;
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(dir.path() / "absent.onnx");
  EXPECT_EQ(mapped.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(mapped.status().message().find("absent.onnx"), std::string::npos);
}

}  // namespace
}  // namespace quantd::server
