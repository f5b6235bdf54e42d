// The generic CUDA Einsum (see linalg_einsum_generic.h).
//
// create() lays the equation out as the CPU reference does: one axis per ellipsis dim and per
// label, each operand with a stride per axis (0 where it lacks the axis or broadcasts it, the sum
// of its positions' strides for a repeated label, which walks a diagonal). The output axes and the
// summed axes are then compacted (size-1 axes dropped, neighbours that every operand walks
// contiguously merged) into one by-value parameter struct. Two kernels:
//   thread  one thread per output element, looping over the summed space (innermost summed axis
//           as a plain strided loop);
//   block   one block per output element, a reduction tree over the summed space, for few
//           outputs with long sums (the 'ijk->' and 'ij->j' shapes).
// Accumulation: double for fp32/fp64 (the CPU accumulates in double), fp32 for fp16/bf16, and
// uint64 for integers (wrapping like the CPU, then cast to the stored type).
#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/kernels/common.cuh"
#include "cuda/kernels/linalg_einsum_generic.h"

namespace slimrt::cuda {

namespace {

constexpr int kOps = kEinsumMaxOperands;
constexpr int kAxes = kEinsumMaxAxes;

struct EinsumParams {
  int n_ops = 0;
  int out_rank = 0, sum_rank = 0;
  int64_t n_out = 0, n_sum = 0;
  int64_t out_size[kAxes] = {};
  int64_t sum_size[kAxes] = {};
  int64_t out_stride[kOps][kAxes] = {};  // unused operands keep stride 0
  int64_t sum_stride[kOps][kAxes] = {};
};

struct EinsumOperands {
  const void* p[kOps] = {};
};

template <typename T> struct EinsumAcc { using type = uint64_t; };  // integers
template <> struct EinsumAcc<float> { using type = double; };
template <> struct EinsumAcc<double> { using type = double; };
template <> struct EinsumAcc<__half> { using type = float; };
template <> struct EinsumAcc<__nv_bfloat16> { using type = float; };
template <typename T> using einsum_acc_t = typename EinsumAcc<T>::type;

template <typename T> constexpr bool kIsHalf = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

template <typename T>
__device__ __forceinline__ einsum_acc_t<T> einsum_load(const void* p, int64_t i) {
  const T v = static_cast<const T*>(p)[i];
  if constexpr (std::is_integral_v<T>) return static_cast<uint64_t>(static_cast<int64_t>(v));
  else if constexpr (kIsHalf<T>) return to_f32(v);
  else return static_cast<double>(v);
}

template <typename T>
__device__ __forceinline__ T einsum_store(einsum_acc_t<T> v) {
  if constexpr (kIsHalf<T>) return from_f32<T>(v);
  else return static_cast<T>(v);
}

// Adds to off[i] operand i's offset of linear index `idx` over the output (kOut) or summed axes.
template <bool kOut>
__device__ __forceinline__ void einsum_offsets(const EinsumParams& p, int rank, int64_t idx, int64_t (&off)[kOps]) {
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t n = kOut ? p.out_size[d] : p.sum_size[d];
    const int64_t q = idx / n;
    const int64_t c = idx - q * n;
    idx = q;
#pragma unroll
    for (int i = 0; i < kOps; ++i) off[i] += c * (kOut ? p.out_stride[i][d] : p.sum_stride[i][d]);
  }
}

template <typename T>
__device__ __forceinline__ einsum_acc_t<T> einsum_product(const EinsumOperands& ops, int n_ops, const int64_t (&off)[kOps]) {
  einsum_acc_t<T> prod = einsum_load<T>(ops.p[0], off[0]);
#pragma unroll
  for (int i = 1; i < kOps; ++i) {
    if (i < n_ops) prod *= einsum_load<T>(ops.p[i], off[i]);
  }
  return prod;
}

template <typename T>
__global__ void __launch_bounds__(kBlock) einsum_thread_kernel(EinsumOperands ops, T* __restrict__ y, EinsumParams p) {
  using Acc = einsum_acc_t<T>;
  // The innermost summed axis runs as a plain loop; the others are decomposed once per pass.
  const int inner_d = p.sum_rank - 1;
  const int64_t inner = inner_d >= 0 ? p.sum_size[inner_d] : 1;
  const int64_t n_outer = p.n_sum == 0 ? 0 : p.n_sum / inner;
  int64_t step[kOps];
#pragma unroll
  for (int i = 0; i < kOps; ++i) step[i] = inner_d >= 0 ? p.sum_stride[i][inner_d] : 0;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < p.n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t base[kOps] = {};
    einsum_offsets<true>(p, p.out_rank, o, base);
    Acc acc = 0;
    for (int64_t so = 0; so < n_outer; ++so) {
      int64_t off[kOps];
#pragma unroll
      for (int i = 0; i < kOps; ++i) off[i] = base[i];
      einsum_offsets<false>(p, inner_d, so, off);
      for (int64_t j = 0; j < inner; ++j) {
        acc += einsum_product<T>(ops, p.n_ops, off);
#pragma unroll
        for (int i = 0; i < kOps; ++i) off[i] += step[i];
      }
    }
    y[o] = einsum_store<T>(acc);
  }
}

