// Layout passes: channels-last (NHWC) regions for half-precision 2-D convolutions, and
// sequence-major Attention.
//
// ---- convert_to_channels_last ----
// cuDNN's tensor-core convolutions read and write NHWC; fed NCHW they transpose on every call.
// This pass decides the layout once, at build time:
//
//  1. Candidates: Conv / FusedConv with a fp16/bf16 rank-4 X, a constant rank-4 W, group 1,
//     output channels a multiple of 8 (tensor-core tiles), symmetric explicit pads and a
//     residual (if any) of the output's exact shape; MaxPool / AveragePool with a fp16/bf16
//     rank-4 X and no Indices output. A node producing a graph output is not a candidate (its
//     output keeps its name and layout).
//  2. Regions: candidates joined through the values one produces and another reads as X or R.
//     Each boundary crossing costs a Transpose: a region is converted only when
//     2 x transposes <= its nodes (ResNet-50: one region of 53 nodes, 2 transposes; MobileNetV2's
//     pointwise convolutions, cut apart by depthwise ones into regions of 2 nodes needing 3
//     transposes or 4 needing 7, stay NCHW).
//  3. Rewrite: each node of a region becomes its channels_last form (ir/layout.h); Conv becomes
//     FusedConv without activation. W is transposed to [M, kH, kW, C] here, once (a weight
//     whose fp16 conversion was deferred to the writer stays deferred: only its layout moves).
//     Input channels that are not a multiple of 8 (ResNet's RGB stem) are zero-padded: W gets
//     zero input channels at build time and X a Pad node, so the stem runs on tensor cores
//     too (NCHW with 3 channels, cuDNN took 0.8 ms of ResNet-50's 5.7 at batch 64 on the H100).
//     Pointwise convolutions (1x1, stride 1, no pads) become FusedMatMul of X [N, H, W, C] by
//     W as [C, M], with the same bias, residual and activation: cuBLASLt adds the residual as
//     its C operand inside the GEMM, where cuDNN's fused call for half types needs a separate
//     epilogue pass over the output.
//     X and R come from the region's NHWC twin of the value, or from a Transpose inserted at the
//     region's edge; every converted output gets a Transpose back to NCHW, which dead-code
//     elimination removes wherever nothing outside the region reads it.
//
// ---- use_seq_major_attention ----
// Projections produce Q, K and V as [batch, seq, heads, dim] (or [seq, batch*heads, dim] in
// torch's seq-first MultiheadAttention); exporters transpose them to heads-major for the matmuls
// and transpose the result back. When all three inputs of an Attention node are Transposes that
// only swap the seq and heads axes, the node reads their sources instead (seq_major = 1, the
// kernels take row strides) and writes its output sequence-major; Transposes that swap the
// output back are bypassed. Each layer of BERT or ViT loses four transposes of its activations.
#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ir/layout.h"
#include "passes/pass_util.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

namespace {

bool is_half(DataType t) { return t == DataType::kFloat16 || t == DataType::kBFloat16; }

bool rank4_half(const Value* v) { return v && is_half(v->dtype()) && v->has_shape() && v->shape().size() == 4; }

// Why `n` cannot take the channels-last form, or "" when it can.
std::string refusal(const Node& n) {
  const std::string& op = n.op_type();
  const bool conv = op == "Conv" || op == "FusedConv";
  const bool pool = op == "MaxPool" || op == "AveragePool";
  if (!conv && !pool) return "op";
  if (is_channels_last(n)) return "already channels-last";
  if (!rank4_half(n.input(0))) return "X is not a fp16/bf16 rank-4 tensor";
  if (n.num_outputs() != 1 || !n.output(0)) return "it has more than one output";
  if (!n.output(0)->has_shape()) return "its output shape is unknown";
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return "auto_pad " + auto_pad;
  if (pool) return passes::feeds_graph_output(n) ? "it produces a graph output" : "";
  const std::vector<int64_t> pads = n.attr_ints("pads");
  if (pads.size() == 4 && (pads[0] != pads[2] || pads[1] != pads[3])) return "asymmetric pads";
  if (n.attr_int("group", 1) != 1) return "grouped convolution";
  const Value* w = n.input(1);
  if (!w || !w->constant() || w->constant()->rank() != 4) return "W is not a constant rank-4 tensor";
  const int64_t m = w->constant()->dim(0), c = w->constant()->dim(1);
  // Input channels that are not a multiple of 8 (an RGB stem) are padded with zeros.
  if (m % 8 != 0) return fmt::format("{} -> {} channels: the output channels are not a multiple of 8", c, m);
  if (const Value* r = n.input(3)) {
    if (!r->has_shape() || r->shape() != n.output(0)->shape()) return "the residual broadcasts";
  }
  if (passes::feeds_graph_output(n)) return "it produces a graph output";
  return "";
}

// A 1x1 convolution with stride 1, no padding and no dilation: over NHWC tensors it is a
// MatMul of X [N, H, W, C] by W as [C, M].
bool pointwise(const Node& n) {
  const Tensor* w = n.input(1)->constant();
  if (w->dim(2) != 1 || w->dim(3) != 1) return false;
  for (const char* a : {"strides", "dilations"}) {
    for (int64_t v : n.attr_ints(a)) {
      if (v != 1) return false;
    }
  }
  for (int64_t v : n.attr_ints("pads")) {
    if (v != 0) return false;
  }
  return true;
}

int64_t round_up8(int64_t c) { return (c + 7) / 8 * 8; }

std::vector<size_t> layout_inputs(const Node& n) {
  return n.op_type() == "Conv" ? std::vector<size_t>{0} : channels_last_inputs(n.op_type());
}

struct UnionFind {
  std::vector<size_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  size_t find(size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(size_t a, size_t b) { parent[find(a)] = find(b); }
};

class Rewriter {
 public:
  explicit Rewriter(Graph& g) : g_(g) {}

