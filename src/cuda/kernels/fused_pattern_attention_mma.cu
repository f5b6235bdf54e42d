// Tensor-core Attention for float16/bfloat16 (see fused_pattern_attention.cu for the semantics
// and the fp32 CUDA-core kernel used otherwise).
//
// A block of 4 warps owns 64 query rows of one (batch, head); each warp owns 16. Keys and values
// stream through shared memory in tiles of 64. Per tile a warp computes its 16 x 64 scores with
// WMMA (fp32 accumulation) into a shared scratch, turns them into probabilities with an online
// softmax in fp32 (lane pair 2r, 2r+1 owns row r, 32 keys each), writes the probabilities in the
// input type and multiplies them by the V tile with WMMA again; the lane pair keeps the row's
// output accumulator in registers (half the head dim each) and rescales it when the row maximum
// grows. Memory is linear in the sequence length.
#include <mma.h>

#include "cuda/kernels/fused_pattern.cuh"

namespace slimrt::cuda {

namespace {

using namespace nvcuda;

constexpr int kWarps = 4;
constexpr int kRows = 16 * kWarps;  // query rows per block
constexpr int kKeys = 64;           // keys per tile
constexpr int kThreads = 32 * kWarps;

// Shared-memory layout for head dim kD (a multiple of 16). Rows are padded so that WMMA loads
// spread over the banks; every section and fragment start stays 32-byte aligned.
template <int kD> struct Layout {
  static constexpr int kLd = kD + 8;                          // elements per Q/K/V row
  static constexpr int kLdS = (kD > kKeys ? kD : kKeys) + 4;  // floats per scratch row
  static constexpr int kLdP = kKeys + 8;                      // elements per probability row
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + 2 * size_t{kRows} * kLd;
  static constexpr size_t kV = kK + 2 * size_t{kKeys} * kLd;
  static constexpr size_t kS = kV + 2 * size_t{kKeys} * kLd;
  static constexpr size_t kP = kS + 4 * size_t{kWarps} * 16 * kLdS;
  static constexpr size_t kBytes = kP + 2 * size_t{kWarps} * 16 * kLdP;
};

// Copies rows [row0, row0 + rows) x [0, cols) of a [total, cols] matrix whose rows are `stride`
// elements apart into `dst` (row stride kD + 8), zero-filling rows past `total` and columns past
// `cols`.
template <typename T, int kD>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t row0, int64_t total, int cols, int rows,
                                          bool vec, int64_t stride) {
  constexpr int kLd = kD + 8;
  if (vec) {
    constexpr int kPerRow = kD / 8;
    for (int idx = threadIdx.x; idx < rows * kPerRow; idx += kThreads) {
      const int r = idx / kPerRow, c = (idx - r * kPerRow) * 8;
      const int64_t g = row0 + r;
      uint4 val = make_uint4(0, 0, 0, 0);
      if (g < total && c < cols) val = *reinterpret_cast<const uint4*>(src + g * stride + c);
      *reinterpret_cast<uint4*>(dst + r * kLd + c) = val;
    }
  } else {
    const T zero = from_f32<T>(0.0f);
    for (int idx = threadIdx.x; idx < rows * kD; idx += kThreads) {
      const int r = idx / kD, c = idx - r * kD;
      const int64_t g = row0 + r;
      dst[r * kLd + c] = (g < total && c < cols) ? src[g * stride + c] : zero;
    }
  }
}

template <typename T, int kD>
__global__ void __launch_bounds__(kThreads) attention_mma_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                 const T* __restrict__ v, const void* __restrict__ mask,
                                                                 T* __restrict__ out, AttentionParams p, bool vec) {
  using L = Layout<kD>;
  constexpr int kHalf = kD / 2;  // output columns per lane
  constexpr int kFrags = kD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem + L::kQ);
  T* ks = reinterpret_cast<T*>(smem + L::kK);
  T* vs = reinterpret_cast<T*>(smem + L::kV);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  float* sw = reinterpret_cast<float*>(smem + L::kS) + warp * 16 * L::kLdS;
  T* pw = reinterpret_cast<T*>(smem + L::kP) + warp * 16 * L::kLdP;

  const int64_t bh = blockIdx.x / p.q_tiles;
  const int64_t q0 = (blockIdx.x - bh * p.q_tiles) * kRows;
  const T* kb = k + attention_head_base(p, bh, p.skv, p.d);
  const T* vb = v + attention_head_base(p, bh, p.skv, p.dv);
  const int64_t qk_stride = attention_row_stride(p, p.d), v_stride = attention_row_stride(p, p.dv);
  load_tile<T, kD>(qs, q + attention_head_base(p, bh, p.sq, p.d), q0, p.sq, p.d, kRows, vec, qk_stride);

  const int r = lane >> 1, h = lane & 1;
  const int64_t qi = q0 + warp * 16 + r;
  const int64_t mask_base = attention_mask_base(p, bh);
  float o[kHalf];
