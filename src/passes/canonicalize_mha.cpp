// Multi-head attention canonicalization: the data movement exporters put between an Attention
// node and the projections around it goes away.
//
// PyTorch's nn.MultiheadAttention exports its packed in-projection and its head split as a
// chain of pure data movement. torch 2.x, batch_first = True, per layer (x [B, S, E]):
//
//   x -> Transpose(1,0,2) -> MatMul(W_in [E, 3E]) + b -> Reshape [S,B,3,E] -> Unsqueeze(0)
//     -> Transpose(3,1,2,0,4) -> Squeeze(3) -> Gather(0, i) -> Reshape [S,B*H,Dh]
//     -> Transpose(1,0,2) -> Reshape [B,H,S,Dh] -> Attention -> Transpose(2,0,1,3)
//     -> Reshape [S*B, E] -> Gemm(W_out, b, transB) -> Reshape [S,B,E] -> Transpose(1,0,2)
//
// (torch 1.13 slices the packed projection three ways instead of the Reshape .. Gather, and
// its Attention is rank 3, [B*H, S, Dh]). That is 7 transposes, 3 gathers and the shape
// arithmetic feeding the reshapes, per layer. Since every op between the projections only
// moves elements, each Attention input is some columns of x W + b read in some order; the pass
// proves which (the layout trace below) and, when Q, K and V are columns [c, c + H*Dh) of such
// a projection read as [batch, heads, seq, dim], and the output reaches a projection as rows
// of [heads, dim], rebuilds the block as
//
//   Q = x W[:, c:c+H*Dh] + b[c:c+H*Dh] -> Reshape [B,S,H,Dh]   (K, V alike; W and b are split
//   Attention(seq_major = 1) -> [B,S,H,Dv]                      into three initializers here)
//     -> Reshape [B,S,H*Dv] -> MatMul(W_out^T) + b_out -> (Reshape to the old final shape)
//
// so epilogue fusion then folds the biases and the residual add into the GEMMs. With a
// seq-first x ([S, B, E], batch_first = False) the node takes the rank-3 seq-major form
// [S, B*H, Dh] instead. The new Reshapes' shapes are constants valid for every value of the
// symbolic dims (0 copies an input dim, -1 takes the rest), so the shape arithmetic dies too.
//
// Packed QKV (pack_qkv, the default). Three GEMMs of [B*S, E] x [E, H*Dh] are slower on the
// GPU than one of [B*S, E] x [E, 3*H*Dh]. When Q, K and V are projections of the same
// batch-first x with the same heads and dim, the block becomes
//
//   QKV = x [W_q | W_k | W_v] + [b_q | b_k | b_v] -> Reshape [B,S,3,H,Dh]
//   Attention(QKV, <absent>, <absent>, mask?; seq_major = 1, qkv_packed = 1) -> [B,S,H,Dh]
//
// (torch's packed in-projection is W_in itself, nothing copied; BERT's three weights are
// concatenated once; a projection without a bias gets zeros). A seq-first x, different x's
// (cross-attention) or a V head dim unlike Q's keep the three projections; the rewrite line
// says why.
//
// Layout trace. An element of a traced tensor is addressed by a list of "atoms" per axis: an
// atom is a run of `size` indices of one source axis with `stride` (the axis index is the sum of
// atom index * stride over the atoms of that source), outer atoms first. Transpose permutes
// axes; Reshape, Flatten, Squeeze and Unsqueeze regroup the row-major atom sequence into the
// output shape, splitting an atom where a new dim boundary falls inside it (symbolic sizes split
// by exact Dim division); Gather of one constant index and a Slice of a whole sub-block pin an
// atom to one index. Anything else, or a split that does not divide, ends the trace (the node
// is kept). The input trace starts at x (sources: x's leading axes, the contracted axis, the
// projection's columns); the output trace at the Attention output (sources: batch, heads, seq,
// dim, and the output projection's columns).
//
// Refusals (the node is left alone and a `kept` line says why): an input that is not such a
// projection (rotary embeddings, KV caches), non-constant or non-2-D weights, a bias that is not
// a vector over the columns, columns that are not [heads, dim] contiguous, batch or seq axes that
// are not exactly x's, a pinned batch or seq index, x not rank 3, an intermediate value read by
// anything outside the pattern (Shape readers are allowed when their integer arithmetic only
// feeds the pattern), a graph output inside the pattern, an output that does not reach a
// MatMul/Gemm as [rows, heads*dim] or whose final layout is not x's, a mask that would broadcast
// differently after a rank change, a final shape no constant Reshape can produce.
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "onnx/weight_memory.h"
#include "passes/pass_util.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

