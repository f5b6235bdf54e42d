// CPU reference kernels for the epilogue-fused ops FusedConv and FusedMatMul.
//
// They compute exactly what the unfused chain computes, step by step, rounding to the storage
// type after each step as the separate ops do:
//   y = Conv(X, W, B) | Gemm(A, B, C) | MatMul(A, B)   (the registered kernels themselves)
//   y = y + bias                                       (FusedMatMul with gemm = 0 and input 2)
//   y = act(y + R)          when residual_before_activation = 1
//   y = act(y) + R          otherwise
// The product and the activation are computed by the registered Conv/Gemm/MatMul and Relu/
// Gelu/Clip/... kernels, called on a one-node context, so a fused node cannot drift from the
// ops it replaced; the adds use the same broadcasting loop as the Add kernel.
#include <functional>
#include <string>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"
#include "cpu/kernels/elementwise_common.h"

namespace slimrt::cpu {

namespace {

Status call_kernel(const KernelContext& ctx, const char* op_type, const Node& node,
                   std::vector<const Tensor*> inputs, Tensor* out) {
  const KernelDef* def = KernelRegistry::get().find(op_type);
  if (!def) return ctx.unsupported(std::string("no CPU kernel for ") + op_type);
  KernelContext sub{node, std::move(inputs), {out}};
  return def->fn(sub);
}

// A scalar of x's float dtype holding v.
Tensor scalar_like(const Tensor& x, float v) {
  if (x.dtype() == DataType::kFloat64)
    return Tensor::from_vector<double>(DataType::kFloat64, {}, {static_cast<double>(v)});
  return Tensor::from_vector<float>(DataType::kFloat32, {}, {v});
}

// out = act(in) through the registered kernel of the activation, on a one-node graph carrying
// the attributes that kernel reads.
Status apply_activation(const KernelContext& ctx, const std::string& act, const Tensor& in, Tensor* out) {
  Graph g;
  const std::string op = act == "GeluTanh" ? "Gelu" : act;
  Node* n = g.add_node(op, ctx.node.name() + ".activation", {}, 0);
  std::vector<const Tensor*> inputs = {&in};
  Tensor lo, hi;
  if (act == "GeluTanh") n->set_attr("approximate", std::string("tanh"));
  if (act == "LeakyRelu") n->set_attr("alpha", ctx.node.attr_float("alpha", 0.01f));
  if (act == "Clip") {
    if (ctx.node.has_attr("min")) lo = scalar_like(in, ctx.node.attr_float("min", 0.0f));
    if (ctx.node.has_attr("max")) hi = scalar_like(in, ctx.node.attr_float("max", 0.0f));
    inputs.push_back(lo.defined() ? &lo : nullptr);
    inputs.push_back(hi.defined() ? &hi : nullptr);
  }
  return call_kernel(ctx, op.c_str(), *n, std::move(inputs), out);
}

// y += addend (broadcast to y's shape), as the Add kernel computes it.
Status add_in_place(const KernelContext& ctx, Tensor* y, const Tensor& addend) {
  if (addend.dtype() != y->dtype())
    return ctx.invalid("addend of dtype " + std::string(dtype_name(addend.dtype())) + " for a product of dtype " +
                       std::string(dtype_name(y->dtype())));
  return dispatch_float(y->dtype(), [&]<typename T>() {
    T* p = y->data<T>();
    ew::binary_loop(p, y->shape(), addend.data<T>(), addend.shape(), p, y->shape(), std::plus<T>());
    return Status::OK();
  });
}

// Runs the product `op_type` on `op_inputs`, then bias, residual and activation.
Status run_fused(KernelContext& ctx, const char* op_type, std::vector<const Tensor*> op_inputs, const Tensor* bias) {
  Tensor& out = ctx.output(0);
  const Tensor* residual = ctx.input(3);
  const std::string act = ctx.node.attr_string("activation", "");
  const bool residual_first = ctx.node.attr_int("residual_before_activation", 0) != 0;
  // With an activation the product goes to a scratch tensor and the activation writes `out`,
  // so no kernel ever has to support running in place.
  Tensor scratch;
  Tensor* pre = &out;
  if (!act.empty()) {
    SLIMRT_ASSIGN_OR_RETURN(scratch, Tensor::allocate(out.dtype(), out.shape()));
    pre = &scratch;
  }
  SLIMRT_RETURN_IF_ERROR(call_kernel(ctx, op_type, ctx.node, std::move(op_inputs), pre));
  if (bias) SLIMRT_RETURN_IF_ERROR(add_in_place(ctx, pre, *bias));
  if (residual && (residual_first || act.empty())) SLIMRT_RETURN_IF_ERROR(add_in_place(ctx, pre, *residual));
  if (act.empty()) return Status::OK();
  SLIMRT_RETURN_IF_ERROR(apply_activation(ctx, act, *pre, &out));
  if (residual && !residual_first) SLIMRT_RETURN_IF_ERROR(add_in_place(ctx, &out, *residual));
  return Status::OK();
}

Status fused_conv_kernel(KernelContext& ctx) {
  Status s = run_fused(ctx, "Conv", {ctx.input(0), ctx.input(1), ctx.input(2)}, nullptr);
  return s.ok() ? s : s.with_context(ctx.node.describe());
}

Status fused_matmul_kernel(KernelContext& ctx) {
  const bool gemm = ctx.node.attr_int("gemm", 0) != 0;
  Status s = gemm ? run_fused(ctx, "Gemm", {ctx.input(0), ctx.input(1), ctx.input(2)}, nullptr)
                  : run_fused(ctx, "MatMul", {ctx.input(0), ctx.input(1)}, ctx.input(2));
  return s.ok() ? s : s.with_context(ctx.node.describe());
}

}  // namespace

void register_fused_epilogue_kernels(KernelRegistry& r) {
  r.add({"FusedConv", &fused_conv_kernel, true});
  r.add({"FusedMatMul", &fused_matmul_kernel, true});
}

}  // namespace slimrt::cpu
