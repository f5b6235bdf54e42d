// The tensor family's copy engine (see tensor_common.cuh): prepared strided gathers, the tiled
// transpose and the pitched 2-D copy used by Concat and Split.
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include "cuda/kernels/tensor_common.cuh"

namespace slimrt::cuda::tensor {

namespace {

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // threads per tile column; each thread moves kTile / kTileRows elements

// Element types by byte size; 16 bytes moves as one vector load/store.
template <typename F> void dispatch_elem(int bytes, F&& f) {
  switch (bytes) {
    case 1: f(TypeTag<uint8_t>{}); break;
    case 2: f(TypeTag<uint16_t>{}); break;
    case 4: f(TypeTag<uint32_t>{}); break;
    case 8: f(TypeTag<uint64_t>{}); break;
    default: f(TypeTag<uint4>{}); break;
  }
}

template <typename T, typename I>
__global__ void gather_kernel(const T* __restrict__ in, T* __restrict__ out, GatherParams<I> p) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n; i += step) {
    I rem = i, off = p.base;
    for (int k = p.rank - 1; k > 0; --k) {
      const I q = rem / p.dims[k];
      off += (rem - q * p.dims[k]) * p.strides[k];
      rem = q;
    }
    off += rem * p.strides[0];
    out[i] = in[off];
  }
}

// Reads a kTile x kTile tile coalesced along the input's contiguous axis `a`, writes it coalesced
// along the output's innermost axis `b`; the +1 column keeps the transposed reads off one bank.
template <typename T, typename I>
__global__ void __launch_bounds__(kTile * kTileRows) tiled_transpose_kernel(const T* __restrict__ in, T* __restrict__ out,
                                                                           TileParams<I> p) {
  __shared__ T tile[kTile][kTile + 1];
  const I a0 = static_cast<I>(blockIdx.y) * kTile, b0 = static_cast<I>(blockIdx.x) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (I z = blockIdx.z; z < p.batch; z += gridDim.z) {
    I rem = z, in_off = p.base, out_off = 0;
    for (int k = p.nb - 1; k >= 0; --k) {
      const I q = rem / p.bdims[k];
      const I r = rem - q * p.bdims[k];
      in_off += r * p.bin[k];
      out_off += r * p.bout[k];
      rem = q;
    }
#pragma unroll
    for (int j = ty; j < kTile; j += kTileRows) {
      const I a = a0 + tx, b = b0 + j;
      if (a < p.da && b < p.db) tile[j][tx] = in[in_off + a + b * p.in_b];
    }
    __syncthreads();
#pragma unroll
    for (int j = ty; j < kTile; j += kTileRows) {
      const I a = a0 + j, b = b0 + tx;
      if (a < p.da && b < p.db) out[out_off + a * p.out_a + b] = tile[tx][j];
    }
    __syncthreads();
  }
}

template <typename T, typename I>
__global__ void copy_2d_kernel(const T* __restrict__ src, I src_pitch, T* __restrict__ dst, I dst_pitch, I cols, I n) {
  const I step = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const I r = i / cols, c = i - r * cols;
    dst[r * dst_pitch + c] = src[r * src_pitch + c];
  }
}

// 32-bit offsets leave headroom for the grid-stride increment.
constexpr int64_t kNarrowLimit = INT32_MAX / 2;

// Drops size-1 axes and merges axes whose strides chain; a zero dim empties the view.
StridedView collapse(const StridedView& v, bool* empty) {
  StridedView c;
  c.base = v.base;
  *empty = false;
  for (size_t k = 0; k < v.dims.size(); ++k) {
    const int64_t d = v.dims[k], s = v.strides[k];
    if (d == 0) *empty = true;
    if (d == 1) continue;
    if (!c.dims.empty() && c.strides.back() == s * d) {
      c.dims.back() *= d;
      c.strides.back() = s;
    } else {
      c.dims.push_back(d);
      c.strides.push_back(s);
    }
  }
  return c;
}

// Largest offset magnitude the view reaches, for choosing 32- or 64-bit indexing.
int64_t extent_of(const StridedView& v) {
  int64_t e = std::abs(v.base), n = 1;
  for (size_t k = 0; k < v.dims.size(); ++k) {
    e += (v.dims[k] - 1) * std::abs(v.strides[k]);
    n *= v.dims[k];
  }
  return std::max(e, n);
}

