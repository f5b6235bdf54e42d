// CUDA kernels: Pad (constant, reflect, edge, wrap; negative pads crop) and Trilu. Both move
// bytes: Pad's constant value is copied bit for bit from its host input, and Trilu's zero is
// all-zero bits in every dtype, so element size alone picks the instantiation.
#include <cstring>
#include <string>
#include <vector>

#include "cuda/kernels/tensor_common.cuh"

namespace slimrt::cuda::tensor {

namespace {

enum class PadMode { kConstant, kEdge, kWrap, kReflect };

// Per output axis: the output index o reads input index start + j with j = o - lead when
// 0 <= j < len (the cropped extent); outside it, `mode` decides.
template <typename I> struct PadParams {
  int rank = 0;
  I n = 0;
  I out_dims[kMaxRank] = {};
  I lead[kMaxRank] = {};
  I len[kMaxRank] = {};
  I start[kMaxRank] = {};
  I in_strides[kMaxRank] = {};
};

template <PadMode M, typename I> __device__ __forceinline__ I pad_source(I j, I len) {
  if constexpr (M == PadMode::kEdge) {
    return j < 0 ? 0 : len - 1;
  } else if constexpr (M == PadMode::kWrap) {
    j %= len;
    return j < 0 ? j + len : j;
  } else {
    if (len == 1) return 0;
    const I period = 2 * (len - 1);
    j %= period;
    if (j < 0) j += period;
    return j >= len ? period - j : j;
  }
}

template <typename T, PadMode M, typename I>
__global__ void pad_kernel(const T* __restrict__ in, T* __restrict__ out, PadParams<I> p, T fill) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n; i += step) {
    I rem = i, off = 0;
    bool constant = false;
    for (int k = p.rank - 1; k >= 0; --k) {
      const I q = rem / p.out_dims[k];
      I j = rem - q * p.out_dims[k] - p.lead[k];
      rem = q;
      if (j < 0 || j >= p.len[k]) {
        if constexpr (M == PadMode::kConstant) {
          constant = true;
          continue;
        } else {
          j = pad_source<M>(j, p.len[k]);
        }
      }
      off += (p.start[k] + j) * p.in_strides[k];
    }
    out[i] = constant ? fill : in[off];
  }
}

template <typename I> PadParams<I> to_params(const PadParams<int64_t>& s) {
  PadParams<I> p;
  p.rank = s.rank;
  p.n = static_cast<I>(s.n);
  for (int k = 0; k < s.rank; ++k) {
    p.out_dims[k] = static_cast<I>(s.out_dims[k]);
    p.lead[k] = static_cast<I>(s.lead[k]);
    p.len[k] = static_cast<I>(s.len[k]);
    p.start[k] = static_cast<I>(s.start[k]);
    p.in_strides[k] = static_cast<I>(s.in_strides[k]);
  }
  return p;
}

class PadKernel final : public Kernel {
 public:
  PadKernel(const PadParams<int64_t>& p, PadMode mode, int esize, uint64_t fill_bits, bool wide)
      : p64_(p), p32_(to_params<int32_t>(p)), mode_(mode), esize_(esize), fill_bits_(fill_bits), wide_(wide) {}

  Status enqueue(const LaunchArgs& args) const override {
    if (p64_.n == 0) return Status::OK();
    // The element size was checked when the kernel was made (1, 2, 4 or 8).
    (void)dispatch_size(static_cast<size_t>(esize_), [&](auto tag) { launch<typename decltype(tag)::type>(args); });
    return Status::OK();
  }