#pragma unroll
  for (int c = 0; c < kHalf; ++c) o[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  bool nan = false;

  int64_t kv_end = p.skv;
  if (p.causal) kv_end = min(p.skv, q0 + kRows);
  for (int64_t j0 = 0; j0 < kv_end; j0 += kKeys) {
    __syncthreads();  // the previous tile is consumed (first time: nothing to wait for but Q)
    load_tile<T, kD>(ks, kb, j0, p.skv, p.d, kKeys, vec, qk_stride);
    load_tile<T, kD>(vs, vb, j0, p.skv, p.dv, kKeys, vec, v_stride);
    __syncthreads();

    // Scores: 16 rows x 64 keys.
    {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kKeys / 16];
#pragma unroll
      for (int n = 0; n < kKeys / 16; ++n) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
      for (int kk = 0; kk < kFrags; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::load_matrix_sync(a, qs + warp * 16 * L::kLd + kk * 16, L::kLd);
#pragma unroll
        for (int n = 0; n < kKeys / 16; ++n) {
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
          wmma::load_matrix_sync(b, ks + n * 16 * L::kLd + kk * 16, L::kLd);
          wmma::mma_sync(acc[n], a, b, acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < kKeys / 16; ++n) wmma::store_matrix_sync(sw + n * 16, acc[n], L::kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax over this tile's 64 keys of row r (32 per lane of the pair).
    float sv[32];
    float tile_max = -INFINITY;
    bool tile_nan = false;
#pragma unroll
    for (int c = 0; c < 32; ++c) {
      const float val = attention_score<T>(sw[r * L::kLdS + h * 32 + c], p, mask, mask_base, qi, j0 + h * 32 + c);
      sv[c] = val;
      if (isnan(val)) tile_nan = true;
      else tile_max = fmaxf(tile_max, val);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    tile_nan = __shfl_xor_sync(0xffffffffu, static_cast<int>(tile_nan), 1) != 0 || tile_nan;
    nan = nan || tile_nan;
    const float m_new = fmaxf(m, tile_max);
    float psum = 0.0f;
#pragma unroll
    for (int c = 0; c < 32; ++c) {
      const float e = (m_new == -INFINITY || isnan(sv[c]) || sv[c] == -INFINITY) ? 0.0f : expf(sv[c] - m_new);
      // The sum uses the rounded probabilities the PV product sees, so the weights stay normalised.
      const T et = from_f32<T>(e);
      pw[r * L::kLdP + h * 32 + c] = et;
      psum += to_f32(et);
    }
    psum += __shfl_xor_sync(0xffffffffu, psum, 1);
    const float corr = m_new == -INFINITY ? 1.0f : expf(m - m_new);
    m = m_new;
    l = l * corr + psum;
#pragma unroll
    for (int c = 0; c < kHalf; ++c) o[c] *= corr;
    __syncwarp();

    // P V: 16 rows x kD, four output fragments at a time, through the scratch into registers.
#pragma unroll
    for (int n0 = 0; n0 < kFrags; n0 += 4) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
#pragma unroll
      for (int n = 0; n < 4; ++n) wmma::fill_fragment(acc[n], 0.0f);
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::load_matrix_sync(a, pw + kk * 16, L::kLdP);
#pragma unroll
        for (int n = 0; n < 4; ++n) {
          if (n0 + n >= kFrags) break;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
          wmma::load_matrix_sync(b, vs + kk * 16 * L::kLd + (n0 + n) * 16, L::kLd);
          wmma::mma_sync(acc[n], a, b, acc[n]);
        }
      }
#pragma unroll
      for (int n = 0; n < 4; ++n) {
        if (n0 + n >= kFrags) break;
        wmma::store_matrix_sync(sw + (n0 + n) * 16, acc[n], L::kLdS, wmma::mem_row_major);
      }
    }
    __syncwarp();
#pragma unroll
    for (int c = 0; c < kHalf; ++c) o[c] += sw[r * L::kLdS + h * kHalf + c];
    __syncwarp();  // the scratch is rewritten by the next tile's scores
  }

  if (qi >= p.sq) return;
  // All keys masked (l == 0) gives NaN, as softmax over all -inf does in the reference.
  const float inv = (nan || l == 0.0f) ? NAN : 1.0f / l;
  T* orow = out + attention_head_base(p, bh, p.sq, p.dv) + qi * v_stride;
#pragma unroll
  for (int c = 0; c < kHalf; ++c) {
    const int col = h * kHalf + c;
    if (col < p.dv) orow[col] = from_f32<T>(o[c] * inv);
  }
}

template <typename T> const void* mma_kernel_for(int head) {
  switch (head) {
    case 32: return reinterpret_cast<const void*>(attention_mma_kernel<T, 32>);
    case 64: return reinterpret_cast<const void*>(attention_mma_kernel<T, 64>);
    case 80: return reinterpret_cast<const void*>(attention_mma_kernel<T, 80>);
    case 96: return reinterpret_cast<const void*>(attention_mma_kernel<T, 96>);
    default: return reinterpret_cast<const void*>(attention_mma_kernel<T, 128>);
  }
}

template <typename T>
void launch_typed(int head, const T* q, const T* k, const T* v, const void* mask, T* out, AttentionParams p,
                  cudaStream_t stream) {
  p.q_tiles = (p.sq + kRows - 1) / kRows;
  const unsigned grid = static_cast<unsigned>(p.heads * p.q_tiles);
  const bool vec = p.d % 8 == 0 && p.dv % 8 == 0 &&
                   ((reinterpret_cast<uintptr_t>(q) | reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) & 15) == 0;
  const size_t smem = attention_mma_smem_bytes(head);
  switch (head) {
    case 32: attention_mma_kernel<T, 32><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    case 64: attention_mma_kernel<T, 64><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    case 80: attention_mma_kernel<T, 80><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    case 96: attention_mma_kernel<T, 96><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    default: attention_mma_kernel<T, 128><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
  }
}

}  // namespace

int attention_mma_head(int d, int dv) {
  const int m = d > dv ? d : dv;
  for (int head : {32, 64, 80, 96, 128}) {
    if (m <= head) return head;
  }
  return 0;
}

size_t attention_mma_smem_bytes(int head) {
  switch (head) {
    case 32: return Layout<32>::kBytes;
    case 64: return Layout<64>::kBytes;
    case 80: return Layout<80>::kBytes;
    case 96: return Layout<96>::kBytes;
    default: return Layout<128>::kBytes;
  }
}

cudaError_t attention_mma_prepare(DataType dtype, int head) {
  const void* f = dtype == DataType::kBFloat16 ? mma_kernel_for<__nv_bfloat16>(head) : mma_kernel_for<__half>(head);
  return cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(attention_mma_smem_bytes(head)));
}

void launch_attention_mma(DataType dtype, int head, const void* q, const void* k, const void* v, const void* mask,
                          void* out, const AttentionParams& p, cudaStream_t stream) {
  if (dtype == DataType::kBFloat16) {
    launch_typed(head, static_cast<const __nv_bfloat16*>(q), static_cast<const __nv_bfloat16*>(k),
                 static_cast<const __nv_bfloat16*>(v), mask, static_cast<__nv_bfloat16*>(out), p, stream);
  } else {
    launch_typed(head, static_cast<const __half*>(q), static_cast<const __half*>(k), static_cast<const __half*>(v), mask,
                 static_cast<__half*>(out), p, stream);
  }
}

}  // namespace slimrt::cuda