  // The NHWC twin of the NCHW value `v`: from the region, or a Transpose inserted now.
  Value* nhwc(Value* v) {
    auto it = twin_.find(v);
    if (it != twin_.end()) return it->second;
    Node* t = g_.add_node("Transpose", v->name() + "/to_nhwc", {v}, 1);
    t->set_attr("perm", std::vector<int64_t>{0, 2, 3, 1});
    t->output(0)->set_dtype(v->dtype());
    t->output(0)->set_shape(nchw_to_nhwc(v->shape()));
    ++added_;
    twin_[v] = t->output(0);
    return t->output(0);
  }

  // The NHWC value `v` with its channels zero-padded to `c8` (a Pad node, once per value).
  Value* padded(Value* v, int64_t c8) {
    auto it = padded_.find(v);
    if (it != padded_.end()) return it->second;
    const int64_t c = v->shape()[3].value().value_or(c8);
    Value* pads = g_.add_initializer(v->name() + "/pad_c_amounts",
                                     Tensor::from_vector<int64_t>(DataType::kInt64, {8}, {0, 0, 0, 0, 0, 0, 0, c8 - c}));
    Node* p = g_.add_node("Pad", v->name() + "/pad_c", {v, pads}, 1);
    Shape s = v->shape();
    s[3] = Dim(c8);
    p->output(0)->set_dtype(v->dtype());
    p->output(0)->set_shape(s);
    ++added_;
    padded_[v] = p->output(0);
    return p->output(0);
  }

  // W [M, C, kH, kW] -> [M, kH, kW, c8] (C zero-padded to c8), once per weight.
  Result<Value*> weight(Value* w, int64_t c8) {
    auto it = weights_.find(w);
    if (it != weights_.end()) return it->second;
    SLIMRT_ASSIGN_OR_RETURN(Tensor t, transpose4(*w->constant(), kNchwToNhwc));
    const int64_t c = t.dim(3);
    if (c8 != c) {
      SLIMRT_ASSIGN_OR_RETURN(Tensor p, Tensor::allocate(t.dtype(), {t.dim(0), t.dim(1), t.dim(2), c8}));
      const size_t row = static_cast<size_t>(c) * dtype_size(t.dtype()), prow = static_cast<size_t>(c8) * dtype_size(t.dtype());
      const auto* src = static_cast<const unsigned char*>(t.raw());
      auto* dst = static_cast<unsigned char*>(p.raw());
      for (int64_t r = 0; r < t.numel() / c; ++r) std::memcpy(dst + r * prow, src + r * row, row);
      t = std::move(p);
    }
    Value* out = g_.add_initializer(w->name() + "/khwc", std::move(t));
    out->set_dtype(w->dtype());  // a deferred fp16 conversion stays deferred
    weights_[w] = out;
    return out;
  }

  // W [M, C, 1, 1] -> [C, M], once per weight.
  Result<Value*> matmul_weight(Value* w) {
    auto it = matmul_weights_.find(w);
    if (it != matmul_weights_.end()) return it->second;
    SLIMRT_ASSIGN_OR_RETURN(Tensor t, transpose4(*w->constant(), {1, 2, 3, 0}));
    SLIMRT_ASSIGN_OR_RETURN(Tensor cm, t.reshaped({t.dim(0), t.dim(3)}));
    Value* out = g_.add_initializer(w->name() + "/cm", std::move(cm));
    out->set_dtype(w->dtype());
    matmul_weights_[w] = out;
    return out;
  }

