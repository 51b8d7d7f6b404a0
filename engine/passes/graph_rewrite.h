#ifndef QUANTD_ENGINE_PASSES_GRAPH_REWRITE_H_
#define QUANTD_ENGINE_PASSES_GRAPH_REWRITE_H_

// The few queries and edits every rewrite pass needs. A value's "uses" are
// node inputs plus post-op sum inputs (a fused residual still reads its
// value); graph outputs are asked about separately because their names are
// part of the model's public interface and must survive rewrites.

#include <set>
#include <string>
#include <string_view>

#include "engine/graph/graph.h"

namespace quantd::engine {

// Number of node inputs and PostOp::sum_input fields naming `value`.
int CountValueUses(const Graph& graph, std::string_view value);

bool IsGraphOutput(const Graph& graph, std::string_view value);

// Index in graph.nodes of the node producing `value`, or -1 (graph inputs,
// constants and unknown names).
int FindProducer(const Graph& graph, std::string_view value);

// Points every node input and sum input naming `from` at `to` instead. Graph
// outputs are left alone. Takes copies: callers often pass names that live in
// the nodes being edited.
void ReplaceValueUses(Graph& graph, std::string from, std::string to);

// `base`, or `base` with a numeric suffix, not yet naming any value or node.
std::string UniqueValueName(const Graph& graph, const std::string& base);

// Pattern matching for passes that collapse a written-out op into one node.
// Whether `name` is a float constant holding one value within 1e-6 of `value`.
bool IsScalar(const Graph& graph, const std::string& name, float value);
// The node producing `value` when a pattern may absorb it: its op type is
// `op_type`, it has one output, `value` has exactly `uses` readers (all in the
// pattern) and is no graph output. nullptr otherwise.
const Node* InnerProducer(const Graph& graph, const std::string& value, const char* op_type,
                          int uses = 1);
// Erases every node whose outputs all lie in `values` (a collapsed pattern's
// inner nodes, once nothing outside reads them).
void EraseNodesProducing(Graph& graph, const std::set<std::string>& values);

}  // namespace quantd::engine

#endif  // QUANTD_ENGINE_PASSES_GRAPH_REWRITE_H_