template <typename Acc>
__device__ __forceinline__ Acc warp_sum(Acc v) {
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) v += __shfl_down_sync(0xffffffffu, v, s);
  return v;
}

template <typename T>
__global__ void __launch_bounds__(kBlock) einsum_block_kernel(EinsumOperands ops, T* __restrict__ y, EinsumParams p) {
  using Acc = einsum_acc_t<T>;
  __shared__ Acc warp_sums[kBlock / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t o = blockIdx.x; o < p.n_out; o += gridDim.x) {
    int64_t base[kOps] = {};
    einsum_offsets<true>(p, p.out_rank, o, base);
    Acc acc = 0;
    for (int64_t s = threadIdx.x; s < p.n_sum; s += blockDim.x) {
      int64_t off[kOps];
#pragma unroll
      for (int i = 0; i < kOps; ++i) off[i] = base[i];
      einsum_offsets<false>(p, p.sum_rank, s, off);
      acc += einsum_product<T>(ops, p.n_ops, off);
    }
    acc = warp_sum(acc);
    if (lane == 0) warp_sums[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      Acc v = lane < kBlock / 32 ? warp_sums[lane] : Acc(0);
      v = warp_sum(v);
      if (lane == 0) y[o] = einsum_store<T>(v);
    }
    __syncthreads();  // warp_sums is reused by the next output
  }
}

template <typename F> Status dispatch_einsum(DataType t, F&& f) {
  return dtype_is_float(t) ? dispatch_float(t, f) : dispatch_int(t, f);
}

class EinsumGenericKernel final : public Kernel {
 public:
  Status enqueue(const LaunchArgs& args) const override {
    if (p_.n_out == 0) return Status::OK();
    EinsumOperands ops;
    for (int i = 0; i < p_.n_ops; ++i) ops.p[i] = args.input(static_cast<size_t>(i));
    return dispatch_einsum(dtype_, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (block_) {
        const auto grid = static_cast<unsigned>(std::min<int64_t>(p_.n_out, int64_t{1} << 20));
        einsum_block_kernel<T><<<grid, kBlock, 0, args.stream>>>(ops, args.out<T>(0), p_);
      } else {
        einsum_thread_kernel<T><<<grid_for(p_.n_out), kBlock, 0, args.stream>>>(ops, args.out<T>(0), p_);
      }
    });
  }

  DataType dtype_ = DataType::kFloat32;
  bool block_ = false;
  EinsumParams p_;
};

// One axis of the iteration space: its size and every operand's stride along it.
struct Axis {
  int64_t size = 1;
  std::array<int64_t, kOps> stride{};
};

// Drops size-1 axes and merges an axis into its outer neighbour where every operand steps over
// the inner one contiguously (outer stride == inner stride * inner size). Axes stay outer first.
std::vector<Axis> compact(const std::vector<Axis>& axes) {
  std::vector<Axis> r;
  for (const Axis& a : axes) {
    if (a.size == 1) continue;
    if (!r.empty()) {
      Axis& outer = r.back();
      bool merge = true;
      for (int i = 0; i < kOps; ++i) merge = merge && outer.stride[i] == a.stride[i] * a.size;
      if (merge) {
        outer.size *= a.size;
        outer.stride = a.stride;
        continue;
      }
    }
    r.push_back(a);
  }
  return r;
}

int64_t volume(const std::vector<Axis>& axes) {
  int64_t n = 1;
  for (const Axis& a : axes) n *= a.size;
  return n;
}

