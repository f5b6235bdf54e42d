// Tensor-core Attention for float16/bfloat16 (see fused_pattern_attention.cu for the semantics
// and the fp32 CUDA-core kernel used otherwise).
//
// Flash-attention with the scores kept in registers. A block of kWarps warps owns 16 * kWarps
// query rows of one (batch, head); each warp owns 16 rows and holds their Q fragments in
// registers for the whole key loop. Keys and values stream through shared memory in tiles of 64,
// double-buffered with cp.async so the next tile loads while this one is multiplied. Per tile a
// warp computes its 16 x 64 scores with mma.sync m16n8k16 (fp32 accumulation); the accumulator
// layout of two adjacent 8-key tiles is the A-operand layout of a 16-key step, so the
// probabilities go from the score registers straight into the P V product without a trip
// through shared memory. Each thread owns two rows (lane / 4 and lane / 4 + 8) and keeps its
// partial row sum; the row maximum is shared across the four threads of a row each tile.
//
// Rounding follows the reference (attention_score); the running sum adds the probabilities as
// rounded to the input type, the values the P V product sees, so the weights stay normalised.
// Memory is linear in the sequence length. Small grids (few heads and short sequences) use
// one-warp blocks, so that batch 1 still spreads over the SMs.
#include "cuda/kernels/fused_pattern.cuh"

