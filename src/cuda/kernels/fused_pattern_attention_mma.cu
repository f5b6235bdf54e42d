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
// Two softmax variants. The plain one (no mask, or a key-padding mask that is the same for every
// query row: ViT, BERT, LLaMA, causal or not) takes the fp32 dot products to the exp2 domain
// with one FMA (s * scale * log2(e) + mask * log2(e)) and exponentiates against the running
// maximum, like the fused kernels of other runtimes; its scores differ from the reference's only
// in that the reference rounds them to the input type. At a few instructions per score it
// leaves the tensor cores the bottleneck. The general one (masks that vary by query row) follows
// the reference's rounding (attention_score) and adds the probabilities as rounded to the input
// type; its per-score index and mask arithmetic costs about twice the MMA time. In the plain
// variant, per warp, key steps past the last key its rows see (the tail of the last tile, or
// past the diagonal when causal) are skipped; in both, a warp whose rows are all past Sq only
// helps load the tiles.
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

__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Two floats rounded to T and packed low-first.
template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  uint32_t r;
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    memcpy(&r, &h, 4);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    memcpy(&r, &h, 4);
  }
  return r;
}

// kPlain: the lean softmax (no mask or a key-padding mask). Head dims up to 64 are held to 128 registers
// (plain) or 168 (general), so that four or three 4-warp blocks fit an SM.
template <int kD, int kWarps, bool kPlain> constexpr int min_blocks() {
  if (kD > 64) return 1;
  return (kPlain ? 16 : 12) / kWarps;
}

