// How oneDNN exceptions become statuses: "no kernel for this" is a limit of
// quantd (UNIMPLEMENTED), bad arguments are the model's fault
// (INVALID_ARGUMENT), anything else is ours (INTERNAL). Clients and the
// conformance runner rely on the distinction.

#include "engine/runtime/plan_compiler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

using ::testing::HasSubstr;

TEST(DnnlErrorTest, StatusCodeFollowsOneDnnStatus) {
  const Node node{"conv7", "Conv", {}, {}, {}, {}};
  const absl::Status unimplemented =
      DnnlError(node, dnnl::error(dnnl_unimplemented, "could not create a primitive"));
  EXPECT_EQ(unimplemented.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(unimplemented.message(),
              HasSubstr("node 'conv7' (Conv): oneDNN: could not create a primitive"));
  EXPECT_EQ(DnnlError(node, dnnl::error(dnnl_invalid_arguments, "bad dims")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DnnlError(node, dnnl::error(dnnl_out_of_memory, "oom")).code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace quantd::engine
