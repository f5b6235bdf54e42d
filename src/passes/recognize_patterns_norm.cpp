// Pattern recognition, normalizations: decomposed LayerNorm -> LayerNormalization and RMSNorm
// -> RMSNormalization (see recognize_patterns.cpp and docs/passes.md).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "passes/recognize_patterns_internal.h"

namespace slimrt::patterns {
namespace {

// Normalized, sorted axes a ReduceMean with keepdims = 1 reduces, or nullopt.
std::optional<std::vector<int64_t>> reduce_axes(const Node& n, int64_t rank) {
  if (rank <= 0 || n.attr_int("keepdims", 1) != 1) return std::nullopt;
  std::vector<int64_t> axes;
  if (n.input(1)) {
    const Tensor* t = n.input(1)->constant();
    if (!t) return std::nullopt;
    for (int64_t i = 0; i < t->numel(); ++i) axes.push_back(static_cast<int64_t>(t->get_as_double(i)));
  } else {
    axes = n.attr_ints("axes");
  }
  if (axes.empty()) {
    if (n.attr_int("noop_with_empty_axes", 0) != 0) return std::nullopt;
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank) return std::nullopt;
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

// The first normalized axis when `axes` are the trailing axes [k, rank), else -1.
int64_t trailing_axis(const std::vector<int64_t>& axes, int64_t rank) {
  if (axes.empty()) return -1;
  const int64_t first = rank - static_cast<int64_t>(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != first + static_cast<int64_t>(i)) return -1;
  }
  return first;
}

std::string axes_string(const std::vector<int64_t>& axes) {
  std::string s = "[";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? "," : "") + std::to_string(axes[i]);
  return s + "]";
}

// True when `p` is x*x: Pow(x, 2) or Mul(x, x).
bool is_square_of(const Node* p, Value** x) {
  if (!p) return false;
  if (p->op_type() == "Pow") {
    auto e = scalar_constant(p->input(1));
    if (!e || *e != 2.0) return false;
    *x = p->input(0);
    return true;
  }
  if (p->op_type() == "Mul" && p->input(0) == p->input(1)) {
    *x = p->input(0);
    return true;
  }
  return false;
}

// A tensor of ones with the given static shape and float dtype, or nullopt.
std::optional<Tensor> ones(DataType dt, const Shape& shape) {
  auto dims = shape_to_static(shape);
  if (!dims || (dt != DataType::kFloat32 && dt != DataType::kFloat64)) return std::nullopt;
  auto t = Tensor::allocate(dt, *dims);
  if (!t.ok()) return std::nullopt;
  for (int64_t i = 0; i < t->numel(); ++i) {
    if (dt == DataType::kFloat32) {
      t->data<float>()[i] = 1.0f;
    } else {
      t->data<double>()[i] = 1.0;
    }
  }
  return std::move(*t);
}

// The tail of a normalization: n [-> Mul(scale)] [-> Add(bias)]. Absorbs a Mul/Add whose other
// operand is not produced by `nodes` and broadcasts within the normalized dims (rank <= k)
// without changing the shape. Sets *scale / *bias (nullptr when absent) and returns the last node.
Node* norm_tail(Node* n, int64_t k, bool allow_bias, std::vector<Node*>* nodes, Value** scale, Value** bias) {
  *scale = nullptr;
  *bias = nullptr;
  Node* last = n;
  auto absorb = [&](const char* op, Value** slot) {
    Value* out = last->output(0);
    if (out->consumers().size() != 1 || out->is_graph_output()) return;
    Node* c = out->consumers()[0];
    if (c->op_type() != op) return;
    Value* p = other_input(*c, out);
    if (!p || p == out || !p->has_shape() || p->rank() > k || p->dtype() != out->dtype()) return;
    if (!same_shape(c->output(0), out)) return;
    for (const Node* m : *nodes) {
      if (p->producer() == m) return;
    }
    *slot = p;
    nodes->push_back(c);
    last = c;
  };
  absorb("Mul", scale);
  if (allow_bias) absorb("Add", bias);
  return last;
}

// After `sd` = Sqrt(var + eps): the node computing num / sd, as Div(num, sd), Mul(num,
// Reciprocal(sd)) or Mul(num, Div(1, sd)); nullptr when absent.
Node* divide_by(Value* sd, Value* num, std::vector<Node*>* nodes) {
  for (Node* c : sd->consumers()) {
    if (c->op_type() == "Div" && c->input(1) == sd && c->input(0) == num) {
      nodes->push_back(c);
      return c;
    }
    Value* r = nullptr;
    if (c->op_type() == "Reciprocal") r = c->output(0);
    if (c->op_type() == "Div" && c->input(1) == sd) {
      auto one = scalar_constant(c->input(0));
      if (one && *one == 1.0) r = c->output(0);
    }
    if (!r) continue;
    for (Node* m : r->consumers()) {
      if (m->op_type() == "Mul" && other_input(*m, r) == num) {
        nodes->push_back(c);
        nodes->push_back(m);
        return m;
      }
    }
  }
  return nullptr;
}


}  // namespace

