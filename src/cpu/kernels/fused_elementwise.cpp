// CPU reference for FusedElementwise (ir/elementwise_program.h): every element's program runs in
// double and the result is rounded once to the output type.
#include <cmath>
#include <vector>

#include "cpu/kernel_registry.h"
#include "ir/elementwise_program.h"

namespace slimrt::cpu {

namespace {

double apply(const EwInstr& in, double a, double b) {
  switch (in.op) {
    case EwOp::kAdd: return a + b;
    case EwOp::kSub: return a - b;
    case EwOp::kMul: return a * b;
    case EwOp::kDiv: return a / b;
    case EwOp::kMax: return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
    case EwOp::kMin: return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
    case EwOp::kAbs: return std::fabs(a);
    case EwOp::kNeg: return -a;
    case EwOp::kSqrt: return std::sqrt(a);
    case EwOp::kRelu: return a < 0 ? 0.0 : a;
    case EwOp::kLeakyRelu: return a < 0 ? static_cast<double>(in.alpha) * a : a;
    case EwOp::kSigmoid: return 1.0 / (1.0 + std::exp(-a));
    case EwOp::kTanh: return std::tanh(a);
    case EwOp::kErf: return std::erf(a);
    case EwOp::kGelu: return 0.5 * a * (1.0 + std::erf(a * 0.70710678118654752440));
    case EwOp::kGeluTanh: return 0.5 * a * (1.0 + std::tanh(0.79788456080286535588 * (a + 0.044715 * a * a * a)));
    case EwOp::kSiLU: return a / (1.0 + std::exp(-a));
    case EwOp::kClip: {
      const double lo = in.alpha, hi = in.beta;
      if (std::isnan(a)) return a;
      return a < lo ? lo : (a > hi ? hi : a);
    }
    case EwOp::kHardSigmoid: return std::max(0.0, std::min(1.0, static_cast<double>(in.alpha) * a + in.beta));
    case EwOp::kSoftplus: return a > 30 ? a : std::log1p(std::exp(a));
    case EwOp::kReciprocal: return 1.0 / a;
    case EwOp::kCount: break;
  }
  return NAN;
}

template <typename T>
Status run(KernelContext& ctx, const std::vector<EwInstr>& code) {
  Tensor& out = ctx.output(0);
  const std::vector<int64_t>& od = out.shape();
  const size_t rank = od.size(), n_in = ctx.inputs.size();
  // Per input, its element stride along each output axis (0 where it broadcasts).
  std::vector<std::vector<int64_t>> strides(n_in, std::vector<int64_t>(rank, 0));
  std::vector<const T*> data(n_in);
  for (size_t j = 0; j < n_in; ++j) {
    const Tensor& t = *ctx.input(j);
    data[j] = t.data<T>();
    int64_t s = 1;
    for (size_t k = t.rank(); k-- > 0;) {
      const size_t ok = rank - t.rank() + k;
      strides[j][ok] = t.dim(k) == 1 ? 0 : s;
      s *= t.dim(k);
    }
  }
  std::vector<int64_t> idx(rank, 0), off(n_in, 0);
  std::vector<double> regs(n_in + code.size());
  T* y = out.data<T>();
  const int64_t total = out.numel();
  for (int64_t e = 0; e < total; ++e) {
    for (size_t j = 0; j < n_in; ++j) regs[j] = static_cast<double>(data[j][off[j]]);
    for (size_t c = 0; c < code.size(); ++c) {
      const EwInstr& in = code[c];
      regs[n_in + c] = apply(in, regs[static_cast<size_t>(in.a)], in.b >= 0 ? regs[static_cast<size_t>(in.b)] : 0.0);
    }
    y[e] = static_cast<T>(regs.back());
    // Next output index; every input's offset follows.
    for (size_t k = rank; k-- > 0;) {
      ++idx[k];
      for (size_t j = 0; j < n_in; ++j) off[j] += strides[j][k];
      if (idx[k] < od[k]) break;
      for (size_t j = 0; j < n_in; ++j) off[j] -= strides[j][k] * od[k];
      idx[k] = 0;
    }
  }
  return Status::OK();
}

Status fused_elementwise_kernel(KernelContext& ctx) {
  Result<std::vector<EwInstr>> code = read_ew_program(ctx.node, ctx.inputs.size());
  if (!code.ok()) return ctx.invalid(code.status().message());
  switch (ctx.output(0).dtype()) {
    case DataType::kFloat32: return run<float>(ctx, *code);
    case DataType::kFloat64: return run<double>(ctx, *code);
    default: return ctx.unsupported("dtype " + std::string(dtype_name(ctx.output(0).dtype())));
  }
}

}  // namespace

void register_fused_elementwise_kernels(KernelRegistry& r) { r.add({"FusedElementwise", &fused_elementwise_kernel, true}); }

}  // namespace slimrt::cpu
