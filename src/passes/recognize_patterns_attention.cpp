// Pattern recognition, scaled-dot-product attention:
// MatMul(Softmax(mask(scale * MatMul(Q, K^T))), V) -> Attention (see recognize_patterns.cpp and
// docs/passes.md for the masks and when a mask is proved causal).
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "passes/recognize_patterns_internal.h"

namespace slimrt::patterns {
namespace {

// Strips Mul(v, c) / Div(v, c) by a scalar constant that keeps v's shape, multiplying *scale.
Value* strip_scale(Value* v, double* scale, std::vector<Node*>* nodes) {
  Node* p = v ? v->producer() : nullptr;
  if (!p || (p->op_type() != "Mul" && p->op_type() != "Div")) return v;
  Value* base = nullptr;
  double c = 0;
  if (p->op_type() == "Div") {
    auto d = scalar_constant(p->input(1));
    if (!d || *d == 0) return v;
    base = p->input(0);
    c = 1.0 / *d;
  } else if (!split_scalar(*p, &base, &c)) {
    return v;
  }
  if (!same_shape(base, v)) return v;
  *scale *= c;
  nodes->push_back(p);
  return base;
}

bool is_neg_inf_like(double v) { return v <= -1e30; }

// For a bool [.., Sq, Skv] constant whose leading dims are 1: true when element (i, j) is
// `true` exactly where j > i (masked_when_true) or where j <= i (otherwise).
bool causal_bool_constant(const Tensor& t, bool masked_when_true, int64_t sq, int64_t skv) {
  if (t.dtype() != DataType::kBool || t.rank() < 2) return false;
  if (t.dim(t.rank() - 2) != sq || t.dim(t.rank() - 1) != skv || t.numel() != sq * skv) return false;
  const uint8_t* d = t.data<uint8_t>();
  for (int64_t i = 0; i < sq; ++i) {
    for (int64_t j = 0; j < skv; ++j) {
      const bool masked = (d[i * skv + j] != 0) == masked_when_true;
      if (masked != (j > i)) return false;
    }
  }
  return true;
}

// Additive float [.., Sq, Skv] constant (leading dims 1): 0 where j <= i, <= -1e30 where j > i.
bool causal_additive_constant(const Tensor& t, int64_t sq, int64_t skv) {
  if (!dtype_is_float(t.dtype()) || t.rank() < 2) return false;
  if (t.dim(t.rank() - 2) != sq || t.dim(t.rank() - 1) != skv || t.numel() != sq * skv) return false;
  for (int64_t i = 0; i < sq; ++i) {
    for (int64_t j = 0; j < skv; ++j) {
      const double v = t.get_as_double(i * skv + j);
      if (j > i ? !is_neg_inf_like(v) : v != 0.0) return false;
    }
  }
  return true;
}

// The shape-generated causal mask exporters emit when the sequence length is symbolic:
// [Cast to bool] <- Trilu(ConstantOfShape([Sq, Skv], nonzero), k) with (upper = 1, k = 1) when a
// true element masks the key, (upper = 0, k = 0) when it keeps it.
bool causal_trilu(const Value* cond, bool masked_when_true, const Dim& sq, const Dim& skv) {
  const Value* v = cond;
  if (Node* c = producer_of(v, "Cast")) v = c->input(0);
  Node* tri = producer_of(v, "Trilu");
  if (!tri) return false;
  const int64_t upper = tri->attr_int("upper", 1);
  int64_t k = 0;
  if (tri->input(1)) {
    auto kv = scalar_constant(tri->input(1));
    if (!kv) return false;
    k = static_cast<int64_t>(*kv);
  }
  const bool shape_ok = masked_when_true ? (upper == 1 && k == 1) : (upper == 0 && k == 0);
  if (!shape_ok) return false;
  Node* fill = producer_of(tri->input(0), "ConstantOfShape");
  if (!fill) return false;
  const Tensor* value = fill->attr_tensor("value");
  if (!value || value->numel() != 1 || value->get_as_double(0) == 0.0) return false;
  const Value* a = tri->input(0);
  return a->has_shape() && a->rank() == 2 && a->shape()[0] == sq && a->shape()[1] == skv;
}

}  // namespace

// MatMul(Softmax(mask(scale * MatMul(Q, K^T))), V) => Attention. Anchored at the last MatMul.
Match match_attention(Graph& /*g*/, Node* mm2) {
  Match m;
  if (mm2->op_type() != "MatMul") return m;
  Node* sm = producer_of(mm2->input(0), "Softmax");
  if (!sm) return m;
  Value* s = sm->input(0);
  Value* v = mm2->input(1);
  Rewrite& rw = m.rw;
  rw.kind = "Attention";
  rw.op_type = "Attention";
  rw.last = mm2;
  rw.nodes = {mm2, sm};

  // The mask: Add(scores, mask) | Where(cond, -inf, scores) | Where(cond, scores, -inf).
  enum class MaskKind { kNone, kAdditive, kMaskedWhenTrue, kKeptWhenTrue } kind = MaskKind::kNone;
  Value* mask = nullptr;
  Value* z = s;
  double fill = 0;
  Node* mask_node = s->producer();
  if (mask_node && mask_node->op_type() == "Add") {
    // The scores operand is the one a MatMul (possibly scaled) produces.
    for (size_t i = 0; i < 2; ++i) {
      double unused = 1;
      std::vector<Node*> tmp;
      Value* base = strip_scale(mask_node->input(i), &unused, &tmp);
      if (producer_of(base, "MatMul")) {
        z = mask_node->input(i);
        mask = mask_node->input(1 - i);
        kind = MaskKind::kAdditive;
        break;
      }
    }
  } else if (mask_node && mask_node->op_type() == "Where") {
    auto a = scalar_constant(mask_node->input(1));
    auto b = scalar_constant(mask_node->input(2));
    if (a && is_neg_inf_like(*a)) {
      kind = MaskKind::kMaskedWhenTrue;
      z = mask_node->input(2);
      fill = *a;
    } else if (b && is_neg_inf_like(*b)) {
      kind = MaskKind::kKeptWhenTrue;
      z = mask_node->input(1);
      fill = *b;
    }
    if (kind != MaskKind::kNone) mask = mask_node->input(0);
  }
  double scale = 1.0;
  std::vector<Node*> chain;
  Value* y = strip_scale(z, &scale, &chain);
  Node* mm1 = producer_of(y, "MatMul");
  if (!mm1) return m;
  // From here on it is an attention candidate: failures are reported.
  if (kind != MaskKind::kNone) rw.nodes.push_back(mask_node);
  rw.nodes.insert(rw.nodes.end(), chain.begin(), chain.end());
  rw.nodes.push_back(mm1);
  Value* q = strip_scale(mm1->input(0), &scale, &rw.nodes);
  Value* kt = strip_scale(mm1->input(1), &scale, &rw.nodes);
  const int64_t rank = s->rank();
  if (rank != 3 && rank != 4) return m.refuse("the scores have rank " + std::to_string(rank) + ", not 3 or 4");
  int64_t axis = sm->attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis != rank - 1) return m.refuse("Softmax axis " + std::to_string(sm->attr_int("axis", -1)) + " is not the last axis");
  if (!q->has_shape() || !kt->has_shape() || !v->has_shape() || q->rank() != rank || kt->rank() != rank ||
      v->rank() != rank)
    return m.refuse("Q, K^T and V shapes are unknown or of different ranks");
  const Shape& qs = q->shape();
  const Shape& ks = kt->shape();
  const Shape& vs = v->shape();
  const size_t r = static_cast<size_t>(rank);
  for (size_t d = 0; d + 2 < r; ++d) {
    if (qs[d] != ks[d] || qs[d] != vs[d]) return m.refuse("Q, K and V leading dims differ (broadcast MatMul)");
  }
  if (qs[r - 1] != ks[r - 2] || ks[r - 1] != vs[r - 2]) return m.refuse("Q, K and V dims do not agree");
  const DataType dt = q->dtype();
  if (!dtype_is_float(dt) || kt->dtype() != dt || v->dtype() != dt) return m.refuse("Q, K and V are not all of one float dtype");
  if (!same_shape(s, z) || !same_shape(z, mm1->output(0))) return m.refuse("the mask broadcasts the scores to a larger shape");
  const Dim& sq = qs[r - 2];
  const Dim& skv = ks[r - 1];