namespace slimrt::cuda {

namespace {

constexpr int kKeys = 64;  // keys per tile

// Shared memory for head dim kD (a multiple of 16): Q, then two K and two V tiles. Rows are
// kD + 8 elements, so the eight 16-byte row addresses of an ldmatrix fall in distinct banks.
template <int kD, int kWarps> struct Layout {
  static constexpr int kRows = 16 * kWarps;
  static constexpr int kLd = kD + 8;
  static constexpr size_t kTile = 2 * size_t{kKeys} * kLd;  // bytes of one K or V tile
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + 2 * size_t{kRows} * kLd;
  static constexpr size_t kV = kK + 2 * kTile;
  static constexpr size_t kBytes = kV + 2 * kTile;
};

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared without staging in registers; `valid` false writes zeros.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// c += a (16 x 16, row-major) * b (16 x 8, column-major), fp32 accumulation.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Two floats rounded to T, packed low-first; `sum` gets the rounded values.
template <typename T> __device__ __forceinline__ uint32_t pack_rounded(float lo, float hi, float& sum) {
  uint32_t r;
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    sum += __low2float(h) + __high2float(h);
    memcpy(&r, &h, 4);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    sum += __low2float(h) + __high2float(h);
    memcpy(&r, &h, 4);
  }
  return r;
}

// Rows [row0, row0 + rows) x [0, cols) of a matrix whose rows are `stride` elements apart into
// `dst` (rows kD + 8 apart); rows past `total` and columns past `cols` become zeros. `vec`: 16-byte
// chunks through cp.async (cols % 8 == 0 and 16-byte aligned rows), else element by element.
template <typename T, int kD, int kThreads>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t row0, int64_t total, int cols, int rows, bool vec,
                                          int64_t stride) {
  constexpr int kLd = kD + 8;
  if (vec) {
    constexpr int kChunks = kD / 8;
    for (int idx = threadIdx.x; idx < rows * kChunks; idx += kThreads) {
      const int r = idx / kChunks, c = (idx - r * kChunks) * 8;
      const int64_t g = row0 + r;
      const bool ok = g < total && c < cols;
      cp_async16(dst + r * kLd + c, ok ? src + g * stride + c : src, ok);
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

template <typename T, int kD, int kWarps>
__global__ void __launch_bounds__(32 * kWarps) attention_mma_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                                    const T* __restrict__ v, const void* __restrict__ mask,
                                                                    T* __restrict__ out, AttentionParams p, bool vec) {
  using L = Layout<kD, kWarps>;
  constexpr int kThreads = 32 * kWarps;
  constexpr int kLd = L::kLd;
  constexpr int kSteps = kD / 16;   // k-steps of Q K^T, and pairs of 8-column output tiles
  constexpr int kOutTiles = kD / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem + L::kQ);
  // Buffer b of K / V: ks + b * kTileElems (arithmetic, not an array indexed at run time, which
  // would live in local memory).
  T* ks = reinterpret_cast<T*>(smem + L::kK);
  T* vs = reinterpret_cast<T*>(smem + L::kV);
  constexpr int kTileElems = static_cast<int>(L::kTile / sizeof(T));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;  // mma fragment row group and column pair

  const int64_t bh = blockIdx.x / p.q_tiles;
  const int64_t q0 = (blockIdx.x - bh * p.q_tiles) * L::kRows;
  const T* kb = k + attention_head_base(p, bh, p.skv, p.d);
  const T* vb = v + attention_head_base(p, bh, p.skv, p.dv);
  const int64_t qk_stride = attention_row_stride(p, p.d), v_stride = attention_row_stride(p, p.dv);

  int64_t kv_end = p.skv;
  if (p.causal) kv_end = min(p.skv, q0 + L::kRows);
  const int64_t tiles = (kv_end + kKeys - 1) / kKeys;

  load_tile<T, kD, kThreads>(qs, q + attention_head_base(p, bh, p.sq, p.d), q0, p.sq, p.d, L::kRows, vec, qk_stride);
  if (tiles > 0) {
    load_tile<T, kD, kThreads>(ks, kb, 0, p.skv, p.d, kKeys, vec, qk_stride);
    load_tile<T, kD, kThreads>(vs, vb, 0, p.skv, p.dv, kKeys, vec, v_stride);
  }
  cp_async_commit();

  // ldmatrix lane roles: matrix `mi` of an x4 load takes its row addresses from lanes 8 mi .. 8 mi + 7.
  const int mi = lane >> 3, mr = lane & 7;
  const int64_t row0 = q0 + warp * 16 + g, row1 = row0 + 8;  // this thread's two query rows
  const int64_t mask_base = attention_mask_base(p, bh);

  uint32_t qf[kSteps][4];
  float o[kOutTiles][4];
#pragma unroll
  for (int n = 0; n < kOutTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
  bool nan0 = false, nan1 = false;

  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int buf = static_cast<int>(tile & 1);
    if (tile + 1 < tiles) {
      const int64_t j1 = (tile + 1) * kKeys;
      load_tile<T, kD, kThreads>(ks + (buf ^ 1) * kTileElems, kb, j1, p.skv, p.d, kKeys, vec, qk_stride);
      load_tile<T, kD, kThreads>(vs + (buf ^ 1) * kTileElems, vb, j1, p.skv, p.dv, kKeys, vec, v_stride);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (tile == 0) {
#pragma unroll
      for (int kk = 0; kk < kSteps; ++kk)
        ldmatrix_x4(qf[kk], qs + (warp * 16 + mr + (mi & 1) * 8) * kLd + kk * 16 + (mi >> 1) * 8);
    }
    const T* kt = ks + buf * kTileElems;
    const T* vt = vs + buf * kTileElems;
    const int64_t j0 = tile * kKeys;

    // Scores: 16 rows x 64 keys as eight 16 x 8 accumulators.
    float s[kKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kSteps; ++kk) {
#pragma unroll
      for (int np = 0; np < kKeys / 16; ++np) {
        uint32_t b[4];
        ldmatrix_x4(b, kt + (np * 16 + mr + (mi >> 1) * 8) * kLd + kk * 16 + (mi & 1) * 8);
        mma16816<T>(s[2 * np], qf[kk], b[0], b[1]);
        mma16816<T>(s[2 * np + 1], qf[kk], b[2], b[3]);
      }
    }

    // Online softmax; element e of tile n is key j0 + 8 n + 2 t + (e & 1) of row (e < 2 ? row0 : row1).
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t j = j0 + 8 * n + 2 * t + (e & 1);
        const float val = attention_score<T>(s[n][e], p, mask, mask_base, e < 2 ? row0 : row1, j);
        s[n][e] = val;
        if (e < 2) {
          nan0 = nan0 || isnan(val);
          mx0 = fmaxf(mx0, val);  // fmaxf drops NaN, which the flag records
        } else {
          nan1 = nan1 || isnan(val);
          mx1 = fmaxf(mx1, val);
        }
      }
    }
#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
    }
    const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    // With every key so far masked the maximum is -inf; subtracting 0 keeps exp(-inf) = 0.
    const float base0 = mn0 == -INFINITY ? 0.0f : mn0, base1 = mn1 == -INFINITY ? 0.0f : mn1;
    const float corr0 = __expf(m0 - base0), corr1 = __expf(m1 - base1);
    m0 = mn0;
    m1 = mn1;
    l0 *= corr0;
    l1 *= corr1;
#pragma unroll
    for (int n = 0; n < kOutTiles; ++n) {
      o[n][0] *= corr0;
      o[n][1] *= corr0;
      o[n][2] *= corr1;
      o[n][3] *= corr1;
    }
    auto prob = [](float val, float base) { return isnan(val) ? 0.0f : __expf(val - base); };

    // P V: the probabilities of keys 16 kk .. 16 kk + 15 are the A operand of step kk.
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      uint32_t a[4];
      a[0] = pack_rounded<T>(prob(s[2 * kk][0], base0), prob(s[2 * kk][1], base0), l0);
      a[1] = pack_rounded<T>(prob(s[2 * kk][2], base1), prob(s[2 * kk][3], base1), l1);
      a[2] = pack_rounded<T>(prob(s[2 * kk + 1][0], base0), prob(s[2 * kk + 1][1], base0), l0);
      a[3] = pack_rounded<T>(prob(s[2 * kk + 1][2], base1), prob(s[2 * kk + 1][3], base1), l1);
#pragma unroll
      for (int dp = 0; dp < kSteps; ++dp) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, vt + (kk * 16 + mr + (mi & 1) * 8) * kLd + dp * 16 + (mi >> 1) * 8);
        mma16816<T>(o[2 * dp], a, b[0], b[1]);
        mma16816<T>(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // this tile's buffers are refilled two iterations on
  }

  // Row sums and NaN flags over the four threads of each row.