// ReduceMean(x) -> Sub(x, mean) -> Pow 2 | Mul self -> ReduceMean -> Add eps -> Sqrt -> Div
// (or Reciprocal/Mul) -> [Mul gamma] -> [Add beta]  =>  LayerNormalization.
Match match_layer_norm(Graph& /*g*/, Node* rm1) {
  Match m;
  if (rm1->op_type() != "ReduceMean") return m;
  Value* x = rm1->input(0);
  Value* mu = rm1->output(0);
  Node* sub = consumer_of(mu, "Sub");
  if (!sub || sub->input(0) != x || sub->input(1) != mu) return m;
  Value* d = sub->output(0);
  Node* sq = nullptr;
  for (Node* c : d->consumers()) {
    Value* base = nullptr;
    if (is_square_of(c, &base) && base == d) sq = c;
  }
  if (!sq) return m;
  Node* rm2 = consumer_of(sq->output(0), "ReduceMean");
  if (!rm2) return m;
  // From here on it is a LayerNorm candidate: failures are reported.
  Rewrite& rw = m.rw;
  rw.kind = "LayerNorm";
  rw.op_type = "LayerNormalization";
  rw.nodes = {rm1, sub, sq, rm2};
  const int64_t rank = x->rank();
  auto a1 = reduce_axes(*rm1, rank);
  auto a2 = reduce_axes(*rm2, rank);
  if (!a1 || !a2 || *a1 != *a2) return m.refuse("the two ReduceMean nodes do not reduce the same known axes with keepdims");
  const int64_t axis = trailing_axis(*a1, rank);
  if (axis < 0) return m.refuse("ReduceMean axes " + axes_string(*a1) + " are not the trailing axes of rank " + std::to_string(rank));
  Value* var = rm2->output(0);
  if (consumer_of(var, "Sqrt")) return m.refuse("epsilon is not added to the variance before Sqrt");
  Node* add = consumer_of(var, "Add");
  Value* other = nullptr;
  double eps = 0;
  if (!add || !split_scalar(*add, &other, &eps) || other != var) return m.refuse("no Add of a scalar epsilon after the variance");
  Node* sqrt = consumer_of(add->output(0), "Sqrt");
  if (!sqrt) return m.refuse("no Sqrt after the epsilon Add");
  rw.nodes.push_back(add);
  rw.nodes.push_back(sqrt);
  Node* n = divide_by(sqrt->output(0), d, &rw.nodes);
  if (!n) return m.refuse("the centered input is not divided by the standard deviation");
  if (!dtype_is_float(x->dtype()) || !same_shape(n->output(0), x)) return m.refuse("input shape or dtype unknown or changed");
  const int64_t k = rank - axis;
  Value* gamma = nullptr;
  Value* beta = nullptr;
  Node* last = norm_tail(n, k, true, &rw.nodes, &gamma, &beta);
  rw.last = last;
  rw.inputs = {x, gamma, beta};
  if (!gamma) {
    auto one = ones(x->dtype(), Shape(x->shape().begin() + axis, x->shape().end()));
    if (!one) return m.refuse("no scale and the normalized dims are not static float32/float64");
    rw.consts.emplace_back(1, std::move(*one));
  }
  if (!beta) rw.inputs.pop_back();
  rw.attrs["axis"] = axis;
  rw.attrs["epsilon"] = static_cast<float>(eps);
  m.state = Match::kOk;
  return m;
}

