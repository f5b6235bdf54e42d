// Shape inference for the epilogue-fused ops FusedConv and FusedMatMul (emitted by
// src/passes/fuse_epilogues.cpp; docs/passes.md gives their exact semantics).
//
//   FusedConv(X, W, B?, R?)      Conv's attributes + activation (+alpha/min/max) +
//                                residual_before_activation
//   FusedMatMul(A, B, C?, R?)    gemm = 1: Gemm's transA/transB/alpha/beta, C is Gemm's C;
//                                gemm = 0: MatMul, C is a bias broadcast to the product
//
// The product's shape comes from the registered Conv / Gemm / MatMul inference itself, run on
// the same node restricted to the op's own inputs, so the fused ops can never disagree with
// the op they replace. The bias (FusedMatMul) and the residual R must broadcast to the product
// without growing it.
#include <string>
#include <vector>

#include "ir/layout.h"
#include "ir/op_registry.h"

namespace slimrt {

namespace {

const char* const kActivations[] = {"", "Relu", "Gelu", "GeluTanh", "SiLU", "Sigmoid", "Tanh", "LeakyRelu", "Clip"};

Status check_activation(const ShapeContext& ctx) {
  const std::string act = ctx.node().attr_string("activation", "");
  for (const char* a : kActivations) {
    if (act == a) return Status::OK();
  }
  return ctx.unsupported("unknown activation '" + act + "'");
}

// Runs the inference of `op_type` on the first `n` inputs of ctx's node.
Status infer_as(ShapeContext& ctx, const char* op_type, size_t n) {
  const OpDef* def = OpRegistry::get().find(op_type);
  if (!def || !def->infer) return ctx.unsupported(std::string("no shape inference for ") + op_type);
  std::vector<ShapeContext::InputInfo> ins(n);
  for (size_t i = 0; i < n && i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    ins[i].dtype = ctx.input_dtype(i);
    ins[i].shape = ctx.has_shape(i) ? &ctx.input_shape(i) : nullptr;
    ins[i].constant = ctx.input_constant(i);
  }
  ShapeContext sub(ctx.node(), std::move(ins), 1);
  SLIMRT_RETURN_IF_ERROR(def->infer(sub));
  const ShapeContext::OutputInfo& out = sub.output(0);
  if (out.shape) {
    ctx.set_output(0, out.dtype, *out.shape);
  } else {
    ctx.set_output_dtype(0, out.dtype);
  }
  return Status::OK();
}

// Input i (if present) must have the output's dtype and broadcast to its shape without growing it.
Status check_addend(ShapeContext& ctx, size_t i, const char* what) {
  if (!ctx.has_input(i)) return Status::OK();
  const ShapeContext::OutputInfo& out = ctx.output(0);
  if (ctx.input_dtype(i) != out.dtype)
    return ctx.error(std::string(what) + " has dtype " + std::string(dtype_name(ctx.input_dtype(i))) +
                     " but the product has " + std::string(dtype_name(out.dtype)));
  if (!ctx.has_shape(i) || !out.shape) return Status::OK();
  const Shape& s = ctx.input_shape(i);
  const Shape& o = *out.shape;
  if (s.size() > o.size())
    return ctx.error(std::string(what) + " of shape " + shape_to_string(s) + " has a higher rank than the product " +
                     shape_to_string(o));
  for (size_t k = 0; k < s.size(); ++k) {
    const Dim& d = s[k];
    const Dim& want = o[o.size() - s.size() + k];
    if (d == Dim(1) || d == want) continue;
    if (d.is_static() && want.is_static())
      return ctx.error(std::string(what) + " of shape " + shape_to_string(s) + " does not broadcast to the product " +
                       shape_to_string(o));
  }
  return Status::OK();
}

Status infer_fused_conv_nchw(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_activation(ctx));
  SLIMRT_RETURN_IF_ERROR(infer_as(ctx, "Conv", 3));
  return check_addend(ctx, 3, "residual R");
}

// Also the channels-last form (ir/layout.h), whose R must have Y's exact shape.
Status infer_fused_conv(ShapeContext& ctx) {
  if (!is_channels_last(ctx.node())) return infer_fused_conv_nchw(ctx);
  SLIMRT_RETURN_IF_ERROR(infer_channels_last(ctx, infer_fused_conv_nchw));
  if (ctx.has_shape(3) && ctx.output(0).shape && ctx.input_shape(3) != *ctx.output(0).shape)
    return ctx.error("channels_last residual R " + shape_to_string(ctx.input_shape(3)) + " must have the output's shape " +
                     shape_to_string(*ctx.output(0).shape));
  return Status::OK();
}

Status infer_fused_matmul(ShapeContext& ctx) {
  SLIMRT_RETURN_IF_ERROR(check_activation(ctx));
  if (!dtype_is_float(ctx.input_dtype(0)))
    return ctx.unsupported("dtype " + std::string(dtype_name(ctx.input_dtype(0))) + " is not a float type");
  if (ctx.node().attr_int("gemm", 0) != 0) {
    SLIMRT_RETURN_IF_ERROR(infer_as(ctx, "Gemm", 3));
  } else {
    SLIMRT_RETURN_IF_ERROR(infer_as(ctx, "MatMul", 2));
    SLIMRT_RETURN_IF_ERROR(check_addend(ctx, 2, "bias"));
  }
  return check_addend(ctx, 3, "residual R");
}

}  // namespace

void register_fused_epilogue_ops(OpRegistry& r) {
  r.add({"FusedConv", 2, 4, 1, 1, infer_fused_conv});
  r.add({"FusedMatMul", 2, 4, 1, 1, infer_fused_matmul});
}

}  // namespace slimrt