namespace {

// Atom sources beyond the leading axes of x (0, 1, ...).
enum Source : int { kContracted = 1000, kColumns, kBatch, kHeads, kSeq, kDim, kOut };

struct Atom {
  int src = 0;
  Dim stride = 1;
  Dim size = 1;
  bool operator==(const Atom& o) const { return src == o.src && stride == o.stride && size == o.size; }
};
using Atoms = std::vector<Atom>;

struct Layout {
  std::vector<Atoms> axes;
  std::vector<std::pair<Atom, int64_t>> fixed;  // atoms a Gather or Slice pinned to one index
};

Atoms atom_of(int src, const Dim& size) { return size == Dim(1) ? Atoms{} : Atoms{{src, Dim(1), size}}; }

// Merges neighbours that are one run of their source: (s, k*n, m) then (s, k, n) is (s, k, m*n).
Atoms normalized(const Atoms& a) {
  Atoms out;
  for (const Atom& x : a) {
    if (!out.empty() && out.back().src == x.src && out.back().stride == x.stride * x.size) {
      out.back() = {x.src, x.stride, out.back().size * x.size};
    } else {
      out.push_back(x);
    }
  }
  return out;
}

Dim size_of(const Atoms& a) {
  Dim d(1);
  for (const Atom& x : a) d = d * x.size;
  return d;
}

std::optional<std::vector<int64_t>> int_constant(const Value* v) {
  if (!v || !v->constant() || !dtype_is_integer(v->constant()->dtype())) return std::nullopt;
  return v->constant()->to_int64_vector();
}

// Reshape semantics: the row-major sequence of atoms regrouped into `out`.
std::string regroup(Layout* l, const Shape& out) {
  std::deque<Atom> flat;
  for (const Atoms& ax : l->axes) flat.insert(flat.end(), ax.begin(), ax.end());
  std::vector<Atoms> axes(out.size());
  for (size_t k = 0; k < out.size(); ++k) {
    Dim need = out[k];
    while (need != Dim(1)) {
      if (flat.empty()) return "the reshape to " + shape_to_string(out) + " does not follow the traced dims";
      const Atom a = flat.front();
      flat.pop_front();
      if (a.size == need) {
        axes[k].push_back(a);
        need = Dim(1);
      } else if (std::optional<Dim> q = need.divide(a.size)) {
        axes[k].push_back(a);
        need = *q;
      } else if (std::optional<Dim> r = a.size.divide(need)) {
        // The dim ends inside the atom: its outer part goes here, the rest stays in front.
        axes[k].push_back({a.src, a.stride * *r, need});
        flat.push_front({a.src, a.stride, *r});
        need = Dim(1);
      } else {
        return fmt::format("the reshape to {} splits a dim of {} unevenly", shape_to_string(out), a.size.to_string());
      }
    }
    axes[k] = normalized(axes[k]);
  }
  if (!flat.empty()) return "the reshape to " + shape_to_string(out) + " does not follow the traced dims";
  l->axes = std::move(axes);
  return "";
}

// Pins axis `axis` to `index` (Gather) or to the block [start, start + len) (Slice); the axis
// must be one atom of static size.
std::string pin(Layout* l, size_t axis, int64_t start, int64_t len, const Node& n) {
  const Atoms ax = normalized(l->axes[axis]);
  if (ax.empty()) {
    if (start != 0 || len != 1) return n.describe() + " reads past a dim of 1";
    return "";
  }
  const std::optional<int64_t> size = ax.size() == 1 ? ax[0].size.value() : std::nullopt;
  if (!size) return n.describe() + " selects from an axis that is not one static run of a source";
  if (start < 0 || len <= 0 || start + len > *size || *size % len != 0 || start % len != 0)
    return fmt::format("{} selects [{}, {}) of {}, not a whole block", n.describe(), start, start + len, *size);
  if (len == *size) return "";
  const Atom a = ax[0];
  l->fixed.push_back({Atom{a.src, a.stride * Dim(len), Dim(*size / len)}, start / len});
  l->axes[axis] = len == 1 ? Atoms{} : Atoms{{a.src, a.stride, Dim(len)}};
  return "";
}

bool is_move(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Transpose" ||
         op == "Gather" || op == "Slice";
}

// Applies the data-movement node `n` (reading the traced tensor as input 0) to `l`.
std::string apply_move(const Node& n, Layout* l) {
  const std::string& op = n.op_type();
  const Value* y = n.output(0);
  if (!y || !y->has_shape()) return "the shape of " + n.describe() + "'s output is unknown";
  const Shape& out = y->shape();
  const size_t rank = l->axes.size();
  if (op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze") return regroup(l, out);
  if (op == "Transpose") {
    std::vector<int64_t> perm = n.attr_ints("perm");
    if (perm.empty()) {
      for (size_t i = rank; i > 0; --i) perm.push_back(static_cast<int64_t>(i - 1));
    }
    if (perm.size() != rank) return n.describe() + " has a perm of another rank";
    std::vector<Atoms> axes(rank);
    for (size_t i = 0; i < rank; ++i) {
      if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(rank)) return n.describe() + " has a bad perm";
      axes[i] = l->axes[static_cast<size_t>(perm[i])];
    }
    l->axes = std::move(axes);
  } else if (op == "Gather") {
    int64_t axis = n.attr_int("axis", 0);
    if (axis < 0) axis += static_cast<int64_t>(rank);
    const std::optional<std::vector<int64_t>> idx = int_constant(n.input(1));
    if (axis < 0 || axis >= static_cast<int64_t>(rank) || !idx || idx->size() != 1)
      return n.describe() + " does not gather one constant index";
    const auto a = static_cast<size_t>(axis);
    const std::optional<int64_t> size = size_of(normalized(l->axes[a])).value();
    if (!size) return n.describe() + " gathers along a symbolic dim";
    const int64_t i = (*idx)[0] < 0 ? (*idx)[0] + *size : (*idx)[0];
    const std::string why = pin(l, a, i, 1, n);
    if (!why.empty()) return why;
    if (n.input(1)->constant()->rank() == 0) l->axes.erase(l->axes.begin() + axis);
  } else if (op == "Slice") {
    const std::optional<std::vector<int64_t>> starts = int_constant(n.input(1)), ends = int_constant(n.input(2));
    std::optional<std::vector<int64_t>> axes = int_constant(n.input(3)), steps = int_constant(n.input(4));
    if (!starts || !ends || starts->size() != ends->size() || (n.input(3) && !axes) || (n.input(4) && !steps) ||
        (axes && axes->size() != starts->size()) || (steps && steps->size() != starts->size()))
      return n.describe() + " has non-constant parameters";
    for (size_t k = 0; k < starts->size(); ++k) {
      int64_t axis = axes ? (*axes)[k] : static_cast<int64_t>(k);
      if (axis < 0) axis += static_cast<int64_t>(rank);
      if (axis < 0 || axis >= static_cast<int64_t>(rank) || (steps && (*steps)[k] != 1))
        return n.describe() + " is not a unit-step slice";
      const auto a = static_cast<size_t>(axis);
      const std::optional<int64_t> size = size_of(normalized(l->axes[a])).value();
      if (!size) return n.describe() + " slices a symbolic dim";
      auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + *size : v, int64_t{0}, *size); };
      const int64_t s = clamp((*starts)[k]), e = clamp((*ends)[k]);
      const std::string why = pin(l, a, s, e - s, n);
      if (!why.empty()) return why;
    }
  } else {
    return n.describe() + " is not data movement";
  }
  if (l->axes.size() != out.size()) return "the trace of " + n.describe() + " lost its rank";
  for (size_t k = 0; k < out.size(); ++k) {
    l->axes[k] = normalized(l->axes[k]);
    if (size_of(l->axes[k]) != out[k]) return "the trace of " + n.describe() + " disagrees with its shape";
  }
  return "";
}

