// Shape inference for the ops that pattern recognition (src/passes/recognize_patterns*.cpp)
// emits: RMSNormalization, SiLU and Attention (with its sequence-major and packed-QKV forms, which
// MHA canonicalization and the layout pass emit). LayerNormalization and Gelu are ONNX ops and live
// with their families. docs/passes.md ("Pattern recognition") gives the exact semantics.
#include <string>
#include <utility>
#include <vector>

#include "ir/op_registry.h"
#include "ir/ops/infer_common.h"

namespace slimrt {

namespace {

Status check_float_input(const ShapeContext& ctx, size_t i, const char* what) {
  if (!dtype_is_float(ctx.input_dtype(i)))
    return ctx.error(std::string(what) + " must be a float tensor, not " + std::string(dtype_name(ctx.input_dtype(i))));
  return Status::OK();
}

// RMSNormalization(X, scale; axis = -1, epsilon = 1e-5): Y = X / sqrt(mean(X^2 over the axes
// [axis, rank)) + epsilon) * scale, scale broadcasting to the normalized dims.
Status infer_rms_norm(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float_input(ctx, 0, "X"));
  SLIMRT_RETURN_IF_ERROR(check_float_input(ctx, 1, "scale"));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& x = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  if (rank == 0) return ctx.error("X must have rank >= 1");
  int64_t axis = 0;
  SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, ctx.node().attr_int("axis", -1), rank, &axis));
  const Shape norm(x.begin() + axis, x.end());
  if (ctx.has_shape(1)) {
    Shape b;
    SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, {&norm, &ctx.input_shape(1)}, &b));
    if (b != norm)
      return ctx.error("scale " + shape_to_string(ctx.input_shape(1)) + " does not broadcast to the normalized dims " +
                       shape_to_string(norm));
  }
  ctx.set_output(0, dt, x);
  return Status::OK();
}

Status infer_silu(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_float_input(ctx, 0, "X"));
  if (ctx.has_shape(0)) {
    ctx.set_output(0, ctx.input_dtype(0), ctx.input_shape(0));
  } else {
    ctx.set_output_dtype(0, ctx.input_dtype(0));
  }
  return Status::OK();
}

// The mask (input 3, optional) is bool or has the dtype of input 0.
Status check_mask_dtype(const ShapeContext& ctx) {
  if (ctx.has_input(3) && ctx.input_dtype(3) != DataType::kBool && ctx.input_dtype(3) != ctx.input_dtype(0))
    return ctx.error("mask must be bool or have the dtype of Q, not " + std::string(dtype_name(ctx.input_dtype(3))));
  return Status::OK();
}

// The mask, when present with a known shape, broadcasts to `scores` without growing it.
Status check_mask_shape(const ShapeContext& ctx, const Shape& scores) {
  if (!ctx.has_shape(3)) return Status::OK();
  Shape b;
  SLIMRT_RETURN_IF_ERROR(broadcast_shapes(ctx, {&scores, &ctx.input_shape(3)}, &b));
  if (b != scores)
    return ctx.error("mask " + shape_to_string(ctx.input_shape(3)) + " does not broadcast to the scores " +
                     shape_to_string(scores));
  return Status::OK();
}

// Attention(Q [..., Sq, D], K [..., Skv, D], V [..., Skv, Dv], mask?) -> [..., Sq, Dv], with
// rank 4 ([batch, heads, seq, dim]) or rank 3 ([batch*heads, seq, dim]); the leading dims of
// Q, K and V must be equal. The mask (float: added to the scaled scores; bool: true = keep)
// broadcasts to [..., Sq, Skv].
//
// seq_major = 1 (set by the layout pass, src/passes/layout.cpp, and by MHA canonicalization):
// Q, K, V and Y have their sequence axis before the heads axis -- [batch, seq, heads, dim] or
// [seq, batch*heads, dim] -- as projections produce them, so no Transpose is needed around the
// op. The mask keeps its [..., Sq, Skv] meaning.
//
// qkv_packed = 1 (only with seq_major = 1; set by MHA canonicalization, src/passes/
// canonicalize_mha.cpp, so that one GEMM projects Q, K and V): input 0 is QKV [batch, seq, 3,
// heads, dim], the output of that GEMM viewed per head, and inputs 1 and 2 are absent (the node
// has 3 or 4 input slots). Q, K and V are QKV[:, :, 0], [:, :, 1] and [:, :, 2], each
// [batch, seq, heads, dim] sequence-major; Y is [batch, seq, heads, dim] and the mask (input 3)
// broadcasts to the scores [batch, heads, seq, seq] as above. Only the rank-4 self-attention
// form packs: Sq = Skv and Dv = D.
Status infer_attention_heads_major(ShapeContext& ctx) {
  for (size_t i = 0; i < 3; ++i) {
    static const char* const kNames[] = {"Q", "K", "V"};
    SLIMRT_RETURN_IF_ERROR(check_float_input(ctx, i, kNames[i]));
    if (ctx.input_dtype(i) != ctx.input_dtype(0)) return ctx.error("Q, K and V must have the same dtype");
  }
  SLIMRT_RETURN_IF_ERROR(check_mask_dtype(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0, 1, 2})) return Status::OK();
  const Shape& q = ctx.input_shape(0);
  const Shape& k = ctx.input_shape(1);
  const Shape& v = ctx.input_shape(2);
  const size_t rank = q.size();
  if (rank != 3 && rank != 4) return ctx.error("Q must have rank 3 or 4");
  if (k.size() != rank || v.size() != rank) return ctx.error("Q, K and V must have the same rank");
  for (size_t d = 0; d + 2 < rank; ++d) {
    if (q[d] != k[d] || q[d] != v[d]) return ctx.error("Q, K and V must have the same leading dims");
  }
  if (q[rank - 1] != k[rank - 1]) return ctx.error("Q and K must have the same head dim");
  if (k[rank - 2] != v[rank - 2]) return ctx.error("K and V must have the same sequence length");
  Shape scores(q.begin(), q.end() - 1);
  scores.push_back(k[rank - 2]);
  SLIMRT_RETURN_IF_ERROR(check_mask_shape(ctx, scores));
  Shape out(q.begin(), q.end() - 1);
  out.push_back(v[rank - 1]);
  ctx.set_output(0, dt, out);
  return Status::OK();
}