template <typename I> GatherParams<I> gather_params(const StridedView& v) {
  GatherParams<I> p;
  p.rank = static_cast<int>(v.dims.size());
  p.base = static_cast<I>(v.base);
  int64_t n = 1;
  for (size_t k = 0; k < v.dims.size(); ++k) {
    p.dims[k] = static_cast<I>(v.dims[k]);
    p.strides[k] = static_cast<I>(v.strides[k]);
    n *= v.dims[k];
  }
  if (p.rank == 0) {  // a scalar: one element, stride unused
    p.rank = 1;
    p.dims[0] = 1;
  }
  p.n = static_cast<I>(n);
  return p;
}

template <typename I> TileParams<I> tile_params(const StridedView& v, size_t a) {
  const size_t b = v.dims.size() - 1;
  const auto out_strides = row_major_strides(v.dims);
  TileParams<I> p;
  p.da = static_cast<I>(v.dims[a]);
  p.db = static_cast<I>(v.dims[b]);
  p.in_b = static_cast<I>(v.strides[b]);
  p.out_a = static_cast<I>(out_strides[a]);
  p.base = static_cast<I>(v.base);
  int64_t batch = 1;
  for (size_t k = 0; k < b; ++k) {
    if (k == a) continue;
    p.bdims[p.nb] = static_cast<I>(v.dims[k]);
    p.bin[p.nb] = static_cast<I>(v.strides[k]);
    p.bout[p.nb] = static_cast<I>(out_strides[k]);
    ++p.nb;
    batch *= v.dims[k];
  }
  p.batch = static_cast<I>(batch);
  return p;
}

// The launch for an already collapsed view of `elem`-byte elements.
CopyLaunch make_launch(const StridedView& v, int elem, bool allow_tiled) {
  CopyLaunch l;
  l.elem = elem;
  const int rank = static_cast<int>(v.dims.size());
  if (rank == 0 || (rank == 1 && v.strides[0] == 1)) {
    l.kind = CopyLaunch::Kind::kMemcpy;
    l.memcpy_bytes = static_cast<uint64_t>(rank == 0 ? 1 : v.dims[0]) * static_cast<uint64_t>(elem);
    l.memcpy_offset = v.base * elem;
    return l;
  }
  l.wide_index = extent_of(v) > kNarrowLimit;
  if (allow_tiled && v.strides.back() != 1) {
    for (int a = 0; a < rank - 1; ++a) {
      if (v.strides[static_cast<size_t>(a)] != 1) continue;
      // Thin tiles waste most of the block; the gather is better there.
      const int64_t da = v.dims[static_cast<size_t>(a)], db = v.dims.back();
      const int64_t tiles_a = (da + kTile - 1) / kTile, tiles_b = (db + kTile - 1) / kTile;
      if (da < 8 || db < 8 || tiles_a > 65535 || tiles_b > INT32_MAX) break;
      l.kind = CopyLaunch::Kind::kTiled;
      if (l.wide_index) l.t64 = tile_params<int64_t>(v, static_cast<size_t>(a));
      else l.t32 = tile_params<int32_t>(v, static_cast<size_t>(a));
      const int64_t batch = l.wide_index ? l.t64.batch : l.t32.batch;
      l.tiles_a = static_cast<unsigned>(tiles_a);
      l.tiles_b = static_cast<unsigned>(tiles_b);
      l.grid_z = static_cast<unsigned>(std::min<int64_t>(batch, 65535));
      return l;
    }
  }
  l.kind = CopyLaunch::Kind::kGather;
  if (l.wide_index) l.g64 = gather_params<int64_t>(v);
  else l.g32 = gather_params<int32_t>(v);
  return l;
}

void run_launch(const CopyLaunch& l, const void* in, void* out, cudaStream_t stream) {
  switch (l.kind) {
    case CopyLaunch::Kind::kNothing: return;
    case CopyLaunch::Kind::kMemcpy:
      if (l.memcpy_bytes)
        SLIMRT_CUDA_DEFERRED(cudaMemcpyAsync(out, static_cast<const uint8_t*>(in) + l.memcpy_offset, l.memcpy_bytes,
                                             cudaMemcpyDeviceToDevice, stream));
      return;
    case CopyLaunch::Kind::kGather:
      dispatch_elem(l.elem, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* src = static_cast<const T*>(in);
        T* dst = static_cast<T*>(out);
        if (l.wide_index) gather_kernel<T, int64_t><<<grid_for(l.g64.n), kBlock, 0, stream>>>(src, dst, l.g64);
        else gather_kernel<T, int32_t><<<grid_for(l.g32.n), kBlock, 0, stream>>>(src, dst, l.g32);
      });
      return;
    case CopyLaunch::Kind::kTiled:
      dispatch_elem(l.elem, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (sizeof(T) <= 8) {  // tiles are built for element-sized views only
          const dim3 grid(l.tiles_b, l.tiles_a, l.grid_z), block(kTile, kTileRows);
          const T* src = static_cast<const T*>(in);
          T* dst = static_cast<T*>(out);
          if (l.wide_index) tiled_transpose_kernel<T, int64_t><<<grid, block, 0, stream>>>(src, dst, l.t64);
          else tiled_transpose_kernel<T, int32_t><<<grid, block, 0, stream>>>(src, dst, l.t32);
        }
      });
      return;
  }
}

}  // namespace

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