// ---- Attention inputs -------------------------------------------------------------------

// Q, K or V traced back to the projection it reads.
struct Input {
  Value* x = nullptr;     // what the projection reads, [batch, seq, E] or [seq, batch, E]
  Value* w = nullptr;     // constant [E, N]
  Value* bias = nullptr;  // constant over the N columns, or nullptr
  int64_t col0 = 0;       // columns [col0, col0 + cols) of x W + b, read as [heads, dim]
  int64_t cols = 0;
  int64_t dim = 0;
  Dim heads;
  bool batch_first = true;
  std::vector<Node*> nodes;  // every node from x to the Attention input
};

// Why `b` is not a constant vector over the last axis (N) of a rank-`rank` value, or "".
std::string bias_refusal(const Value* b, int64_t n, size_t rank) {
  const Tensor* t = b ? b->constant() : nullptr;
  if (!t) return "the bias is not a constant";
  if (t->rank() == 0 || t->rank() > rank || t->dim(t->rank() - 1) != n || t->numel() != n)
    return "bias '" + b->name() + "' does not broadcast along the columns only";
  return "";
}

// The node reading `v` besides Shape nodes, when there is exactly one.
Node* only_reader(const Value* v) {
  Node* r = nullptr;
  for (Node* c : v->consumers()) {
    if (c->op_type() == "Shape") continue;
    if (r) return nullptr;
    r = c;
  }
  return r;
}

std::string trace_input(Value* in, Input* out) {
  // Up through the data movement, to the projection's output.
  std::vector<Node*> chain;
  Value* p = in;
  while (p->producer() && is_move(p->producer()->op_type())) {
    chain.push_back(p->producer());
    p = p->producer()->input(0);
    if (!p) return "a data-movement node has no input";
  }
  std::reverse(chain.begin(), chain.end());  // from the projection down
  Node* prod = p->producer();
  Node* add = nullptr;
  if (prod && prod->op_type() == "Add") {
    add = prod;
    const bool first = prod->input(0) && prod->input(0)->constant();
    out->bias = prod->input(first ? 0 : 1);
    Value* other = prod->input(first ? 1 : 0);
    prod = other ? other->producer() : nullptr;
  }
  if (!prod || prod->op_type() != "MatMul")
    return "'" + in->name() + "' does not come from a MatMul projection through data movement";
  out->w = prod->input(1);
  const Tensor* w = out->w ? out->w->constant() : nullptr;
  if (!w || w->rank() != 2) return "the projection weight of '" + in->name() + "' is not a constant matrix";
  const int64_t e = w->dim(0), n = w->dim(1);
  if (add) {
    const std::string why = bias_refusal(out->bias, n, prod->output(0)->has_shape() ? prod->output(0)->shape().size() : 0);
    if (!why.empty()) return why;
  }
  // Up through transposes the projections alone read (batch_first models swap x once).
  std::vector<Node*> lead;
  Value* x = prod->input(0);
  while (x && x->producer() && x->producer()->op_type() == "Transpose") {
    bool only_matmuls = true;
    for (const Node* c : x->consumers()) only_matmuls &= c->op_type() == "MatMul" || c->op_type() == "Shape";
    if (!only_matmuls) break;
    lead.push_back(x->producer());
    x = x->producer()->input(0);
  }
  std::reverse(lead.begin(), lead.end());
  if (!x || !x->has_shape() || x->shape().size() != 3) return "the projection input of '" + in->name() + "' is not rank 3";
  out->x = x;
  Layout l;
  for (size_t i = 0; i < 2; ++i) l.axes.push_back(atom_of(static_cast<int>(i), x->shape()[i]));
  l.axes.push_back(atom_of(kContracted, x->shape()[2]));
  for (const Node* t : lead) {
    const std::string why = apply_move(*t, &l);
    if (!why.empty()) return why;
  }
  if (l.axes.empty() || normalized(l.axes.back()) != atom_of(kContracted, Dim(e)) || !l.fixed.empty())
    return "the projection of '" + in->name() + "' does not contract x's last axis";
  l.axes.back() = atom_of(kColumns, Dim(n));
  for (const Node* m : chain) {
    const std::string why = apply_move(*m, &l);
    if (!why.empty()) return why;
  }
  out->nodes = lead;
  out->nodes.push_back(prod);
  if (add) out->nodes.push_back(add);
  out->nodes.insert(out->nodes.end(), chain.begin(), chain.end());

  // Roles of the heads-major Attention input: [batch, heads, seq, dim] or [batch*heads, seq, dim].
  Atoms batch, heads, seq, dim;
  if (l.axes.size() == 4) {
    batch = l.axes[0], heads = l.axes[1], seq = l.axes[2], dim = l.axes[3];
  } else if (l.axes.size() == 3) {
    for (const Atom& a : l.axes[0]) {
      if (a.src != kColumns && !heads.empty()) return "the batch*heads axis of '" + in->name() + "' is not batch-outer";
      (a.src == kColumns ? heads : batch).push_back(a);
    }
    seq = l.axes[1], dim = l.axes[2];
  } else {
    return "'" + in->name() + "' is not rank 3 or 4";
  }
  int64_t offset = 0;
  for (const auto& [a, index] : l.fixed) {
    if (a.src != kColumns) return "'" + in->name() + "' reads one index of a batch or seq axis";
    offset += index * a.stride.value().value_or(0);
  }
  Atoms hd = heads;
  hd.insert(hd.end(), dim.begin(), dim.end());
  hd = normalized(hd);
  const std::optional<int64_t> dh = size_of(dim).value();
  for (const Atom& a : heads) {
    if (a.src != kColumns) return "the heads axis of '" + in->name() + "' is not made of projection columns";
  }
  if (hd.size() != 1 || hd[0].src != kColumns || hd[0].stride != Dim(1) || !dh || normalized(dim) != atom_of(kColumns, Dim(*dh)))
    return "the heads and dim axes of '" + in->name() + "' are not contiguous [heads, dim] columns";
  out->col0 = offset;
  out->cols = hd[0].size.value().value_or(0);
  out->dim = *dh;
  out->heads = size_of(heads);
  const Atoms x0 = atom_of(0, x->shape()[0]), x1 = atom_of(1, x->shape()[1]);
  if (normalized(batch) == x0 && normalized(seq) == x1) {
    out->batch_first = true;
  } else if (normalized(batch) == x1 && normalized(seq) == x0) {
    out->batch_first = false;
  } else {
    return "the batch and seq axes of '" + in->name() + "' are not x's";
  }
  return "";
}