 private:
  template <typename T> void launch(const LaunchArgs& args) const {
    T fill;
    std::memcpy(&fill, &fill_bits_, sizeof(T));
    switch (mode_) {
      case PadMode::kConstant: launch_mode<T, PadMode::kConstant>(args, fill); break;
      case PadMode::kEdge: launch_mode<T, PadMode::kEdge>(args, fill); break;
      case PadMode::kWrap: launch_mode<T, PadMode::kWrap>(args, fill); break;
      case PadMode::kReflect: launch_mode<T, PadMode::kReflect>(args, fill); break;
    }
  }
  template <typename T, PadMode M> void launch_mode(const LaunchArgs& args, T fill) const {
    const T* in = args.in<T>(0);
    T* out = args.out<T>(0);
    if (wide_) pad_kernel<T, M, int64_t><<<grid_for(p64_.n), kBlock, 0, args.stream>>>(in, out, p64_, fill);
    else pad_kernel<T, M, int32_t><<<grid_for(p32_.n), kBlock, 0, args.stream>>>(in, out, p32_, fill);
  }

  PadParams<int64_t> p64_;
  PadParams<int32_t> p32_;
  PadMode mode_;
  int esize_;
  uint64_t fill_bits_;
  bool wide_;
};

Result<std::unique_ptr<Kernel>> create_pad(const PrepareArgs& a) {
  const TensorInfo& x = a.input(0);
  const TensorInfo& y = a.output(0);
  const int64_t rank = x.rank();
  const size_t esize = dtype_size(x.dtype);
  if (esize != 1 && esize != 2 && esize != 4 && esize != 8)
    return a.unsupported("dtype " + std::string(dtype_name(x.dtype)) + " is not moved by this CUDA kernel");
  if (rank > kMaxRank) return a.unsupported("rank > 8");
  if (y.rank() != rank) return a.invalid("output rank differs from the input's");
  const std::string mode_name = a.node.attr_string("mode", "constant");
  PadMode mode;
  if (mode_name == "constant") mode = PadMode::kConstant;
  else if (mode_name == "edge") mode = PadMode::kEdge;
  else if (mode_name == "wrap") mode = PadMode::kWrap;
  else if (mode_name == "reflect") mode = PadMode::kReflect;
  else return a.unsupported("Pad mode '" + mode_name + "'");
  if (!a.input(1).host) return a.invalid("pads is not known on the host");
  const std::vector<int64_t> pads = a.input(1).host->to_int64_vector();
  std::vector<int64_t> axes;
  if (a.has_input(3)) {
    if (!a.input(3).host) return a.invalid("axes is not known on the host");
    axes = a.input(3).host->to_int64_vector();
    for (int64_t& v : axes) {
      v = v < 0 ? v + rank : v;
      if (v < 0 || v >= rank) return a.invalid("axis out of range");
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  if (pads.size() != 2 * axes.size()) return a.invalid("pads needs begin and end for each axis");
  std::vector<int64_t> pb(static_cast<size_t>(rank), 0), pe(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    pb[static_cast<size_t>(axes[i])] = pads[i];
    pe[static_cast<size_t>(axes[i])] = pads[i + axes.size()];
  }
  uint64_t fill_bits = 0;
  if (a.has_input(2)) {
    const Tensor* c = a.input(2).host;
    if (!c) return a.invalid("constant_value is not known on the host");
    if (c->dtype() != x.dtype) return a.invalid("constant_value must have the data's dtype");
    if (c->numel() > 0) std::memcpy(&fill_bits, c->raw(), esize);
  }
  const auto in_strides = row_major_strides(x.dims);
  PadParams<int64_t> p;
  p.rank = static_cast<int>(rank);
  p.n = y.numel();
  int64_t extent = std::max<int64_t>(p.n, x.numel());
  for (size_t d = 0; d < static_cast<size_t>(rank); ++d) {
    const int64_t start = std::max<int64_t>(0, -pb[d]);
    const int64_t len = x.dims[d] - start - std::max<int64_t>(0, -pe[d]);
    if (y.dims[d] != x.dims[d] + pb[d] + pe[d]) return a.invalid("output dims disagree with pads");
    if (len <= 0 && y.dims[d] > 0 && mode != PadMode::kConstant)
      return a.invalid("Pad mode '" + mode_name + "' needs a non-empty axis to pad from");
    p.out_dims[d] = y.dims[d];
    p.lead[d] = std::max<int64_t>(0, pb[d]);
    p.len[d] = len;
    p.start[d] = start;
    p.in_strides[d] = in_strides[d];
    extent = std::max(extent, std::abs(pb[d]) + std::abs(pe[d]) + x.dims[d]);
  }
  if (rank == 0) {  // a scalar copies through
    p.rank = 1;
    p.out_dims[0] = p.len[0] = 1;
  }
  const bool wide = extent > INT32_MAX / 2;
  return std::unique_ptr<Kernel>(new PadKernel(p, mode, static_cast<int>(esize), fill_bits, wide));
}

// ---- Trilu ----------------------------------------------------------------------------------

template <typename T, typename I>
__global__ void trilu_kernel(const T* __restrict__ in, T* __restrict__ out, I n, I rows, I cols, I k, bool upper) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const I q = i / cols;
    const I diag = (i - q * cols) - (q % rows);  // column - row
    const bool keep = upper ? diag >= k : diag <= k;
    out[i] = keep ? in[i] : T(0);
  }
}