bool CopyPlan::build(const StridedView& view, int elem_bytes, std::string* why) {
  bool empty = false;
  StridedView v = collapse(view, &empty);
  base_ = CopyLaunch{};
  has_wide_ = false;
  if (empty) return true;
  if (static_cast<int>(v.dims.size()) > kMaxGatherRank) {
    *why = "the strided copy needs " + std::to_string(v.dims.size()) + " axes after merging; at most " +
           std::to_string(kMaxGatherRank) + " are supported";
    return false;
  }
  base_ = make_launch(v, elem_bytes, true);
  if (base_.kind != CopyLaunch::Kind::kGather || v.strides.back() != 1) return true;
  // Widen: move w elements at once when the innermost run is contiguous and every other
  // offset stays a multiple of w.
  for (int w = 16 / elem_bytes; w >= 2; w /= 2) {
    bool ok = v.dims.back() % w == 0 && v.base % w == 0;
    for (size_t k = 0; ok && k + 1 < v.dims.size(); ++k) ok = v.strides[k] % w == 0;
    if (!ok) continue;
    StridedView wv = v;
    wv.dims.back() /= w;
    wv.base /= w;
    for (size_t k = 0; k + 1 < wv.dims.size(); ++k) wv.strides[k] /= w;
    bool unused = false;
    wide_ = make_launch(collapse(wv, &unused), elem_bytes * w, false);
    has_wide_ = true;
    break;
  }
  return true;
}

void CopyPlan::enqueue(const void* in, void* out, cudaStream_t stream) const {
  if (has_wide_) {
    const auto align = static_cast<uintptr_t>(wide_.elem) - 1;
    if (((reinterpret_cast<uintptr_t>(in) | reinterpret_cast<uintptr_t>(out)) & align) == 0) {
      run_launch(wide_, in, out, stream);
      return;
    }
  }
  run_launch(base_, in, out, stream);
}

void copy_2d(const void* src, int64_t src_pitch, void* dst, int64_t dst_pitch, int64_t row_bytes, int64_t rows,
             cudaStream_t stream) {
  if (row_bytes <= 0 || rows <= 0) return;
  if (rows == 1 || (src_pitch == row_bytes && dst_pitch == row_bytes)) {
    SLIMRT_CUDA_DEFERRED(cudaMemcpyAsync(dst, src, static_cast<size_t>(row_bytes * rows), cudaMemcpyDeviceToDevice, stream));
    return;
  }
  const uint64_t bits = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) |
                        static_cast<uint64_t>(src_pitch) | static_cast<uint64_t>(dst_pitch) |
                        static_cast<uint64_t>(row_bytes);
  int v = 16;
  while (v > 1 && (bits & static_cast<uint64_t>(v - 1)) != 0) v /= 2;
  const int64_t cols = row_bytes / v, n = cols * rows;
  const bool wide = std::max(src_pitch, dst_pitch) / v * rows > kNarrowLimit;
  dispatch_elem(v, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* s = static_cast<const T*>(src);
    T* d = static_cast<T*>(dst);
    if (wide) {
      copy_2d_kernel<T, int64_t><<<grid_for(n), kBlock, 0, stream>>>(s, src_pitch / v, d, dst_pitch / v, cols, n);
    } else {
      copy_2d_kernel<T, int32_t><<<grid_for(n), kBlock, 0, stream>>>(
          s, static_cast<int32_t>(src_pitch / v), d, static_cast<int32_t>(dst_pitch / v), static_cast<int32_t>(cols),
          static_cast<int32_t>(n));
    }
  });
}

}  // namespace slimrt::cuda::tensor