// Swaps the sequence and heads axes of a rank-3/4 shape (self-inverse).
Shape swap_seq_heads(Shape s) {
  if (s.size() >= 3) std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

// qkv_packed = 1: QKV [B, S, 3, H, D], <absent>, <absent>, mask? -> [B, S, H, D].
Status infer_attention_packed(ShapeContext& ctx) {
  if (ctx.node().attr_int("seq_major", 0) == 0) return ctx.error("qkv_packed = 1 is only valid with seq_major = 1");
  if (ctx.num_inputs() < 3)
    return ctx.error("qkv_packed = 1 takes (QKV, <absent>, <absent>, mask?): inputs 1 and 2 must be present as "
                     "absent slots so that the mask stays input 3");
  if (ctx.has_input(1) || ctx.has_input(2))
    return ctx.error("qkv_packed = 1 reads K and V from QKV (input 0): inputs 1 and 2 must be absent");
  SLIMRT_RETURN_IF_ERROR(check_float_input(ctx, 0, "QKV"));
  SLIMRT_RETURN_IF_ERROR(check_mask_dtype(ctx));
  const DataType dt = ctx.input_dtype(0);
  if (set_dtype_if_shape_unknown(ctx, dt, {0})) return Status::OK();
  const Shape& qkv = ctx.input_shape(0);
  if (qkv.size() != 5)
    return ctx.error("QKV must have rank 5, [batch, seq, 3, heads, dim], not rank " + std::to_string(qkv.size()));
  if (qkv[2] != Dim(3))
    return ctx.error("axis 2 of QKV [batch, seq, 3, heads, dim] must be 3 (Q, K, V), not " + qkv[2].to_string());
  SLIMRT_RETURN_IF_ERROR(check_mask_shape(ctx, Shape{qkv[0], qkv[3], qkv[1], qkv[1]}));
  ctx.set_output(0, dt, Shape{qkv[0], qkv[1], qkv[3], qkv[4]});
  return Status::OK();
}

Status infer_attention(ShapeContext& ctx) {
  if (ctx.node().attr_int("qkv_packed", 0) != 0) return infer_attention_packed(ctx);
  // The registry's minimum is 1 input for the packed form; every other form needs Q, K and V.
  for (size_t i = 0; i < 3; ++i) {
    static const char* const kNames[] = {"Q", "K", "V"};
    if (!ctx.has_input(i))
      return ctx.error(std::string(kNames[i]) + " (input " + std::to_string(i) +
                       ") is missing; only qkv_packed = 1 leaves inputs 1 and 2 absent");
  }
  if (ctx.node().attr_int("seq_major", 0) == 0) return infer_attention_heads_major(ctx);
  std::vector<Shape> shapes(ctx.num_inputs());
  std::vector<ShapeContext::InputInfo> ins(ctx.num_inputs());
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    ins[i].dtype = ctx.input_dtype(i);
    ins[i].constant = i < 3 ? nullptr : ctx.input_constant(i);
    if (!ctx.has_shape(i)) continue;
    if (i < 3 && ctx.input_rank(i) != 3 && ctx.input_rank(i) != 4) return ctx.error("Q, K and V must have rank 3 or 4");
    shapes[i] = i < 3 ? swap_seq_heads(ctx.input_shape(i)) : ctx.input_shape(i);
    ins[i].shape = &shapes[i];
  }
  ShapeContext sub(ctx.node(), std::move(ins), 1);
  SLIMRT_RETURN_IF_ERROR(infer_attention_heads_major(sub));
  const ShapeContext::OutputInfo& out = sub.output(0);
  if (out.shape) ctx.set_output(0, out.dtype, swap_seq_heads(*out.shape));
  else ctx.set_output_dtype(0, out.dtype);
  return Status::OK();
}

}  // namespace

void register_fused_pattern_ops(OpRegistry& r) {
  r.add({"RMSNormalization", 2, 2, 1, 1, infer_rms_norm});
  r.add({"SiLU", 1, 1, 1, 1, infer_silu});
  // One input at least: the packed form (qkv_packed = 1) has Q, K and V in input 0 and leaves
  // inputs 1 and 2 absent; infer_attention checks that the other forms have all three.
  r.add({"Attention", 1, 4, 1, 1, infer_attention});
}

}  // namespace slimrt