class TriluKernel final : public Kernel {
 public:
  TriluKernel(int esize, int64_t n, int64_t rows, int64_t cols, int64_t k, bool upper)
      : esize_(esize), n_(n), rows_(rows), cols_(cols), k_(k), upper_(upper) {}
  Status enqueue(const LaunchArgs& args) const override {
    if (n_ == 0) return Status::OK();
    // The element size was checked when the kernel was made (1, 2, 4 or 8).
    (void)dispatch_size(static_cast<size_t>(esize_), [&](auto tag) { launch<typename decltype(tag)::type>(args); });
    return Status::OK();
  }

 private:
  template <typename T> void launch(const LaunchArgs& args) const {
    const T* in = args.in<T>(0);
    T* out = args.out<T>(0);
    if (n_ > INT32_MAX / 2) {
      trilu_kernel<T, int64_t><<<grid_for(n_), kBlock, 0, args.stream>>>(in, out, n_, rows_, cols_, k_, upper_);
    } else {
      // k beyond the matrix keeps or clears everything; clamping keeps it in 32 bits.
      const int64_t k = std::clamp<int64_t>(k_, -(rows_ + 1), cols_ + 1);
      trilu_kernel<T, int32_t><<<grid_for(n_), kBlock, 0, args.stream>>>(
          in, out, static_cast<int32_t>(n_), static_cast<int32_t>(rows_), static_cast<int32_t>(cols_),
          static_cast<int32_t>(k), upper_);
    }
  }

  int esize_;
  int64_t n_, rows_, cols_, k_;
  bool upper_;
};

Result<std::unique_ptr<Kernel>> create_trilu(const PrepareArgs& a) {
  const TensorInfo& x = a.input(0);
  const size_t esize = dtype_size(x.dtype);
  if (esize != 1 && esize != 2 && esize != 4 && esize != 8)
    return a.unsupported("dtype " + std::string(dtype_name(x.dtype)) + " is not moved by this CUDA kernel");
  if (x.rank() < 2) return a.invalid("Trilu needs an input of rank >= 2");
  int64_t k = 0;
  if (a.has_input(1)) {
    if (!a.input(1).host) return a.invalid("k is not known on the host");
    k = a.input(1).host->get_as_int64(0);
  }
  const bool upper = a.node.attr_int("upper", 1) != 0;
  const int64_t rows = x.dims[x.dims.size() - 2], cols = x.dims.back();
  return std::unique_ptr<Kernel>(new TriluKernel(static_cast<int>(esize), x.numel(), rows, cols, k, upper));
}

}  // namespace

void register_tensor_pad_kernels(KernelRegistry& r) {
  r.add({"Pad", create_pad, 0b1110});
  r.add({"Trilu", create_trilu, 0b10});
}

}  // namespace slimrt::cuda::tensor
