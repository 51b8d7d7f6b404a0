#include "engine/data/gzip.h"

#include <zlib.h>

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

std::string GzipCompress(std::string_view raw) {
  z_stream stream{};
  // 16 + MAX_WBITS writes a gzip (not zlib) header and trailer.
  EXPECT_EQ(
      deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&stream, raw.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  stream.avail_in = static_cast<uInt>(raw.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string PseudoRandomBytes(size_t n) {
  std::string bytes(n, '\0');
  uint32_t state = 12345;
  for (char& c : bytes) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return bytes;
}

TEST(GzipTest, DetectsMagic) {
  EXPECT_TRUE(IsGzip(GzipCompress("hello")));
  EXPECT_TRUE(IsGzip(std::string("\x1f\x8b", 2)));
  EXPECT_FALSE(IsGzip(std::string("\x1f", 1)));
  EXPECT_FALSE(IsGzip(std::string("\x00\x00\x08\x03", 4)));
  EXPECT_FALSE(IsGzip(""));
}

TEST(GzipTest, RoundTripsLargerThanOneGrowStep) {
  // Spans several of Gunzip's 1 MiB output steps.
  const std::string raw = PseudoRandomBytes(3 * (1 << 20) + 17);
  absl::StatusOr<std::string> inflated = Gunzip(GzipCompress(raw), "test", raw.size());
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, raw);
}

TEST(GzipTest, InflatesEmptyPayload) {
  absl::StatusOr<std::string> inflated = Gunzip(GzipCompress(""), "test", 0);
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, "");
}

TEST(GzipTest, ConcatenatedMembersAreJoined) {
  absl::StatusOr<std::string> inflated =
      Gunzip(GzipCompress("abc") + GzipCompress("defg"), "test", 100);
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, "abcdefg");
}

TEST(GzipTest, TruncatedStreamIsInvalidArgument) {
  const std::string gz = GzipCompress(PseudoRandomBytes(1000));
  absl::StatusOr<std::string> inflated = Gunzip(gz.substr(0, gz.size() - 10), "my.gz", 2000);
  EXPECT_EQ(inflated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(inflated.status().message()), HasSubstr("my.gz"));
  EXPECT_THAT(std::string(inflated.status().message()), HasSubstr("truncated"));
}

TEST(GzipTest, CorruptDataIsInvalidArgument) {
  std::string gz = GzipCompress(PseudoRandomBytes(1000));
  // Flip bits in the deflate body (the 10-byte header stays intact).
  for (size_t i = 20; i < 40; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  absl::StatusOr<std::string> inflated = Gunzip(gz, "my.gz", 2000);
  EXPECT_EQ(inflated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(inflated.status().message()), HasSubstr("my.gz"));
}

TEST(GzipTest, CorruptChecksumIsInvalidArgument) {
  std::string gz = GzipCompress("some payload");
  gz[gz.size() - 6] = static_cast<char>(gz[gz.size() - 6] ^ 1);  // inside the CRC-32
  absl::StatusOr<std::string> inflated = Gunzip(gz, "my.gz", 100);
  EXPECT_EQ(inflated.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GzipTest, OutputLimitIsEnforcedExactly) {
  const std::string raw(4096, 'z');
  const std::string gz = GzipCompress(raw);
  EXPECT_TRUE(Gunzip(gz, "bomb.gz", raw.size()).ok());
  absl::StatusOr<std::string> inflated = Gunzip(gz, "bomb.gz", raw.size() - 1);
  EXPECT_EQ(inflated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(inflated.status().message()), HasSubstr("more than 4095 bytes"));
}

}  // namespace
}  // namespace quantd::engine
