// CUDA kernel: FusedElementwise (ir/elementwise_program.h). One thread per output element loads
// its inputs (inputs of the output's shape by index, broadcast ones through their strides), runs
// the program in fp32 (fp64 for double) and stores the last value once.
//
// The program's registers are indexed at run time, so they cannot live in hardware registers.
// As a per-thread array they went to local memory, 160 bytes a thread, which a full SM's threads
// spill out of L1 (an 8-op chain over 6.3M halves ran at 144 GB/s on the H100). They live in
// shared memory instead, register r of thread t at [r * blockDim + t] (no bank conflicts), sized
// to the program.
#include <cmath>

#include "cuda/kernels/common.cuh"
#include "cuda/kernels/device_math.cuh"
#include "ir/elementwise_program.h"

namespace slimrt::cuda {

namespace {

struct EwCode {
  int n_inputs = 0, n_ops = 0;
  int8_t op[kMaxEwOps] = {}, a[kMaxEwOps] = {}, b[kMaxEwOps] = {};
  float alpha[kMaxEwOps] = {}, beta[kMaxEwOps] = {};
  bool same[kMaxEwInputs] = {};  // input has the output's shape: read at the output index
  BroadcastStrides bs[kMaxEwInputs];
};

struct EwPointers {
  const void* in[kMaxEwInputs] = {};
};

template <typename C>
__device__ __forceinline__ C ew_apply(int op, C x, C y, float alpha, float beta) {
  switch (static_cast<EwOp>(op)) {
    case EwOp::kAdd: return x + y;
    case EwOp::kSub: return x - y;
    case EwOp::kMul: return x * y;
    case EwOp::kDiv: return x / y;
    case EwOp::kMax: return (isnan(x) || isnan(y)) ? C(NAN) : (x > y ? x : y);
    case EwOp::kMin: return (isnan(x) || isnan(y)) ? C(NAN) : (x < y ? x : y);
    case EwOp::kAbs: return fabs(x);
    case EwOp::kNeg: return -x;
    case EwOp::kSqrt: return sqrt(x);
    case EwOp::kRelu: return x < C(0) ? C(0) : x;
    case EwOp::kLeakyRelu: return x < C(0) ? C(alpha) * x : x;
    case EwOp::kSigmoid: return C(1) / (C(1) + exp(-x));
    case EwOp::kTanh: return tanh(x);
    case EwOp::kErf: return erf(x);
    case EwOp::kGelu: return gelu_erf(x);
    case EwOp::kGeluTanh: return gelu_tanh(x);
    case EwOp::kSiLU: return x / (C(1) + exp(-x));
    case EwOp::kClip: return isnan(x) ? x : (x < C(alpha) ? C(alpha) : (x > C(beta) ? C(beta) : x));
    case EwOp::kHardSigmoid: {
      const C v = C(alpha) * x + C(beta);
      return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
    }
    case EwOp::kSoftplus: return x > C(30) ? x : log1p(exp(x));
    case EwOp::kReciprocal: return C(1) / x;
    default: return C(NAN);
  }
}

template <typename T>
__global__ void fused_elementwise_kernel(EwPointers ptr, T* __restrict__ y, int64_t n, EwCode code) {
  using C = compute_t<T>;
  extern __shared__ __align__(16) unsigned char ew_smem[];
  struct Regs {  // register r of this thread
    C* base;
    unsigned stride;
    __device__ C& operator[](int r) const { return base[r * stride]; }
  } reg{reinterpret_cast<C*>(ew_smem) + threadIdx.x, blockDim.x};
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    for (int j = 0; j < code.n_inputs; ++j) {
      const T* x = static_cast<const T*>(ptr.in[j]);
      reg[j] = load_c(x, code.same[j] ? i : broadcast_offset(code.bs[j], i));
    }
    for (int k = 0; k < code.n_ops; ++k) {
      const C xa = reg[code.a[k]];
      const C xb = code.b[k] >= 0 ? reg[code.b[k]] : C(0);
      reg[code.n_inputs + k] = ew_apply<C>(code.op[k], xa, xb, code.alpha[k], code.beta[k]);
    }
    store_c(y, i, reg[code.n_inputs + code.n_ops - 1]);
  }
}

class FusedElementwiseKernel final : public Kernel {
 public:
  FusedElementwiseKernel(DataType t, int64_t n, const EwCode& c) : dtype_(t), n_(n), code_(c) {}
  Status enqueue(const LaunchArgs& a) const override {
    if (n_ == 0) return Status::OK();
    EwPointers p;
    for (int j = 0; j < code_.n_inputs; ++j) p.in[j] = a.input(static_cast<size_t>(j));
    return dispatch_float(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const size_t smem = static_cast<size_t>(code_.n_inputs + code_.n_ops) * kBlock * sizeof(compute_t<T>);
      fused_elementwise_kernel<T><<<grid_for(n_), kBlock, smem, a.stream>>>(p, a.out<T>(0), n_, code_);
    });
  }

 private:
  DataType dtype_;
  int64_t n_;
  EwCode code_;
};

Result<std::unique_ptr<Kernel>> create_fused_elementwise(const PrepareArgs& a) {
  const size_t n_in = a.inputs.size();
  Result<std::vector<EwInstr>> prog = read_ew_program(a.node, n_in);
  if (!prog.ok()) return a.invalid(prog.status().message());
  const TensorInfo& y = a.output(0);
  if (!dtype_is_float(y.dtype)) return a.unsupported("FusedElementwise needs float tensors");
  if (y.rank() > kMaxRank) return a.unsupported("rank above 8");
  EwCode c;
  c.n_inputs = static_cast<int>(n_in);
  c.n_ops = static_cast<int>(prog->size());
  for (size_t k = 0; k < prog->size(); ++k) {
    const EwInstr& in = (*prog)[k];
    c.op[k] = static_cast<int8_t>(in.op);
    c.a[k] = static_cast<int8_t>(in.a);
    c.b[k] = static_cast<int8_t>(in.b);
    c.alpha[k] = in.alpha;
    c.beta[k] = in.beta;
  }
  for (size_t j = 0; j < n_in; ++j) {
    const TensorInfo& x = a.input(j);
    if (x.dtype != y.dtype) return a.invalid("inputs and output must share one dtype");
    c.same[j] = x.dims == y.dims;
    if (!c.same[j]) c.bs[j] = broadcast_strides(x.dims, y.dims);
  }
  // Up to 40 double registers per thread need more than the default 48 KB of shared memory.
  const size_t smem = static_cast<size_t>(c.n_inputs + c.n_ops) * kBlock * sizeof(double);
  if (y.dtype == DataType::kFloat64 && smem > 48 * 1024) {
    if (smem > a.device.max_shared_per_block_optin) return a.unsupported("program too long for shared memory");
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(reinterpret_cast<const void*>(fused_elementwise_kernel<double>),
                                                     cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
                                "FusedElementwise shared memory");
  }
  return std::unique_ptr<Kernel>(new FusedElementwiseKernel(y.dtype, y.numel(), c));
}

}  // namespace

void register_fused_elementwise_kernels(KernelRegistry& r) {
  r.add({"FusedElementwise", create_fused_elementwise, 0});
}

}  // namespace slimrt::cuda