// ---- Attention output -------------------------------------------------------------------

struct Output {
  Node* product = nullptr;    // MatMul or Gemm
  Value* w = nullptr;         // constant [E', N], or [N, E'] when transposed
  bool transposed = false;
  Value* bias = nullptr;
  Value* end = nullptr;       // the last value of the pattern: its readers get the new one
  std::vector<Node*> nodes;   // every node after the Attention node up to `end`
};

std::string trace_output(Node* attn, const Dim& heads, bool batch_first, Output* out) {
  Value* y = attn->output(0);
  const Shape& ys = y->shape();
  if (ys.size() != 3 && ys.size() != 4) return "the output is not rank 3 or 4";
  const std::optional<Dim> batch = ys.size() == 4 ? std::optional<Dim>(ys[0]) : ys[0].divide(heads);
  if (!batch) return "the output's batch*heads dim does not divide by the heads";
  const Dim seq = ys[ys.size() - 2];
  Layout l;
  if (ys.size() == 4) {
    l.axes = {atom_of(kBatch, ys[0]), atom_of(kHeads, ys[1]), atom_of(kSeq, seq), atom_of(kDim, ys[3])};
  } else {
    Atoms bh = atom_of(kBatch, *batch);
    for (const Atom& a : atom_of(kHeads, heads)) bh.push_back(a);
    l.axes = {bh, atom_of(kSeq, seq), atom_of(kDim, ys[2])};
  }
  Atoms want_row = atom_of(kHeads, heads);
  for (const Atom& a : atom_of(kDim, ys.back())) want_row.push_back(a);
  // Down to the output projection.
  Value* v = y;
  for (;;) {
    Node* c = only_reader(v);
    if (!c || v->is_graph_output()) return "the output '" + v->name() + "' has other readers";
    if ((c->op_type() == "MatMul" || c->op_type() == "Gemm") && c->input(0) == v) {
      out->product = c;
      break;
    }
    if (!is_move(c->op_type()) || c->input(0) != v) return "the output reaches " + c->describe() + ", not a projection";
    const std::string why = apply_move(*c, &l);
    if (!why.empty()) return why;
    out->nodes.push_back(c);
    v = c->output(0);
  }
  Node* p = out->product;
  out->w = p->input(1);
  const Tensor* w = out->w ? out->w->constant() : nullptr;
  if (!w || w->rank() != 2) return "the output projection weight is not a constant matrix";
  int64_t n = w->dim(1);
  if (p->op_type() == "Gemm") {
    if (p->attr_int("transA", 0) != 0 || p->attr_float("alpha", 1.0f) != 1.0f) return "the output Gemm scales or transposes A";
    out->transposed = p->attr_int("transB", 0) != 0;
    if (out->transposed) n = w->dim(0);
    if (Value* c = p->input(2)) {
      const std::string why = bias_refusal(c, n, 2);
      if (!why.empty() || p->attr_float("beta", 1.0f) != 1.0f) return "the output Gemm's C is not a plain bias";
      out->bias = c;
    }
  }
  if (!l.fixed.empty() || normalized(l.axes.back()) != normalized(want_row))
    return "the output projection does not read rows of [heads, dim]";
  out->nodes.push_back(p);
  l.axes.back() = atom_of(kOut, Dim(n));
  v = p->output(0);
  if (!v->has_shape() || v->shape().size() != l.axes.size()) return "the output projection's shape is unknown";
  if (p->op_type() == "MatMul") {
    Node* add = only_reader(v);
    if (add && add->op_type() == "Add" && !v->is_graph_output()) {
      Value* b = add->input(0) == v ? add->input(1) : add->input(0);
      if (b && b->constant() && bias_refusal(b, n, v->shape().size()).empty()) {
        out->bias = b;
        out->nodes.push_back(add);
        v = add->output(0);
      }
    }
  }
  // Then down the data movement, as far as the layout is x's: [batch, seq, N] (or seq first).
  Atoms want;
  for (const Atoms& part : batch_first ? std::array<Atoms, 3>{atom_of(kBatch, *batch), atom_of(kSeq, seq), atom_of(kOut, Dim(n))}
                                       : std::array<Atoms, 3>{atom_of(kSeq, seq), atom_of(kBatch, *batch), atom_of(kOut, Dim(n))})
    want.insert(want.end(), part.begin(), part.end());
  auto flat = [](const Layout& lay) {
    Atoms f;
    for (const Atoms& ax : lay.axes) f.insert(f.end(), ax.begin(), ax.end());
    return normalized(f);
  };
  size_t taken = out->nodes.size();
  Value* end = nullptr;
  for (;;) {
    if (!v->is_graph_output() && l.fixed.empty() && flat(l) == want && v->has_shape()) {
      end = v;
      taken = out->nodes.size();
    }
    Node* c = only_reader(v);
    if (!c || v->is_graph_output() || !is_move(c->op_type()) || c->input(0) != v) break;
    if (!apply_move(*c, &l).empty()) break;
    out->nodes.push_back(c);
    v = c->output(0);
  }
  if (!end) return "the projected output never has x's layout";
  out->nodes.resize(taken);
  out->end = end;
  return "";
}

