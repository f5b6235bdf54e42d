// Internals of pattern recognition (src/passes/recognize_patterns*.cpp): what a matcher returns
// and the graph-reading helpers the matchers share. Not part of the public API.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slimrt/graph.h"

namespace slimrt::patterns {

// A node the rewrite adds in front of the fused op to produce one of its inputs.
struct PreNode {
  std::string op;
  std::vector<Value*> inputs;
  std::vector<std::pair<std::string, Attribute>> attrs;
};

struct Rewrite {
  std::string kind;     // "LayerNorm", "RMSNorm", "GELU", "SiLU", "Attention"
  std::string op_type;  // the fused op
  Node* last = nullptr;  // the pattern's final node: its output(0) becomes the fused output
  std::vector<Node*> nodes;  // every pattern node, `last` included
  std::vector<Value*> inputs;  // fused op inputs; slots filled by `consts` / `pre` may be nullptr
  std::vector<std::pair<size_t, Tensor>> consts;
  std::vector<std::pair<size_t, PreNode>> pre;
  std::map<std::string, Attribute> attrs;
};

struct Match {
  enum State { kNone, kRefused, kOk };
  State state = kNone;
  std::string why;
  Rewrite rw;
  Match& refuse(std::string reason) {
    state = kRefused;
    why = std::move(reason);
    return *this;
  }
};

// The producer of `v` when it is an `op` node, else nullptr.
Node* producer_of(const Value* v, const char* op);
// The first consumer of `v` that is an `op` node, else nullptr.
Node* consumer_of(const Value* v, const char* op);
// The value of a one-element float or integer constant of rank <= 1.
std::optional<double> scalar_constant(const Value* v);
// |value - expected| <= rel * |expected|.
bool near(double value, double expected, double rel);
// For a binary node with one scalar-constant operand: the other operand and the constant.
bool split_scalar(const Node& n, Value** other, double* c);
// The operand of binary node `n` that is not `v` (nullptr when `v` is not an operand).
Value* other_input(const Node& n, const Value* v);
// Both shapes known and equal.
bool same_shape(const Value* a, const Value* b);
std::string fmt(double v);

// The matchers, each anchored at one node (recognize_patterns_norm.cpp,
// recognize_patterns_activation.cpp, recognize_patterns_attention.cpp).
Match match_layer_norm(Graph& g, Node* anchor);
Match match_rms_norm(Graph& g, Node* anchor);
Match match_gelu(Graph& g, Node* anchor);
Match match_silu(Graph& g, Node* anchor);
Match match_attention(Graph& g, Node* anchor);

}  // namespace slimrt::patterns