template <typename T, int kD, int kWarps, bool kPlain>
__global__ void __launch_bounds__(32 * kWarps, (min_blocks<kD, kWarps, kPlain>()))
    attention_mma_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                         const void* __restrict__ mask, T* __restrict__ out, AttentionParams p, bool vec) {
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
  const T* kb = k + attention_slice(p, p.k, bh);
  const T* vb = v + attention_slice(p, p.v, bh);

  int64_t kv_end = p.skv;
  if (p.causal) kv_end = min(p.skv, q0 + L::kRows);
  const int64_t tiles = (kv_end + kKeys - 1) / kKeys;

  load_tile<T, kD, kThreads>(qs, q + attention_slice(p, p.q, bh), q0, p.sq, p.d, L::kRows, vec, p.q.row);
  if (tiles > 0) {
    load_tile<T, kD, kThreads>(ks, kb, 0, p.skv, p.d, kKeys, vec, p.k.row);
    load_tile<T, kD, kThreads>(vs, vb, 0, p.skv, p.dv, kKeys, vec, p.v.row);
  }
  cp_async_commit();

  // ldmatrix lane roles: matrix `mi` of an x4 load takes its row addresses from lanes 8 mi .. 8 mi + 7.
  const int mi = lane >> 3, mr = lane & 7;
  const int64_t wrow = q0 + warp * 16;             // this warp's first query row
  const int64_t row0 = wrow + g, row1 = row0 + 8;  // this thread's two query rows
  const bool active = wrow < p.sq;
  // Keys the warp's rows see: all of them, or up to the warp's last row when causal (plain
  // variant; the host keeps its sizes below 2^31). wmin: the fewest any of its rows sees.
  const int wkeys = static_cast<int>(p.causal ? min(p.skv, wrow + 16) : p.skv);
  const int wmin = static_cast<int>(p.causal ? min(p.skv, wrow + 1) : p.skv);
  const int lim0 = static_cast<int>(p.causal ? min(p.skv, row0 + 1) : p.skv);
  const int lim1 = static_cast<int>(p.causal ? min(p.skv, row1 + 1) : p.skv);
  const float c2 = p.scale * 1.4426950408889634f;  // scale * log2(e)
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
      load_tile<T, kD, kThreads>(ks + (buf ^ 1) * kTileElems, kb, j1, p.skv, p.d, kKeys, vec, p.k.row);
      load_tile<T, kD, kThreads>(vs + (buf ^ 1) * kTileElems, vb, j1, p.skv, p.dv, kKeys, vec, p.v.row);
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
    const int j0 = static_cast<int>(tile * kKeys);
    if (!kPlain || (active && j0 < wkeys)) {
      // Scores: 16 rows x 64 keys as eight 16 x 8 accumulators.
      float s[kKeys / 8][4];
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < kSteps; ++kk) {
#pragma unroll
        for (int np = 0; np < kKeys / 16; ++np) {
          if (kPlain && j0 + np * 16 >= wkeys) continue;
          uint32_t b[4];
          ldmatrix_x4(b, kt + (np * 16 + mr + (mi >> 1) * 8) * kLd + kk * 16 + (mi & 1) * 8);
          mma16816<T>(s[2 * np], qf[kk], b[0], b[1]);
          mma16816<T>(s[2 * np + 1], qf[kk], b[2], b[3]);
        }
      }

      // Online softmax; element e of tile n is key j0 + 8 n + 2 t + (e & 1) of row (e < 2 ? row0 : row1).
      float mx0 = -INFINITY, mx1 = -INFINITY;
      if constexpr (kPlain) {
        // To the exp2 domain: s * scale * log2(e), plus the key's mask value times log2(e).
        if (p.mask == MaskKind::kNone) {
#pragma unroll
          for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
            for (int e = 0; e < 4; ++e) s[n][e] *= c2;
          }
        } else {
          // A key-padding mask: one value per key, the same for every query row.
          const int64_t mj = mask_base + (j0 + 2 * t) * p.ms_k;
#pragma unroll
          for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
            for (int c = 0; c < 2; ++c) {
              const int j = j0 + 8 * n + 2 * t + c;
              float add = 0.0f;
              if (j < p.skv) {
                const int64_t at = mj + (8 * n + c) * p.ms_k;
                if (p.mask == MaskKind::kBool) add = static_cast<const uint8_t*>(mask)[at] != 0 ? 0.0f : -INFINITY;
                else add = to_f32(static_cast<const T*>(mask)[at]) * 1.4426950408889634f;
              }
              s[n][c] = fmaf(s[n][c], c2, add);
              s[n][c + 2] = fmaf(s[n][c + 2], c2, add);
            }
          }
        }
        if (j0 + kKeys > wmin) {  // keys past Skv or above the diagonal in this tile
#pragma unroll
          for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              if (j0 + 8 * n + 2 * t + (e & 1) >= (e < 2 ? lim0 : lim1)) s[n][e] = -INFINITY;
            }
          }
        }
#pragma unroll
        for (int n = 0; n < kKeys / 8; ++n) {
          mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));
          mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));
        }
      } else {
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
      }
      mx0 = warp_allreduce<4, true>(mx0, PlainMax{});  // over the four threads of each row
      mx1 = warp_allreduce<4, true>(mx1, PlainMax{});
      const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
      // With every key so far masked the maximum is -inf; subtracting 0 keeps exp(-inf) = 0.
      const float base0 = mn0 == -INFINITY ? 0.0f : mn0, base1 = mn1 == -INFINITY ? 0.0f : mn1;
      float corr0, corr1;
      if constexpr (kPlain) {
        corr0 = ex2(m0 - base0);
        corr1 = ex2(m1 - base1);
      } else {
        corr0 = __expf(m0 - base0);
        corr1 = __expf(m1 - base1);
      }
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

      // P V: the probabilities of keys 16 kk .. 16 kk + 15 are the A operand of step kk.
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        uint32_t a[4];
        if constexpr (kPlain) {
          if (j0 + kk * 16 >= wkeys) continue;
          float pr[8];
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            pr[4 * h + 0] = ex2(s[2 * kk + h][0] - base0);
            pr[4 * h + 1] = ex2(s[2 * kk + h][1] - base0);
            pr[4 * h + 2] = ex2(s[2 * kk + h][2] - base1);
            pr[4 * h + 3] = ex2(s[2 * kk + h][3] - base1);
            l0 += pr[4 * h + 0] + pr[4 * h + 1];
            l1 += pr[4 * h + 2] + pr[4 * h + 3];
          }
          a[0] = pack2<T>(pr[0], pr[1]);
          a[1] = pack2<T>(pr[2], pr[3]);
          a[2] = pack2<T>(pr[4], pr[5]);
          a[3] = pack2<T>(pr[6], pr[7]);
        } else {
          auto prob = [](float val, float base) { return isnan(val) ? 0.0f : __expf(val - base); };
          a[0] = pack_rounded<T>(prob(s[2 * kk][0], base0), prob(s[2 * kk][1], base0), l0);
          a[1] = pack_rounded<T>(prob(s[2 * kk][2], base1), prob(s[2 * kk][3], base1), l1);
          a[2] = pack_rounded<T>(prob(s[2 * kk + 1][0], base0), prob(s[2 * kk + 1][1], base0), l0);
          a[3] = pack_rounded<T>(prob(s[2 * kk + 1][2], base1), prob(s[2 * kk + 1][3], base1), l1);
        }