// ---- checks and rewrite ---------------------------------------------------------------

// "" when every reader of `v` is in `pattern` or is a Shape node whose integer arithmetic only
// feeds the pattern: the rewrite then leaves `v` and that arithmetic dead.
std::string escapes(const Value* v, const std::set<const Node*>& pattern) {
  if (v->is_graph_output()) return "'" + v->name() + "' is a graph output";
  for (const Node* c : v->consumers()) {
    if (pattern.count(c)) continue;
    if (c->op_type() != "Shape") return "'" + v->name() + "' is also read by " + c->describe();
    std::set<const Node*> seen{c};
    std::vector<const Node*> todo{c};
    while (!todo.empty()) {
      const Node* n = todo.back();
      todo.pop_back();
      for (const Value* o : n->outputs()) {
        if (!o) continue;
        if (o->is_graph_output() || !dtype_is_integer(o->dtype()) || o->rank() < 0 || o->rank() > 1)
          return "the shape of '" + v->name() + "' feeds " + n->describe();
        for (const Node* d : o->consumers()) {
          if (pattern.count(d) || !seen.insert(d).second) continue;
          if (seen.size() > 256) return "the shape of '" + v->name() + "' feeds too much arithmetic";
          todo.push_back(d);
        }
      }
    }
  }
  return "";
}

class Rewriter {
 public:
  explicit Rewriter(Graph& g) : g_(g) {}

  // Columns [c0, c0 + n) of the constant matrix `w` [K, N] as [K, n] (`w` itself when that is
  // all of it), or all of w^T for a [N, K] `w`.
  Result<Value*> columns(Value* w, int64_t c0, int64_t n, bool transposed) {
    const Tensor& t = *w->constant();
    const int64_t rows = transposed ? t.dim(1) : t.dim(0), all = transposed ? t.dim(0) : t.dim(1);
    if (!transposed && c0 == 0 && n == all) return w;
    if (transposed && (c0 != 0 || n != all)) return internal_error("canonicalize_mha: columns of a transposed weight");
    const auto key = std::make_tuple(w, c0, n, transposed);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    // A big model's weights: file-backed, and off the resident set once written (weight_memory.h).
    SLIMRT_ASSIGN_OR_RETURN(Tensor out, onnx_import::allocate_releasable(t.dtype(), {rows, n}));
    const size_t es = dtype_size(t.dtype());
    const auto* src = static_cast<const unsigned char*>(t.raw());
    auto* dst = static_cast<unsigned char*>(out.raw());
    if (transposed) {
      passes::copy_transposed(src, dst, all, rows, es);
    } else {
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(dst + static_cast<size_t>(r * n) * es, src + static_cast<size_t>(r * all + c0) * es, static_cast<size_t>(n) * es);
    }
    onnx_import::release_mapped_pages(out.raw(), out.bytes());
    onnx_import::release_mapped_pages(t.raw(), t.bytes());
    const std::string name = transposed ? w->name() + "/t" : fmt::format("{}/cols{}_{}", w->name(), c0, c0 + n);
    Value* v = g_.add_initializer(name, std::move(out));
    v->set_dtype(w->dtype());  // a deferred fp16 conversion stays deferred
    cache_[key] = v;
    return v;
  }