#pragma unroll
  for (int off = 1; off <= 2; off <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, off);
    l1 += __shfl_xor_sync(0xffffffffu, l1, off);
    nan0 = __shfl_xor_sync(0xffffffffu, static_cast<int>(nan0), off) != 0 || nan0;
    nan1 = __shfl_xor_sync(0xffffffffu, static_cast<int>(nan1), off) != 0 || nan1;
  }
  // All keys masked (l == 0) gives NaN, as softmax over all -inf does in the reference.
  const float inv0 = (nan0 || l0 == 0.0f) ? NAN : 1.0f / l0;
  const float inv1 = (nan1 || l1 == 0.0f) ? NAN : 1.0f / l1;
  T* ob = out + attention_head_base(p, bh, p.sq, p.dv);
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t row = half == 0 ? row0 : row1;
    if (row >= p.sq) continue;
    const float inv = half == 0 ? inv0 : inv1;
    T* orow = ob + row * v_stride;
#pragma unroll
    for (int n = 0; n < kOutTiles; ++n) {
      const int col = 8 * n + 2 * t;
      if (col < p.dv) orow[col] = from_f32<T>(o[n][2 * half] * inv);
      if (col + 1 < p.dv) orow[col + 1] = from_f32<T>(o[n][2 * half + 1] * inv);
    }
  }
}

template <typename T, int kWarps> const void* mma_kernel_for(int head) {
  switch (head) {
    case 32: return reinterpret_cast<const void*>(attention_mma_kernel<T, 32, kWarps>);
    case 64: return reinterpret_cast<const void*>(attention_mma_kernel<T, 64, kWarps>);
    case 80: return reinterpret_cast<const void*>(attention_mma_kernel<T, 80, kWarps>);
    case 96: return reinterpret_cast<const void*>(attention_mma_kernel<T, 96, kWarps>);
    default: return reinterpret_cast<const void*>(attention_mma_kernel<T, 128, kWarps>);
  }
}