#pragma unroll
        for (int dp = 0; dp < kSteps; ++dp) {
          uint32_t b[4];
          ldmatrix_x4_trans(b, vt + (kk * 16 + mr + (mi & 1) * 8) * kLd + dp * 16 + (mi >> 1) * 8);
          mma16816<T>(o[2 * dp], a, b[0], b[1]);
          mma16816<T>(o[2 * dp + 1], a, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // this tile's buffers are refilled two iterations on
  }
  if (!active) return;

  // Row sums and NaN flags over the four threads of each row.
  l0 = warp_allreduce<4, true>(l0, PlainSum{});
  l1 = warp_allreduce<4, true>(l1, PlainSum{});
  nan0 = warp_allreduce<4, true>(static_cast<int>(nan0), PlainOr{}) != 0;
  nan1 = warp_allreduce<4, true>(static_cast<int>(nan1), PlainOr{}) != 0;
  // All keys masked (l == 0) gives NaN, as softmax over all -inf does in the reference. (The
  // plain variant meets NaN scores through the sums: exp2(NaN) is NaN.)
  const float inv0 = (nan0 || l0 == 0.0f) ? NAN : 1.0f / l0;
  const float inv1 = (nan1 || l1 == 0.0f) ? NAN : 1.0f / l1;
  T* ob = out + attention_slice(p, p.o, bh);
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t row = half == 0 ? row0 : row1;
    if (row >= p.sq) continue;
    const float inv = half == 0 ? inv0 : inv1;
    T* orow = ob + row * p.o.row;
#pragma unroll
    for (int n = 0; n < kOutTiles; ++n) {
      const int col = 8 * n + 2 * t;
      const float lo = o[n][2 * half] * inv, hi = o[n][2 * half + 1] * inv;
      if (vec && col + 1 < p.dv) {
        *reinterpret_cast<uint32_t*>(orow + col) = pack2<T>(lo, hi);  // vec: 16-byte aligned rows
      } else {
        if (col < p.dv) orow[col] = from_f32<T>(lo);
        if (col + 1 < p.dv) orow[col + 1] = from_f32<T>(hi);
      }
    }
  }
}

template <typename T, int kWarps, bool kPlain> const void* mma_kernel_for(int head) {
  switch (head) {
    case 32: return reinterpret_cast<const void*>(attention_mma_kernel<T, 32, kWarps, kPlain>);
    case 64: return reinterpret_cast<const void*>(attention_mma_kernel<T, 64, kWarps, kPlain>);
    case 80: return reinterpret_cast<const void*>(attention_mma_kernel<T, 80, kWarps, kPlain>);
    case 96: return reinterpret_cast<const void*>(attention_mma_kernel<T, 96, kWarps, kPlain>);
    default: return reinterpret_cast<const void*>(attention_mma_kernel<T, 128, kWarps, kPlain>);
  }
}