  // Elements [c0, c0 + n) of the bias vector `b` (any shape of N elements) as [n].
  Result<Value*> bias(Value* b, int64_t c0, int64_t n) {
    const Tensor& t = *b->constant();
    if (c0 == 0 && n == t.numel()) return b;
    const auto key = std::make_tuple(b, c0, n, false);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(t.dtype(), {n}));
    const size_t es = dtype_size(t.dtype());
    std::memcpy(out.raw(), static_cast<const unsigned char*>(t.raw()) + static_cast<size_t>(c0) * es, static_cast<size_t>(n) * es);
    Value* v = g_.add_initializer(fmt::format("{}/cols{}_{}", b->name(), c0, c0 + n), std::move(out));
    v->set_dtype(b->dtype());
    cache_[key] = v;
    return v;
  }

  // Columns [c0, c0 + n) of a constant: of a matrix [K, N], or of a bias holding N elements.
  struct Cols {
    Value* w = nullptr;  // nullptr: n zeros (a bias only)
    int64_t c0 = 0, n = 0;
  };

  // The column ranges `parts` of constant matrices [K, N_i] side by side as one [K, sum n]
  // initializer: the weight of one GEMM that computes Q, K and V at once. Ranges that are one
  // contiguous run of a single weight are just those columns (torch's packed in-projection: the
  // weight itself, nothing copied). The parts' tensors share a dtype and so do their Values (a
  // deferred fp16 conversion stays deferred).
  Result<Value*> concat_columns(const std::vector<Cols>& parts) {
    if (const std::optional<Cols> run = one_run(parts)) return columns(run->w, run->c0, run->n, false);
    const auto key = std::make_pair(cache_key(parts), false);
    auto it = concat_cache_.find(key);
    if (it != concat_cache_.end()) return it->second;
    const Tensor& t0 = *parts[0].w->constant();
    const int64_t rows = t0.dim(0);
    int64_t total = 0;
    for (const Cols& p : parts) {
      const Tensor& t = *p.w->constant();
      if (t.rank() != 2 || t.dim(0) != rows || t.dtype() != t0.dtype() || p.w->dtype() != parts[0].w->dtype())
        return internal_error("canonicalize_mha: packed weight '" + p.w->name() + "' does not match '" + parts[0].w->name() + "'");
      total += p.n;
    }
    // A big model's weights: file-backed, and off the resident set once written (weight_memory.h).
    SLIMRT_ASSIGN_OR_RETURN(Tensor out, onnx_import::allocate_releasable(t0.dtype(), {rows, total}));
    const size_t es = dtype_size(t0.dtype());
    auto* dst = static_cast<unsigned char*>(out.raw());
    // Rows in blocks of about 8 MiB, each block's pages (written and read) released behind it,
    // so that even one layer's weights never sit in the resident set at once.
    const int64_t block = std::max<int64_t>(1, (int64_t{8} << 20) / std::max<int64_t>(1, total * static_cast<int64_t>(es)));
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t r1 = std::min(rows, r0 + block);
      for (int64_t r = r0; r < r1; ++r) {
        int64_t at = 0;
        for (const Cols& p : parts) {
          const Tensor& t = *p.w->constant();
          const auto* src = static_cast<const unsigned char*>(t.raw()) + static_cast<size_t>(r * t.dim(1) + p.c0) * es;
          std::memcpy(dst + static_cast<size_t>(r * total + at) * es, src, static_cast<size_t>(p.n) * es);
          at += p.n;
        }
      }
      onnx_import::release_mapped_pages(dst + static_cast<size_t>(r0 * total) * es, static_cast<size_t>((r1 - r0) * total) * es);
      for (const Cols& p : parts) {
        const Tensor& t = *p.w->constant();
        onnx_import::release_mapped_pages(static_cast<const unsigned char*>(t.raw()) + static_cast<size_t>(r0 * t.dim(1)) * es,
                                          static_cast<size_t>((r1 - r0) * t.dim(1)) * es);
      }
    }
    Value* v = g_.add_initializer(concat_name(parts, false), std::move(out));
    v->set_dtype(parts[0].w->dtype());
    concat_cache_[key] = v;
    return v;
  }

  // Elements [c0, c0 + n) of each bias of `parts` end to end as one vector; a part without a
  // bias (w nullptr) gives n zeros. At least one part has a bias; those that do share dtypes.
  Result<Value*> concat_bias(const std::vector<Cols>& parts) {
    if (const std::optional<Cols> run = one_run(parts)) return bias(run->w, run->c0, run->n);
    const Value* first = nullptr;
    int64_t total = 0;
    for (const Cols& p : parts) {
      if (p.w && !first) first = p.w;
      if (p.w && (p.w->constant()->dtype() != first->constant()->dtype() || p.w->dtype() != first->dtype()))
        return internal_error("canonicalize_mha: packed bias '" + p.w->name() + "' does not match '" + first->name() + "'");
      total += p.n;
    }
    if (!first) return internal_error("canonicalize_mha: a packed bias of zeros only");
    const auto key = std::make_pair(cache_key(parts), true);
    auto it = concat_cache_.find(key);
    if (it != concat_cache_.end()) return it->second;
    SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(first->constant()->dtype(), {total}));  // zero-filled
    const size_t es = dtype_size(out.dtype());
    auto* dst = static_cast<unsigned char*>(out.raw());
    int64_t at = 0;
    for (const Cols& p : parts) {
      if (p.w) {
        const auto* src = static_cast<const unsigned char*>(p.w->constant()->raw()) + static_cast<size_t>(p.c0) * es;
        std::memcpy(dst + static_cast<size_t>(at) * es, src, static_cast<size_t>(p.n) * es);
      }
      at += p.n;
    }
    Value* v = g_.add_initializer(concat_name(parts, true), std::move(out));
    v->set_dtype(first->dtype());
    concat_cache_[key] = v;
    return v;
  }

  Value* node(const std::string& op, const std::string& name, const std::vector<Value*>& ins, DataType dt, Shape s) {
    ++added_;
    return passes::add_typed_node(g_, op, name, ins, dt, std::move(s));
  }

  Value* reshape(const std::string& name, Value* v, const std::vector<int64_t>& target, Shape s) {
    ++added_;
    return passes::add_constant_reshape(g_, name, v, target, std::move(s));
  }

  int64_t added() const { return added_; }

 private:
  using PartsKey = std::vector<std::tuple<Value*, int64_t, int64_t>>;

  static PartsKey cache_key(const std::vector<Cols>& parts) {
    PartsKey k;
    for (const Cols& p : parts) k.emplace_back(p.w, p.c0, p.n);
    return k;
  }

  // The parts as one range [c0, c0 + sum n) of one constant, when they are that.
  static std::optional<Cols> one_run(const std::vector<Cols>& parts) {
    if (parts.empty() || !parts[0].w) return std::nullopt;
    Cols run = parts[0];
    for (size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].w != run.w || parts[i].c0 != run.c0 + run.n) return std::nullopt;
      run.n += parts[i].n;
    }
    return run;
  }

  // "wq+wk/cols0_64+zeros64": the sources, for the build report and inspect.
  static std::string concat_name(const std::vector<Cols>& parts, bool bias) {
    std::string name;
    for (const Cols& p : parts) {
      if (!name.empty()) name += "+";
      if (!p.w) {
        name += fmt::format("zeros{}", p.n);
        continue;
      }
      const Tensor& t = *p.w->constant();
      const int64_t all = bias ? t.numel() : t.dim(1);
      name += p.c0 == 0 && p.n == all ? p.w->name() : fmt::format("{}/cols{}_{}", p.w->name(), p.c0, p.c0 + p.n);
    }
    return name;
  }

  Graph& g_;
  std::map<std::tuple<Value*, int64_t, int64_t, bool>, Value*> cache_;
  std::map<std::pair<PartsKey, bool>, Value*> concat_cache_;  // bool: a bias
  int64_t added_ = 0;
};