// The iteration space of `eq` over the inputs, as the CPU reference builds it.
Status plan_axes(const PrepareArgs& args, const EinsumEquation& eq, std::vector<Axis>* out_axes,
                 std::vector<Axis>* sum_axes) {
  const size_t nin = eq.inputs.size();
  size_t ell = 0;
  for (size_t i = 0; i < nin; ++i) {
    const std::string& t = eq.inputs[i];
    const size_t labels = einsum_label_count(t);
    const auto rank = static_cast<size_t>(args.input(i).rank());
    if (labels == t.size() ? rank != labels : rank < labels)
      return args.invalid("einsum term '" + t + "' does not fit an input of rank " + std::to_string(rank));
    if (labels != t.size()) ell = std::max(ell, rank - labels);
  }
  // Axes 0..ell-1 are the ellipsis dims (right-aligned), then one per label by first appearance.
  std::vector<Axis> axes(ell);
  std::vector<bool> sized(ell, true);
  std::map<char, size_t> label_axis;
  for (const std::string& t : eq.inputs) {
    for (char c : t) {
      if (c != EinsumEquation::kEllipsis && !label_axis.count(c)) {
        label_axis[c] = axes.size();
        axes.emplace_back();
        sized.push_back(false);
      }
    }
  }
  for (size_t i = 0; i < nin; ++i) {
    const std::vector<int64_t>& dims = args.input(i).dims;
    const std::string& t = eq.inputs[i];
    const size_t rank = dims.size();
    std::vector<int64_t> strides(rank, 1);
    for (size_t d = rank; d-- > 1;) strides[d - 1] = strides[d] * dims[d];
    const size_t n_ell = rank - einsum_label_count(t);
    size_t d = 0;
    for (char c : t) {
      if (c == EinsumEquation::kEllipsis) {
        for (size_t e = 0; e < n_ell; ++e, ++d) {
          Axis& a = axes[ell - n_ell + e];
          if (dims[d] == 1) continue;  // broadcast: stride 0
          if (a.size != 1 && a.size != dims[d]) return args.invalid("einsum ellipsis dims do not broadcast");
          a.size = dims[d];
          a.stride[i] = strides[d];
        }
        continue;
      }
      const size_t ax = label_axis[c];
      if (sized[ax] && axes[ax].size != dims[d])
        return args.invalid(std::string("sizes of einsum label '") + c + "' do not match");
      sized[ax] = true;
      axes[ax].size = dims[d];
      axes[ax].stride[i] += strides[d];
      ++d;
    }
  }
  std::vector<bool> in_out(axes.size(), false);
  for (char c : eq.output) {
    if (c == EinsumEquation::kEllipsis) {
      for (size_t e = 0; e < ell; ++e) {
        out_axes->push_back(axes[e]);
        in_out[e] = true;
      }
    } else {
      out_axes->push_back(axes[label_axis.at(c)]);
      in_out[label_axis.at(c)] = true;
    }
  }
  for (size_t a = 0; a < axes.size(); ++a) {
    if (!in_out[a]) sum_axes->push_back(axes[a]);
  }
  // The sum's order is free: larger strides (of the first operand) outside give coalesced
  // inner steps and more merges.
  std::stable_sort(sum_axes->begin(), sum_axes->end(),
                   [](const Axis& x, const Axis& y) { return x.stride[0] > y.stride[0]; });
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Kernel>> create_einsum_generic(const PrepareArgs& args, const EinsumEquation& eq) {
  const size_t nin = eq.inputs.size();
  if (nin == 0 || nin != args.inputs.size()) return args.invalid("einsum terms do not match the inputs");
  if (nin > static_cast<size_t>(kOps)) return args.unsupported("einsum with more than 8 operands");
  for (size_t i = 0; i < nin; ++i) {
    if (!args.has_input(i)) return args.invalid("Einsum inputs cannot be absent");
  }
  const DataType dt = args.input(0).dtype;
  for (size_t i = 1; i < nin; ++i) {
    if (args.input(i).dtype != dt) return args.invalid("Einsum inputs must share one dtype");
  }
  if (args.output(0).dtype != dt) return args.invalid("Einsum output dtype differs from its inputs'");
  if (!dispatch_einsum(dt, [](auto) {}).ok())
    return args.unsupported("einsum on dtype " + std::string(dtype_name(dt)));
  std::vector<Axis> out_axes, sum_axes;
  SLIMRT_RETURN_IF_ERROR(plan_axes(args, eq, &out_axes, &sum_axes));
  auto k = std::make_unique<EinsumGenericKernel>();
  k->dtype_ = dt;
  EinsumParams& p = k->p_;
  p.n_ops = static_cast<int>(nin);
  p.n_out = volume(out_axes);
  if (p.n_out != args.output(0).numel()) return args.invalid("einsum output size does not match the equation");
  if (p.n_out == 0) return std::unique_ptr<Kernel>(std::move(k));
  p.n_sum = volume(sum_axes);
  const std::vector<Axis> out = compact(out_axes);
  const std::vector<Axis> sum = p.n_sum == 0 ? std::vector<Axis>{} : compact(sum_axes);
  if (out.size() > static_cast<size_t>(kAxes) || sum.size() > static_cast<size_t>(kAxes))
    return args.unsupported("einsum with more than 8 output or summed axes after merging");
  p.out_rank = static_cast<int>(out.size());
  p.sum_rank = static_cast<int>(sum.size());
  for (int d = 0; d < p.out_rank; ++d) {
    p.out_size[d] = out[static_cast<size_t>(d)].size;
    for (int i = 0; i < kOps; ++i) p.out_stride[i][d] = out[static_cast<size_t>(d)].stride[static_cast<size_t>(i)];
  }
  for (int d = 0; d < p.sum_rank; ++d) {
    p.sum_size[d] = sum[static_cast<size_t>(d)].size;
    for (int i = 0; i < kOps; ++i) p.sum_stride[i][d] = sum[static_cast<size_t>(d)].stride[static_cast<size_t>(i)];
  }
  // Few outputs with long sums: a block per output; otherwise a thread per output fills the GPU.
  const int64_t sms = args.device.sm_count > 0 ? args.device.sm_count : 132;
  k->block_ = p.n_sum >= 256 && p.n_out < sms * 1024;
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace slimrt::cuda
