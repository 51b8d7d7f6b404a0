#include "engine/runtime/op_registry.h"

#include <set>
#include <string>

#include "engine/passes/fuse_activations.h"
#include "gtest/gtest.h"

namespace quantd::engine {
namespace {

// An op either runs (a shape rule and a compile function) or is evaluated
// only on constants and shapes (neither).
TEST(OpRegistryTest, EveryOpHasBothAShapeRuleAndACompileFunctionOrNeither) {
  ASSERT_FALSE(AllOps().empty());
  std::set<std::string> seen;
  for (const OpDefinition* op : AllOps()) {
    EXPECT_EQ(op->shape == nullptr, op->compile == nullptr) << op->op_type;
    EXPECT_TRUE(seen.insert(op->op_type).second) << op->op_type << " twice";
    EXPECT_EQ(FindOp(op->op_type), op);
  }
  EXPECT_EQ(FindOp("NoSuchOp"), nullptr);
}

// The passes fuse activations only into ops whose compile functions apply
// post-ops; views have no step to attach them to.
TEST(OpRegistryTest, FusionTargetsTakePostOps) {
  for (const OpDefinition* op : AllOps()) {
    if (TakesFusedActivations(op->op_type)) {
      EXPECT_TRUE(op->takes_post_ops) << op->op_type;
    }
    EXPECT_FALSE(op->view && op->takes_post_ops) << op->op_type;
  }
  for (const char* op_type : {"Conv", "Gemm", "MatMul", "Add", "Mul", "BatchNormalization"}) {
    EXPECT_TRUE(TakesFusedActivations(op_type)) << op_type;
  }
}

}  // namespace
}  // namespace quantd::engine