template <typename T> const void* mma_kernel_for(const AttentionMma& m) {
  if (m.warps == 1) return m.plain ? mma_kernel_for<T, 1, true>(m.head) : mma_kernel_for<T, 1, false>(m.head);
  return m.plain ? mma_kernel_for<T, 4, true>(m.head) : mma_kernel_for<T, 4, false>(m.head);
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

template <typename T, int kWarps, bool kPlain>
void launch_typed(int head, const T* q, const T* k, const T* v, const void* mask, T* out, AttentionParams p, bool vec,
                  cudaStream_t stream) {
  p.q_tiles = (p.sq + 16 * kWarps - 1) / (16 * kWarps);
  const unsigned grid = static_cast<unsigned>(p.heads * p.q_tiles);
  const size_t smem = smem_bytes<kWarps>(head);
  constexpr unsigned kThreads = 32 * kWarps;
#define SLIMRT_ATTENTION_MMA(D) \
  attention_mma_kernel<T, D, kWarps, kPlain><<<grid, kThreads, smem, stream>>>(q, k, v, mask, out, p, vec)
  switch (head) {
    case 32: SLIMRT_ATTENTION_MMA(32); break;
    case 64: SLIMRT_ATTENTION_MMA(64); break;
    case 80: SLIMRT_ATTENTION_MMA(80); break;
    case 96: SLIMRT_ATTENTION_MMA(96); break;
    default: SLIMRT_ATTENTION_MMA(128); break;
  }
#undef SLIMRT_ATTENTION_MMA
}

template <typename T>
void launch_warps(const AttentionMma& m, const void* q, const void* k, const void* v, const void* mask, void* out,
                  const AttentionParams& p, cudaStream_t stream) {
  const T* qt = static_cast<const T*>(q);
  const T* kt = static_cast<const T*>(k);
  const T* vt = static_cast<const T*>(v);
  T* ot = static_cast<T*>(out);
  // 16-byte chunks need row offsets that are multiples of 8 elements and 16-byte aligned tensors.
  const bool vec =
      m.vec && ((reinterpret_cast<uintptr_t>(q) | reinterpret_cast<uintptr_t>(k) | reinterpret_cast<uintptr_t>(v) |
                 reinterpret_cast<uintptr_t>(out)) & 15) == 0;
  if (m.warps == 1) {
    if (m.plain) launch_typed<T, 1, true>(m.head, qt, kt, vt, mask, ot, p, vec, stream);
    else launch_typed<T, 1, false>(m.head, qt, kt, vt, mask, ot, p, vec, stream);
  } else {
    if (m.plain) launch_typed<T, 4, true>(m.head, qt, kt, vt, mask, ot, p, vec, stream);
    else launch_typed<T, 4, false>(m.head, qt, kt, vt, mask, ot, p, vec, stream);
  }
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
  // The plain variant indexes keys with 32-bit integers.
  m.plain = (p.mask == MaskKind::kNone || p.ms_q == 0) && p.sq < (int64_t{1} << 30) && p.skv < (int64_t{1} << 30);
  bool aligned = d % 8 == 0 && dv % 8 == 0;
  for (const AttentionGeom* t : {&p.q, &p.k, &p.v, &p.o}) aligned = aligned && (t->base | t->batch | t->head | t->row) % 8 == 0;
  m.vec = aligned;
  return m;
}

Status attention_mma_prepare(DataType dtype, const AttentionMma& m) {
  const void* f = dtype == DataType::kBFloat16 ? mma_kernel_for<__nv_bfloat16>(m) : mma_kernel_for<__half>(m);
  return SLIMRT_CUDA(cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(m.smem_bytes)),
                     "Attention (tensor cores) shared memory");
}

void launch_attention_mma(DataType dtype, const AttentionMma& m, const void* q, const void* k, const void* v,
                          const void* mask, void* out, const AttentionParams& p, cudaStream_t stream) {
  if (dtype == DataType::kBFloat16) launch_warps<__nv_bfloat16>(m, q, k, v, mask, out, p, stream);
  else launch_warps<__half>(m, q, k, v, mask, out, p, stream);
}

}  // namespace slimrt::cuda
