#include "engine/passes/standard_passes.h"

#include "engine/passes/collapse_gelu.h"
#include "engine/passes/collapse_layer_norm.h"
#include "engine/passes/fold_batch_norm_into_conv.h"
#include "engine/passes/fold_constants.h"
#include "engine/passes/fuse_activations.h"
#include "engine/passes/fuse_residual_add.h"
#include "engine/passes/lift_1d_windows.h"
#include "engine/passes/remove_identity_nodes.h"
#include "engine/passes/remove_unused_constants.h"
#include "engine/status_macros.h"

namespace quantd::engine {

absl::Status RunStandardPasses(Graph& graph, const PassOptions& options) {
  RETURN_IF_ERROR(FoldConstants(graph));
  RETURN_IF_ERROR(RemoveIdentityNodes(graph));
  // Written-out ops collapse whether or not fusion is on: calibration's
  // unfused sessions run them too.
  RETURN_IF_ERROR(CollapseLayerNorm(graph));
  RETURN_IF_ERROR(CollapseGelu(graph));
  if (options.fold_batch_norm) RETURN_IF_ERROR(FoldBatchNormIntoConv(graph));
  if (options.fuse_operators) {
    RETURN_IF_ERROR(FuseResidualAdd(graph));
    RETURN_IF_ERROR(FuseActivations(graph));
  }
  // After fusion, which matches 1-D nodes as it does 2-D ones.
  RETURN_IF_ERROR(Lift1dWindowsTo2d(graph));
  return RemoveUnusedConstants(graph);
}

}  // namespace quantd::engine