// Why Q, K and V (traced, same layout and head count) cannot be one GEMM's output read packed,
// or "" when they can: the packed input is [B, S, 3, H, D], so x must be batch-first and Q, K,
// V must be the same-sized projections of the same x; their weights (and biases) become one.
std::string pack_refusal(const std::array<Input, 3>& in) {
  if (!in[0].batch_first) return "x is seq-first ([S, B, E]); the packed form [B, S, 3, H, D] is batch-first only";
  for (size_t i = 1; i < 3; ++i) {
    if (in[i].x != in[0].x) return "Q, K and V are projected from different tensors";
    if (in[i].dim != in[0].dim)
      return fmt::format("the head dims differ (Q {}, K {}, V {})", in[0].dim, in[1].dim, in[2].dim);
    const Value* w = in[i].w;
    if (w->constant()->dtype() != in[0].w->constant()->dtype() || w->dtype() != in[0].w->dtype())
      return "the projection weights have different dtypes";
  }
  const Value* b0 = nullptr;
  for (const Input& p : in) {
    if (!p.bias) continue;
    if (!b0) b0 = p.bias;
    if (p.bias->constant()->dtype() != b0->constant()->dtype() || p.bias->dtype() != b0->dtype())
      return "the projection biases have different dtypes";
  }
  return "";
}

