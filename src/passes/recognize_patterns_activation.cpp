// Pattern recognition, activations: decomposed GELU (erf and tanh forms) -> Gelu and
// x * sigmoid(x) -> SiLU (see recognize_patterns.cpp and docs/passes.md).
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "passes/recognize_patterns_internal.h"

namespace slimrt::patterns {
namespace {

// Finds, among three factors, the constant 0.5, the value Add(T, 1) with T = Erf or Tanh, and
// x (the rest). Returns the Add node and sets *x, *erf_or_tanh.
Node* gelu_factors(const std::vector<Value*>& f, Value** x, Node** t) {
  for (size_t h = 0; h < 3; ++h) {
    auto half = scalar_constant(f[h]);
    if (!half || !near(*half, 0.5, 1e-6)) continue;
    for (size_t a = 0; a < 3; ++a) {
      if (a == h) continue;
      Node* add = producer_of(f[a], "Add");
      Value* inner = nullptr;
      double one = 0;
      if (!add || !split_scalar(*add, &inner, &one) || one != 1.0) continue;
      Node* p = inner ? inner->producer() : nullptr;
      if (!p || (p->op_type() != "Erf" && p->op_type() != "Tanh")) continue;
      *x = f[3 - h - a];
      *t = p;
      return add;
    }
  }
  return nullptr;
}

}  // namespace

// x * 0.5 * (1 + erf(x / sqrt2)) and 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) in
// every association of the three factors, anchored at the final Mul.
Match match_gelu(Graph& /*g*/, Node* out) {
  Match m;
  if (out->op_type() != "Mul") return m;
  for (size_t side = 0; side < 2; ++side) {
    Node* inner = producer_of(out->input(side), "Mul");
    if (!inner || inner == out) continue;
    const std::vector<Value*> f = {inner->input(0), inner->input(1), out->input(1 - side)};
    Value* x = nullptr;
    Node* t = nullptr;
    Node* add = gelu_factors(f, &x, &t);
    if (!add) continue;
    Rewrite& rw = m.rw;
    rw.kind = "GELU";
    rw.op_type = "Gelu";
    rw.last = out;
    rw.nodes = {out, inner, add, t};
    rw.inputs = {x};
    Value* arg = t->input(0);
    if (t->op_type() == "Erf") {
      Node* s = arg->producer();
      Value* base = nullptr;
      double c = 0;
      const bool div = s && s->op_type() == "Div" && (base = s->input(0)) && scalar_constant(s->input(1));
      if (div) c = 1.0 / *scalar_constant(s->input(1));
      const bool mul = !div && s && s->op_type() == "Mul" && split_scalar(*s, &base, &c);
      if ((!div && !mul) || base != x) return m.refuse("the Erf argument is not x / sqrt(2) of the same x");
      if (!near(c, 1.0 / std::sqrt(2.0), 1e-3)) return m.refuse("the Erf argument scales x by " + fmt(c) + ", not 1/sqrt(2)");
      rw.nodes.push_back(s);
    } else {
      // Tanh(k * (x + 0.044715 * x^3)).
      Node* sk = arg->producer();
      Value* sum = nullptr;
      double k = 0;
      if (!sk || sk->op_type() != "Mul" || !split_scalar(*sk, &sum, &k)) return m.refuse("the Tanh argument is not a scaled sum");
      if (!near(k, std::sqrt(2.0 / std::numbers::pi), 1e-3)) return m.refuse("the Tanh argument is scaled by " + fmt(k) + ", not sqrt(2/pi)");
      Node* s = producer_of(sum, "Add");
      Value* cube_term = s ? other_input(*s, x) : nullptr;
      Node* cm = producer_of(cube_term, "Mul");
      Value* cube = nullptr;
      double c3 = 0;
      if (!cm || !split_scalar(*cm, &cube, &c3)) return m.refuse("the Tanh argument is not x + c * x^3 of the same x");
      if (!near(c3, 0.044715, 1e-3)) return m.refuse("the cubic coefficient is " + fmt(c3) + ", not 0.044715");
      Node* cp = cube ? cube->producer() : nullptr;
      std::vector<Node*> cube_nodes;
      if (cp && cp->op_type() == "Pow" && cp->input(0) == x && scalar_constant(cp->input(1)) == 3.0) {
        cube_nodes = {cp};
      } else if (cp && cp->op_type() == "Mul") {
        Value* sq = other_input(*cp, x);
        Node* sqn = producer_of(sq, "Mul");
        if (sqn && sqn->input(0) == x && sqn->input(1) == x) cube_nodes = {cp, sqn};
      }
      if (cube_nodes.empty()) return m.refuse("the Tanh argument has no x^3 of the same x");
      rw.nodes.insert(rw.nodes.end(), {sk, s, cm});
      rw.nodes.insert(rw.nodes.end(), cube_nodes.begin(), cube_nodes.end());
      rw.attrs["approximate"] = std::string("tanh");
    }
    if (!dtype_is_float(x->dtype()) || !same_shape(out->output(0), x)) return m.refuse("input shape or dtype unknown or changed");
    m.state = Match::kOk;
    return m;
  }
  return m;
}

// Mul(x, Sigmoid(x)) => SiLU.
Match match_silu(Graph& /*g*/, Node* mul) {
  Match m;
  if (mul->op_type() != "Mul") return m;
  for (size_t side = 0; side < 2; ++side) {
    Node* sig = producer_of(mul->input(side), "Sigmoid");
    if (!sig || sig->input(0) != mul->input(1 - side)) continue;
    Value* x = sig->input(0);
    m.rw.kind = "SiLU";
    m.rw.op_type = "SiLU";
    m.rw.last = mul;
    m.rw.nodes = {mul, sig};
    m.rw.inputs = {x};
    if (!dtype_is_float(x->dtype()) || !same_shape(mul->output(0), x)) return m.refuse("input shape or dtype unknown or changed");
    m.state = Match::kOk;
    return m;
  }
  return m;
}

}  // namespace slimrt::patterns