// [Cast to float] -> Pow(x, 2) | Mul(x, x) -> ReduceMean (trailing axes) -> Add eps -> Sqrt ->
// Div(x, s) | Mul(x, Reciprocal(s)) | Mul(x, Div(1, s)) -> [Cast back] -> [Mul weight]
//   =>  RMSNormalization. Anchored at the ReduceMean.
Match match_rms_norm(Graph& /*g*/, Node* rm) {
  Match m;
  if (rm->op_type() != "ReduceMean") return m;
  Node* sq = rm->input(0) ? rm->input(0)->producer() : nullptr;
  Value* x = nullptr;
  if (!is_square_of(sq, &x)) return m;
  Value* var = rm->output(0);
  Node* add = consumer_of(var, "Add");
  Node* early_sqrt = consumer_of(var, "Sqrt");
  if (!add && !early_sqrt) return m;
  Rewrite& rw = m.rw;
  rw.kind = "RMSNorm";
  rw.op_type = "RMSNormalization";
  rw.nodes = {sq, rm};
  const int64_t rank = x->rank();
  auto axes = reduce_axes(*rm, rank);
  if (!axes) return m.refuse("ReduceMean axes unknown or keepdims = 0");
  const int64_t axis = trailing_axis(*axes, rank);
  if (axis < 0) return m.refuse("ReduceMean axes " + axes_string(*axes) + " are not the trailing axes of rank " + std::to_string(rank));
  if (early_sqrt) return m.refuse("epsilon is not added to the mean square before Sqrt");
  Value* other = nullptr;
  double eps = 0;
  if (!split_scalar(*add, &other, &eps) || other != var) return m.refuse("no Add of a scalar epsilon after the mean square");
  Node* sqrt = consumer_of(add->output(0), "Sqrt");
  if (!sqrt) return m.refuse("no Sqrt after the epsilon Add");
  rw.nodes.push_back(add);
  rw.nodes.push_back(sqrt);
  Node* n = divide_by(sqrt->output(0), x, &rw.nodes);
  if (!n) return m.refuse("the input is not divided by the root mean square");
  if (!dtype_is_float(x->dtype()) || !same_shape(n->output(0), x)) return m.refuse("input shape or dtype unknown or changed");
  Value* in = x;
  Node* tail_start = n;
  // HF LlamaRMSNorm: x.to(float32) ... .to(input_dtype) * weight.
  Node* front = producer_of(x, "Cast");
  if (front && front->input(0) && dtype_is_float(front->input(0)->dtype())) {
    Value* out = n->output(0);
    Node* back = out->consumers().size() == 1 ? out->consumers()[0] : nullptr;
    if (back && back->op_type() == "Cast" && back->output(0)->dtype() == front->input(0)->dtype() &&
        !out->is_graph_output()) {
      rw.nodes.push_back(front);
      rw.nodes.push_back(back);
      in = front->input(0);
      tail_start = back;
    }
  }
  const int64_t k = rank - axis;
  Value* weight = nullptr;
  Value* unused = nullptr;
  rw.last = norm_tail(tail_start, k, false, &rw.nodes, &weight, &unused);
  rw.inputs = {in, weight};
  if (!weight) {
    auto one = ones(in->dtype(), Shape(x->shape().begin() + axis, x->shape().end()));
    if (!one) return m.refuse("no weight and the normalized dims are not static float32/float64");
    rw.consts.emplace_back(1, std::move(*one));
  }
  rw.attrs["axis"] = axis;
  rw.attrs["epsilon"] = static_cast<float>(eps);
  m.state = Match::kOk;
  return m;
}

}  // namespace slimrt::patterns