// Matches the block around `attn`; on success rewrites it and returns "". `how` says which form
// the rewrite took (packed, or three projections and why).
Result<std::string> canonicalize(Graph& g, Node* attn, Rewriter& rw, bool pack_qkv, std::string* how) {
  if (attn->attr_int("seq_major", 0) != 0) return std::string("already sequence-major");
  if (attn->num_outputs() != 1 || !attn->output(0)->has_shape()) return std::string("its output shape is unknown");
  std::array<Input, 3> in;
  for (size_t i = 0; i < 3; ++i) {
    if (!attn->input(i) || !attn->input(i)->has_shape()) return std::string("an input shape is unknown");
    const std::string why = trace_input(attn->input(i), &in[i]);
    if (!why.empty()) return why;
  }
  for (size_t i = 1; i < 3; ++i) {
    if (in[i].batch_first != in[0].batch_first) return std::string("Q, K and V are projected from different layouts");
    if (in[i].heads != in[0].heads) return std::string("Q, K and V have different head counts");
  }
  const bool bf = in[0].batch_first;
  const size_t old_rank = attn->output(0)->shape().size(), new_rank = bf ? 4 : 3;
  Value* mask = attn->input(3);
  if (mask && old_rank != new_rank) {
    bool leading_ones = mask->has_shape() && mask->shape().size() <= new_rank;
    for (size_t k = 0; leading_ones && k + 2 < mask->shape().size(); ++k) leading_ones = mask->shape()[k] == Dim(1);
    if (!leading_ones) return std::string("the mask would broadcast differently in the new rank");
  }
  Output out;
  const std::string why = trace_output(attn, in[0].heads, bf, &out);
  if (!why.empty()) return why;

  std::set<const Node*> pattern{attn};
  for (const Input& i : in) pattern.insert(i.nodes.begin(), i.nodes.end());
  pattern.insert(out.nodes.begin(), out.nodes.end());
  for (const Node* n : pattern) {
    for (const Value* v : n->outputs()) {
      if (!v || v == out.end) continue;
      const std::string esc = escapes(v, pattern);
      if (!esc.empty()) return esc;
    }
  }

  // Shapes of the new values, and the Reshape targets: all decided before the graph changes.
  const Shape& xs = in[0].x->shape();
  const Dim heads = in[0].heads;
  const int64_t dv = in[2].dim;
  const std::string base = attn->name();
  auto attn_shape = [&](const Shape& x, int64_t d) {
    return bf ? Shape{x[0], x[1], heads, Dim(d)} : Shape{x[0], x[1] * heads, Dim(d)};
  };
  const Shape merged{xs[0], xs[1], heads * Dim(dv)};
  const Shape& end_shape = out.end->shape();
  const int64_t n_out = out.transposed ? out.w->constant()->dim(0) : out.w->constant()->dim(1);
  const Shape projected{xs[0], xs[1], Dim(n_out)};
  std::optional<std::vector<int64_t>> end_target;
  if (end_shape != projected) {
    end_target = passes::constant_reshape_target(projected, end_shape);
    if (!end_target) return "no constant Reshape gives " + shape_to_string(end_shape);
  }
  const std::optional<std::vector<int64_t>> merge_target = passes::constant_reshape_target(attn_shape(xs, dv), merged);
  if (!merge_target) return std::string("no constant Reshape merges the heads");
  const std::string no_pack = pack_qkv ? pack_refusal(in) : "pack_qkv is off";
  const bool packed = no_pack.empty();
  *how = packed ? "one packed QKV projection read by Attention(qkv_packed = 1), the output sequence-major"
                : "Q, K, V and the output sequence-major (three projections: " + no_pack + ")";

  std::vector<Value*> ins(3);
  static const char* const kNames[] = {"q", "k", "v"};
  if (packed) {
    // x [B, S, E] (W_q | W_k | W_v) + (b_q | b_k | b_v) -> [B, S, 3*H*D], viewed as
    // [B, S, 3, H, D]: the columns of each are [heads, dim], so the view is exact. A missing
    // bias is zeros (Whisper's k_proj has none): the epilogue adds it for free, and one GEMM
    // beats three.
    const Input& p = in[0];
    const DataType dt = attn->input(0)->dtype();
    const std::string name = base + "/qkv_proj";
    std::vector<Rewriter::Cols> wcols, bcols;
    bool any_bias = false;
    for (const Input& i : in) {
      wcols.push_back({i.w, i.col0, i.cols});
      bcols.push_back({i.bias, i.col0, i.cols});
      any_bias = any_bias || i.bias;
    }
    SLIMRT_ASSIGN_OR_RETURN(Value * w, rw.concat_columns(wcols));
    Value* v = rw.node("MatMul", name, {p.x, w}, dt, Shape{xs[0], xs[1], Dim(3 * p.cols)});
    if (any_bias) {
      SLIMRT_ASSIGN_OR_RETURN(Value * b, rw.concat_bias(bcols));
      v = rw.node("Add", name + "/bias", {v, b}, dt, v->shape());
    }
    const Shape s{xs[0], xs[1], Dim(3), heads, Dim(p.dim)};
    const std::optional<std::vector<int64_t>> t = passes::constant_reshape_target(v->shape(), s);
    if (!t) return internal_error("canonicalize_mha: no constant Reshape splits the heads of " + v->name());
    ins = {rw.reshape(name + "/heads", v, *t, s), nullptr, nullptr};
  } else {
    for (size_t i = 0; i < 3; ++i) {
      const Input& p = in[i];
      const Shape& x = p.x->shape();
      const DataType dt = attn->input(i)->dtype();
      const std::string name = base + "/" + kNames[i] + "_proj";
      SLIMRT_ASSIGN_OR_RETURN(Value * w, rw.columns(p.w, p.col0, p.cols, false));
      Value* v = rw.node("MatMul", name, {p.x, w}, dt, Shape{x[0], x[1], Dim(p.cols)});
      if (p.bias) {
        SLIMRT_ASSIGN_OR_RETURN(Value * b, rw.bias(p.bias, p.col0, p.cols));
        v = rw.node("Add", name + "/bias", {v, b}, dt, v->shape());
      }
      const Shape s = attn_shape(x, p.dim);
      const std::optional<std::vector<int64_t>> t = passes::constant_reshape_target(v->shape(), s);
      if (!t) return internal_error("canonicalize_mha: no constant Reshape splits the heads of " + v->name());
      ins[i] = rw.reshape(name + "/heads", v, *t, s);
    }
  }
  if (mask) ins.push_back(mask);
  const DataType dt = attn->output(0)->dtype();
  Value* y = rw.node("Attention", base + "/seq_major", ins, dt, attn_shape(xs, dv));
  for (const auto& [name, a] : attn->attributes()) y->producer()->set_attr(name, a);
  y->producer()->set_attr("seq_major", int64_t{1});
  if (packed) y->producer()->set_attr("qkv_packed", int64_t{1});
  y = rw.reshape(base + "/merge_heads", y, *merge_target, merged);
  const std::string pname = out.product->name() + "/rows";
  SLIMRT_ASSIGN_OR_RETURN(Value * w, rw.columns(out.w, 0, n_out, out.transposed));
  Value* z = rw.node("MatMul", pname, {y, w}, out.product->output(0)->dtype(), projected);
  if (out.bias) {
    SLIMRT_ASSIGN_OR_RETURN(Value * b, rw.bias(out.bias, 0, n_out));
    z = rw.node("Add", pname + "/bias", {z, b}, z->dtype(), projected);
  }
  if (end_target) z = rw.reshape(pname + "/reshape", z, *end_target, end_shape);
  g.replace_all_uses(out.end, z);
  return std::string();
}

}  // namespace

Status canonicalize_mha(Graph& g, PassStats* stats, bool pack_qkv) {
  Rewriter rw(g);
  int64_t rewritten = 0;
  for (Node* n : g.nodes()) {
    if (n->op_type() != "Attention") continue;
    std::string how;
    SLIMRT_ASSIGN_OR_RETURN(std::string why, canonicalize(g, n, rw, pack_qkv, &how));
    if (why.empty()) {
      ++rewritten;
      passes::note(stats, "rewrote the projections around " + n->describe() + ": " + how);
    } else {
      passes::note(stats, "kept " + n->describe() + ": " + why);
    }
  }
  if (stats) stats->nodes_added += rw.added();
  if (rewritten == 0) return Status::OK();
  SLIMRT_ASSIGN_OR_RETURN(const int64_t removed, passes::sweep_after_rewrite(g, stats));
  passes::note(stats, fmt::format("{} Attention blocks rewritten, {} old nodes removed", rewritten, removed));
  return infer_shapes(g).with_context("after MHA canonicalization");
}

}  // namespace slimrt