  // K from K^T: undo a Transpose that swaps the last two axes, else transpose back.
  Value* k = kt;
  std::vector<int64_t> perm(r);
  for (size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(i);
  std::swap(perm[r - 1], perm[r - 2]);
  Node* tr = producer_of(kt, "Transpose");
  if (tr && kt->consumers().size() == 1 && !kt->is_graph_output()) {
    std::vector<int64_t> p = tr->attr_ints("perm");
    if (p.size() == r) {
      std::swap(p[r - 1], p[r - 2]);
      rw.nodes.push_back(tr);
      bool identity = true;
      for (size_t i = 0; i < r; ++i) identity = identity && p[i] == static_cast<int64_t>(i);
      if (identity) {
        k = tr->input(0);
      } else {
        k = nullptr;
        rw.pre.push_back({1, PreNode{"Transpose", {tr->input(0)}, {{"perm", p}}}});
      }
    }
  }
  if (k == kt) {
    k = nullptr;
    rw.pre.push_back({1, PreNode{"Transpose", {kt}, {{"perm", perm}}}});
  }
  rw.inputs = {q, k, v};

  bool causal = false;
  const auto sq_v = sq.value();
  const auto skv_v = skv.value();
  if (kind == MaskKind::kAdditive) {
    if (!mask->has_shape() || mask->rank() > rank) return m.refuse("the additive mask has an unknown shape");
    if (mask->dtype() != dt) return m.refuse("the additive mask dtype differs from the scores");
    const Tensor* c = mask->constant();
    causal = c && sq_v && skv_v && causal_additive_constant(*c, *sq_v, *skv_v);
    if (!causal) rw.inputs.push_back(mask);
  } else if (kind == MaskKind::kMaskedWhenTrue || kind == MaskKind::kKeptWhenTrue) {
    const bool masked_when_true = kind == MaskKind::kMaskedWhenTrue;
    if (mask->dtype() != DataType::kBool || !mask->has_shape() || mask->rank() > rank)
      return m.refuse("the Where condition is not a bool tensor of known shape");
    const Tensor* c = mask->constant();
    causal = (c && sq_v && skv_v && causal_bool_constant(*c, masked_when_true, *sq_v, *skv_v)) ||
             causal_trilu(mask, masked_when_true, sq, skv);
    if (!causal) {
      // A fully masked row is uniform with a finite fill but NaN with -inf; only -inf is exact.
      if (!std::isinf(fill)) return m.refuse("the Where fill " + fmt(fill) + " is finite and the mask is not causal");
      if (masked_when_true) {
        rw.inputs.push_back(nullptr);
        rw.pre.push_back({3, PreNode{"Not", {mask}, {}}});
      } else {
        rw.inputs.push_back(mask);
      }
    }
  }
  rw.attrs["scale"] = static_cast<float>(scale);
  rw.attrs["is_causal"] = int64_t{causal ? 1 : 0};
  m.state = Match::kOk;
  return m;
}

}  // namespace slimrt::patterns