  Status convert(Node* n) {
    const bool conv = n->op_type() == "Conv" || n->op_type() == "FusedConv";
    const bool as_matmul = conv && pointwise(*n);
    std::vector<Value*> inputs = n->inputs();
    inputs[0] = nhwc(inputs[0]);
    if (as_matmul) {
      SLIMRT_ASSIGN_OR_RETURN(inputs[1], matmul_weight(inputs[1]));
    } else if (conv) {
      const int64_t c8 = round_up8(n->input(1)->constant()->dim(1));
      if (c8 != n->input(1)->constant()->dim(1)) inputs[0] = padded(inputs[0], c8);
      SLIMRT_ASSIGN_OR_RETURN(inputs[1], weight(inputs[1], c8));
    }
    if (conv && inputs.size() > 3 && inputs[3]) inputs[3] = nhwc(inputs[3]);
    Value* y = n->output(0);
    Node* m;
    if (as_matmul) {
      // Bias, residual and activation keep their places: FusedMatMul(A, B, C?, R?) mirrors
      // FusedConv(X, W, B?, R?).
      m = g_.add_node("FusedMatMul", n->name() + "/pointwise", inputs, 1);
      for (const auto& [name, a] : n->attributes()) {
        if (name != "kernel_shape" && name != "strides" && name != "pads" && name != "dilations" && name != "group" &&
            name != "auto_pad")
          m->set_attr(name, a);
      }
      m->set_attr("gemm", int64_t{0});
    } else {
      m = g_.add_node(conv ? "FusedConv" : n->op_type(), n->name() + "/nhwc", inputs, 1);
      for (const auto& [name, a] : n->attributes()) m->set_attr(name, a);
      m->set_attr(kChannelsLastAttr, int64_t{1});
    }
    m->output(0)->set_dtype(y->dtype());
    m->output(0)->set_shape(nchw_to_nhwc(y->shape()));
    // The NCHW value, for readers outside the region (removed when there are none).
    Node* back = g_.add_node("Transpose", y->name() + "/to_nchw", {m->output(0)}, 1);
    back->set_attr("perm", std::vector<int64_t>{0, 3, 1, 2});
    back->output(0)->set_dtype(y->dtype());
    back->output(0)->set_shape(y->shape());
    g_.replace_all_uses(y, back->output(0));
    twin_[back->output(0)] = m->output(0);
    SLIMRT_RETURN_IF_ERROR(g_.remove_node(n));
    added_ += 1;
    return Status::OK();
  }

  int64_t added() const { return added_; }