template <int kWarps> size_t smem_bytes(int head) {
  switch (head) {
    case 32: return Layout<32, kWarps>::kBytes;
    case 64: return Layout<64, kWarps>::kBytes;
    case 80: return Layout<80, kWarps>::kBytes;
    case 96: return Layout<96, kWarps>::kBytes;
    default: return Layout<128, kWarps>::kBytes;
  }
}

template <typename T, int kWarps>
void launch_typed(int head, const T* q, const T* k, const T* v, const void* mask, T* out, AttentionParams p, bool vec,
                  cudaStream_t stream) {
  p.q_tiles = (p.sq + 16 * kWarps - 1) / (16 * kWarps);
  const unsigned grid = static_cast<unsigned>(p.heads * p.q_tiles);
  const size_t smem = smem_bytes<kWarps>(head);
  constexpr unsigned kThreads = 32 * kWarps;
  switch (head) {
    case 32: attention_mma_kernel<T, 32, kWarps><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    case 64: attention_mma_kernel<T, 64, kWarps><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    case 80: attention_mma_kernel<T, 80, kWarps><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    case 96: attention_mma_kernel<T, 96, kWarps><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
    default: attention_mma_kernel<T, 128, kWarps><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec); break;
  }
}

template <typename T>
void launch_warps(const AttentionMma& m, const void* q, const void* k, const void* v, const void* mask, void* out,
                  const AttentionParams& p, cudaStream_t stream) {
  const T* qt = static_cast<const T*>(q);
  const T* kt = static_cast<const T*>(k);
  const T* vt = static_cast<const T*>(v);
  // 16-byte chunks need head dims that are multiples of 8 and 16-byte aligned tensors.
  const bool vec = p.d % 8 == 0 && p.dv % 8 == 0 &&
                   ((reinterpret_cast<uintptr_t>(q) | reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v)) & 15) == 0;
  if (m.warps == 1) launch_typed<T, 1>(m.head, qt, kt, vt, mask, static_cast<T*>(out), p, vec, stream);
  else launch_typed<T, 4>(m.head, qt, kt, vt, mask, static_cast<T*>(out), p, vec, stream);
}

}  // namespace

AttentionMma attention_mma_plan(const AttentionParams& p, int d, int dv, int sm_count) {
  AttentionMma m;
  const int widest = d > dv ? d : dv;
  for (int head : {32, 64, 80, 96, 128}) {
    if (widest <= head) {
      m.head = head;
      break;
    }
  }
  if (m.head == 0) return m;
  // Four-warp blocks share each K/V tile between 64 query rows; when that leaves fewer than two
  // blocks per SM, one-warp blocks (16 rows) spread the work instead.
  const int64_t big_blocks = p.heads * ((p.sq + 63) / 64);
  m.warps = big_blocks < 2 * static_cast<int64_t>(sm_count > 0 ? sm_count : 1) ? 1 : 4;
  m.smem_bytes = m.warps == 1 ? smem_bytes<1>(m.head) : smem_bytes<4>(m.head);
  return m;
}

cudaError_t attention_mma_prepare(DataType dtype, const AttentionMma& m) {
  const void* f;
  if (dtype == DataType::kBFloat16) {
    f = m.warps == 1 ? mma_kernel_for<__nv_bfloat16, 1>(m.head) : mma_kernel_for<__nv_bfloat16, 4>(m.head);
  } else {
    f = m.warps == 1 ? mma_kernel_for<__half, 1>(m.head) : mma_kernel_for<__half, 4>(m.head);
  }
  return cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(m.smem_bytes));
}

void launch_attention_mma(DataType dtype, const AttentionMma& m, const void* q, const void* k, const void* v,
                          const void* mask, void* out, const AttentionParams& p, cudaStream_t stream) {
  if (dtype == DataType::kBFloat16) launch_warps<__nv_bfloat16>(m, q, k, v, mask, out, p, stream);
  else launch_warps<__half>(m, q, k, v, mask, out, p, stream);
}

}  // namespace slimrt::cuda
