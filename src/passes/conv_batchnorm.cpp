// Conv+BatchNormalization folding.
//
// BN(y) = (y - mean) * gamma / sqrt(var + eps) + beta is per output channel m, and
// y = conv(x, W) + b is linear in W and b, so with s[m] = gamma[m] / sqrt(var[m] + eps):
//   W'[m, ...] = W[m, ...] * s[m],   b'[m] = (b[m] - mean[m]) * s[m] + beta[m].
// The weight layout [M, C/group, k...] puts output channel m first whatever the group count,
// so grouped and depthwise convolutions fold the same way. The arithmetic is done in double and
// rounded once to float.
#include <cmath>
#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "slimrt/builder/passes.h"

namespace slimrt {

namespace {

// A constant float32 vector of `m` elements, or nullptr.
const Tensor* channel_param(const Value* v, int64_t m) {
  if (!v || !v->constant()) return nullptr;
  const Tensor* t = v->constant();
  if (t->dtype() != DataType::kFloat32 || t->rank() != 1 || t->numel() != m) return nullptr;
  return t;
}

// Why `bn` cannot be folded into the Conv producing its input, or "" when it can.
std::string refusal(const Node& bn) {
  for (size_t i = 1; i < bn.num_outputs(); ++i) {
    if (bn.output(i) && !passes::is_unused(*bn.output(i))) return "its running statistics outputs are used";
  }
  if (bn.output(0)->is_graph_output()) return "it produces graph output '" + bn.output(0)->name() + "'";
  const Value* y = bn.input(0);
  const Node* conv = y->producer();
  if (y->consumers().size() != 1 || y->is_graph_output())
    return "the output of " + conv->describe() + " has other users";
  const Value* w = conv->input(1);
  if (!w || !w->constant()) return "the weights of " + conv->describe() + " are not constant";
  const Tensor* wt = w->constant();
  if (wt->dtype() != DataType::kFloat32 || y->dtype() != DataType::kFloat32)
    return "only float32 convolutions are folded";
  if (wt->rank() < 3) return "the weights of " + conv->describe() + " have rank " + std::to_string(wt->rank());
  const int64_t m = wt->dim(0);
  if (conv->input(2) && !channel_param(conv->input(2), m))
    return "the bias of " + conv->describe() + " is not a constant float32 vector of " + std::to_string(m);
  for (size_t i = 1; i <= 4; ++i) {
    if (!channel_param(bn.input(i), m))
      return "BN input " + std::to_string(i) + " is not a constant float32 vector of " + std::to_string(m);
  }
  return "";
}

Status fold_one(Graph& g, Node* bn) {
  Node* conv = bn->input(0)->producer();
  const Tensor& w = *conv->input(1)->constant();
  const int64_t m = w.dim(0);
  const int64_t per_channel = w.numel() / m;
  const float* gamma = bn->input(1)->constant()->data<float>();
  const float* beta = bn->input(2)->constant()->data<float>();
  const float* mean = bn->input(3)->constant()->data<float>();
  const float* var = bn->input(4)->constant()->data<float>();
  const float* bias = conv->input(2) ? conv->input(2)->constant()->data<float>() : nullptr;
  const double eps = static_cast<double>(bn->attr_float("epsilon", 1e-5f));

  SLIMRT_ASSIGN_OR_RETURN(Tensor w2, Tensor::allocate(DataType::kFloat32, w.shape()));
  SLIMRT_ASSIGN_OR_RETURN(Tensor b2, Tensor::allocate(DataType::kFloat32, {m}));
  const float* src = w.data<float>();
  float* dst = w2.data<float>();
  for (int64_t c = 0; c < m; ++c) {
    const double s = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
    for (int64_t k = 0; k < per_channel; ++k) {
      const int64_t i = c * per_channel + k;
      dst[i] = static_cast<float>(static_cast<double>(src[i]) * s);
    }
    const double b = bias ? static_cast<double>(bias[c]) : 0.0;
    b2.data<float>()[c] = static_cast<float>((b - static_cast<double>(mean[c])) * s + static_cast<double>(beta[c]));
  }
  Value* wv = g.add_initializer(conv->input(1)->name() + "_bnfold", std::move(w2));
  Value* bv = g.add_initializer((conv->input(2) ? conv->input(2)->name() : conv->name() + ".bias") + "_bnfold",
                                std::move(b2));
  // A fresh Conv (the old one may lack the bias slot); it joins the end of the node list and
  // the caller re-sorts.
  Node* fused = g.add_node("Conv", conv->name(), {conv->input(0), wv, bv}, 1, {bn->output(0)->name()});
  for (const auto& [name, attr] : conv->attributes()) fused->set_attr(name, attr);
  Value* out = fused->output(0);
  out->set_dtype(bn->output(0)->dtype());
  if (bn->output(0)->has_shape()) out->set_shape(bn->output(0)->shape());
  g.replace_all_uses(bn->output(0), out);
  SLIMRT_RETURN_IF_ERROR(g.remove_node(bn));
  SLIMRT_RETURN_IF_ERROR(g.remove_node(conv));
  return Status::OK();
}

}  // namespace

Status fold_conv_batchnorm(Graph& g, PassStats* stats) {
  int64_t folded = 0;
  for (Node* bn : g.nodes()) {
    if (bn->op_type() != "BatchNormalization" || !bn->input(0)) continue;
    const Node* conv = bn->input(0)->producer();
    if (!conv || conv->op_type() != "Conv") continue;
    const std::string why = refusal(*bn);
    if (!why.empty()) {
      passes::note(stats, "kept " + bn->describe() + ": " + why);
      continue;
    }
    const std::string line = "folded " + bn->describe() + " into " + conv->describe();
    SLIMRT_RETURN_IF_ERROR(fold_one(g, bn));
    ++folded;
    passes::note(stats, line);
  }
  if (stats) {
    stats->nodes_removed += 2 * folded;
    stats->nodes_added += folded;
  }
  if (folded > 0) {
    SLIMRT_RETURN_IF_ERROR(g.topological_sort());
    SLIMRT_RETURN_IF_ERROR(infer_shapes(g).with_context("after Conv+BatchNormalization folding"));
  }
  return Status::OK();
}

}  // namespace slimrt