 private:
  Graph& g_;
  std::map<Value*, Value*> twin_;
  std::map<Value*, Value*> padded_;
  std::map<Value*, Value*> weights_;
  std::map<Value*, Value*> matmul_weights_;
  int64_t added_ = 0;
};

// The permutation that swaps the seq and heads axes of a rank-3/4 tensor.
std::vector<int64_t> seq_heads_swap(size_t rank) {
  std::vector<int64_t> p(rank);
  std::iota(p.begin(), p.end(), int64_t{0});
  if (rank >= 3) std::swap(p[rank - 3], p[rank - 2]);
  return p;
}

// The source of `v` when it is a Transpose swapping the seq and heads axes, else nullptr.
Value* swapped_source(const Value* v, size_t rank) {
  const Node* t = v ? v->producer() : nullptr;
  if (!t || t->op_type() != "Transpose" || t->attr_ints("perm") != seq_heads_swap(rank)) return nullptr;
  return t->input(0);
}

}  // namespace

Status use_seq_major_attention(Graph& g, PassStats* stats) {
  int64_t converted = 0, bypassed = 0;
  for (Node* n : g.nodes()) {
    // Already sequence-major nodes (MHA canonicalization's, packed QKV included) are left alone.
    if (n->op_type() != "Attention" || n->attr_int("seq_major", 0) != 0 || n->attr_int("qkv_packed", 0) != 0 ||
        n->num_outputs() != 1 || passes::feeds_graph_output(*n))
      continue;
    const Value* y = n->output(0);
    if (!y || !y->has_shape() || !n->input(0) || !n->input(0)->has_shape()) continue;
    const size_t rank = n->input(0)->shape().size();
    if (rank != 3 && rank != 4) continue;
    std::vector<Value*> ins = n->inputs();
    bool all = true;
    for (size_t i = 0; i < 3; ++i) {
      Value* src = swapped_source(n->input(i), rank);
      all = all && src;
      if (src) ins[i] = src;
    }
    if (!all) continue;
    Node* m = g.add_node("Attention", n->name() + "/seq_major", ins, 1);
    for (const auto& [name, a] : n->attributes()) m->set_attr(name, a);
    m->set_attr("seq_major", int64_t{1});
    Shape ys = y->shape();
    std::swap(ys[rank - 3], ys[rank - 2]);
    m->output(0)->set_dtype(y->dtype());
    m->output(0)->set_shape(ys);
    // Y for other readers (removed when there are none); swap-backs read the new output.
    Node* back = g.add_node("Transpose", y->name() + "/heads_major", {m->output(0)}, 1);
    back->set_attr("perm", seq_heads_swap(rank));
    back->output(0)->set_dtype(y->dtype());
    back->output(0)->set_shape(y->shape());
    g.replace_all_uses(n->output(0), back->output(0));
    SLIMRT_RETURN_IF_ERROR(g.remove_node(n));
    for (Node* c : std::vector<Node*>(back->output(0)->consumers())) {
      if (c->op_type() != "Transpose" || c->attr_ints("perm") != seq_heads_swap(rank) || passes::feeds_graph_output(*c))
        continue;
      g.replace_all_uses(c->output(0), m->output(0));
      ++bypassed;
    }
    ++converted;
    passes::note(stats, "sequence-major " + m->describe());
  }
  if (stats) {
    stats->nodes_added += 2 * converted;
    stats->nodes_removed += converted;
  }
  if (converted == 0) return Status::OK();
  passes::note(stats, fmt::format("{} Attention nodes sequence-major, {} output transposes bypassed", converted, bypassed));
  // Sorted first: dead-code elimination sweeps in reverse order, consumers before producers.
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  return eliminate_dead_code(g, stats);
}

Status convert_to_channels_last(Graph& g, PassStats* stats) {
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  std::vector<Node*> cand;
  std::map<const Node*, size_t> index;
  for (Node* n : g.nodes()) {
    const std::string why = refusal(*n);
    if (why.empty()) {
      index[n] = cand.size();
      cand.push_back(n);
    } else if (why != "op" && (n->op_type() == "Conv" || n->op_type() == "FusedConv")) {
      passes::note(stats, "kept " + n->describe() + " NCHW: " + why);
    }
  }
  if (cand.empty()) return Status::OK();
  UnionFind uf(cand.size());
  for (size_t i = 0; i < cand.size(); ++i) {
    for (size_t k : layout_inputs(*cand[i])) {
      const Value* v = cand[i]->input(k);
      if (!v || !v->producer()) continue;
      auto it = index.find(v->producer());
      if (it != index.end()) uf.unite(i, it->second);
    }
  }
  // Transposes each region needs: values entering it (read as X/R, produced outside) and
  // values leaving it (read outside, or a graph output).
  std::map<size_t, int64_t> nodes_in, crossings;
  std::map<size_t, std::map<const Value*, bool>> entering;
  for (size_t i = 0; i < cand.size(); ++i) {
    const size_t r = uf.find(i);
    ++nodes_in[r];
    for (size_t k : layout_inputs(*cand[i])) {
      const Value* v = cand[i]->input(k);
      if (!v || v->constant()) continue;  // W: transposed at build, not at run time
      if (!v->producer() || !index.count(v->producer()) || uf.find(index.at(v->producer())) != r) entering[r][v] = true;
    }
    const Value* y = cand[i]->output(0);
    bool leaves = y->is_graph_output();
    for (const Node* c : y->consumers()) {
      auto it = index.find(c);
      bool layout_use = false;
      if (it != index.end() && uf.find(it->second) == r) {
        for (size_t k : layout_inputs(*c)) layout_use |= c->input(k) == y;
      }
      // Read by a non-member, or by a member other than as X/R (e.g. as W): needs NCHW.
      bool other_use = it == index.end() || uf.find(it->second) != r;
      if (!other_use) {
        for (size_t k = 0; k < c->num_inputs(); ++k) {
          const std::vector<size_t> li = layout_inputs(*c);
          if (c->input(k) == y && std::find(li.begin(), li.end(), k) == li.end()) other_use = true;
        }
      }
      leaves |= other_use || !layout_use;
    }
    if (leaves) ++crossings[r];
  }
  for (auto& [r, vals] : entering) crossings[r] += static_cast<int64_t>(vals.size());

  Rewriter rw(g);
  int64_t converted = 0;
  std::map<size_t, bool> accepted;
  for (const auto& [r, n] : nodes_in) {
    const bool ok = 2 * crossings[r] <= n;
    accepted[r] = ok;
    passes::note(stats, fmt::format("region of {} nodes from {}: {} transposes: {}", n, cand[r]->describe(),
                                    crossings[r], ok ? "channels-last" : "kept NCHW"));
  }
  for (size_t i = 0; i < cand.size(); ++i) {
    if (!accepted[uf.find(i)]) continue;
    SLIMRT_RETURN_IF_ERROR(rw.convert(cand[i]));
    ++converted;
  }
  if (stats) {
    stats->nodes_added += rw.added();
    stats->nodes_removed += converted;
  }
  if (converted == 0) return Status::OK();
  // Sorted first: dead-code elimination sweeps in reverse order, consumers before producers.
  SLIMRT_RETURN_IF_ERROR(g.topological_sort());
  return eliminate_dead_code(g, stats);
}

}  // namespace slimrt
