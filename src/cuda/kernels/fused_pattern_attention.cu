// CUDA kernel for the fused Attention op (src/ir/ops/fused_pattern.cpp): out = softmax(Q K^T *
// scale + mask) V, flash-attention style: keys and values stream through shared memory in tiles
// of 32 with an online softmax, so memory is linear in the sequence length (no Sq x Skv
// scores). This file has the fp32 CUDA-core kernel (float32 inputs, head dims above 128, and a
// fallback); float16/bfloat16 normally take the tensor-core kernel in fused_pattern_attention_mma.cu.
//
// Scores follow the CPU reference bit for bit where it rounds: the dot product is rounded to the
// input type, then the scaled value, then the value plus an additive mask (the decomposed
// MatMul -> Div -> Add graph rounds at each step). Causal masks key j > query i (upper left).
// A row whose keys are all masked, or that meets a NaN score, gives NaN like the reference.
//
// Work split: a block of 4 warps owns 16 query rows of one (batch, head); each warp owns 4 rows.
// For each key tile, lane l computes the scores of key l for the warp's 4 rows (K rows padded in
// shared memory so the lanes hit distinct banks); the warp then updates each row's running max
// and sum with shuffles, and every lane accumulates its slice (lane + 32 c) of the output row.
#include "cuda/kernels/fused_pattern.cuh"

#include <cmath>
#include <utility>

namespace slimrt::cuda {

namespace {

// float16/bfloat16 with head dims up to 128 use the tensor-core kernel
// (fused_pattern_attention_mma.cu); false forces the fp32 CUDA-core kernel below.
constexpr bool kUseTensorCores = true;

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 4;
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;
constexpr int kKeysPerTile = 32;
constexpr int kThreads = kWarps * 32;

// kChunks: the head dims padded to 32 * kChunks.
template <typename T, int kChunks>
__global__ void __launch_bounds__(kThreads) attention_kernel(const T* __restrict__ q, const T* __restrict__ k,
                                                             const T* __restrict__ v, const void* __restrict__ mask,
                                                             T* __restrict__ out, AttentionParams p) {
  constexpr int kD = 32 * kChunks;
  extern __shared__ float smem[];
  float* qs = smem;                                   // [kRowsPerBlock][kD]
  float* ks = qs + kRowsPerBlock * kD;                // [kKeysPerTile][kD + 1]
  float* vs = ks + kKeysPerTile * (kD + 1);           // [kKeysPerTile][kD]

  const int64_t bh = blockIdx.x / p.q_tiles;
  const int64_t q0 = (blockIdx.x - bh * p.q_tiles) * kRowsPerBlock;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const T* qb = q + attention_slice(p, p.q, bh);
  const T* kb = k + attention_slice(p, p.k, bh);
  const T* vb = v + attention_slice(p, p.v, bh);

  for (int idx = tid; idx < kRowsPerBlock * kD; idx += kThreads) {
    const int r = idx / kD, c = idx % kD;
    const int64_t qi = q0 + r;
    qs[idx] = (qi < p.sq && c < p.d) ? to_f32(qb[qi * p.q.row + c]) : 0.0f;
  }

  const int64_t mask_base = attention_mask_base(p, bh);

  float m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kChunks];
  bool nan[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
    nan[r] = false;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) acc[r][c] = 0.0f;
  }

  // Causal: tiles past the block's last query row are fully masked.
  int64_t kv_end = p.skv;
  if (p.causal) kv_end = min(p.skv, q0 + kRowsPerBlock);
  for (int64_t j0 = 0; j0 < kv_end; j0 += kKeysPerTile) {
    __syncthreads();  // previous tile consumed (and, first time, qs written)
    for (int idx = tid; idx < kKeysPerTile * kD; idx += kThreads) {
      const int r = idx / kD, c = idx % kD;
      const int64_t j = j0 + r;
      const bool in = j < p.skv;
      ks[r * (kD + 1) + c] = (in && c < p.d) ? to_f32(kb[j * p.k.row + c]) : 0.0f;
      vs[r * kD + c] = (in && c < p.dv) ? to_f32(vb[j * p.v.row + c]) : 0.0f;
    }
    __syncthreads();

    float s[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = 0.0f;
    const float* krow = ks + lane * (kD + 1);
    const float* qrow = qs + warp * kRowsPerWarp * kD;
#pragma unroll 8
    for (int c = 0; c < kD; ++c) {
      const float kc = krow[c];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) s[r] = fmaf(qrow[r * kD + c], kc, s[r]);
    }

    const int64_t j = j0 + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t qi = q0 + warp * kRowsPerWarp + r;
      const float val = attention_score<T>(s[r], p, mask, mask_base, qi, j);
      nan[r] = nan[r] || __any_sync(0xffffffffu, isnan(val));
      // fmaxf drops NaN, which the flag above already recorded.
      const float tile_max = warp_max(isnan(val) ? -INFINITY : val);
      const float m_new = fmaxf(m[r], tile_max);
      float pr, corr;
      if (m_new == -INFINITY) {
        pr = 0.0f;
        corr = 1.0f;
      } else {
        pr = (isnan(val) || val == -INFINITY) ? 0.0f : expf(val - m_new);
        corr = expf(m[r] - m_new);
      }
      m[r] = m_new;
      l[r] = l[r] * corr + warp_sum(pr);
      s[r] = pr;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) acc[r][c] *= corr;
    }
    const int keys = p.skv - j0 < kKeysPerTile ? static_cast<int>(p.skv - j0) : kKeysPerTile;
    for (int jj = 0; jj < keys; ++jj) {
      float vv[kChunks];
#pragma unroll
      for (int c = 0; c < kChunks; ++c) vv[c] = vs[jj * kD + lane + 32 * c];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float pj = __shfl_sync(0xffffffffu, s[r], jj);
#pragma unroll
        for (int c = 0; c < kChunks; ++c) acc[r][c] = fmaf(pj, vv[c], acc[r][c]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t qi = q0 + warp * kRowsPerWarp + r;
    if (qi >= p.sq) continue;
    // All keys masked (l == 0) gives NaN, as softmax over all -inf does in the reference.
    const float inv = (nan[r] || l[r] == 0.0f) ? NAN : 1.0f / l[r];
    T* orow = out + attention_slice(p, p.o, bh) + qi * p.o.row;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int col = lane + 32 * c;
      if (col < p.dv) orow[col] = from_f32<T>(acc[r][c] * inv);
    }
  }
}

size_t attention_smem_bytes(int chunks) {
  const size_t d = 32 * static_cast<size_t>(chunks);
  return sizeof(float) * (kRowsPerBlock * d + kKeysPerTile * (d + 1) + kKeysPerTile * d);
}

template <typename T> void* attention_kernel_for(int chunks) {
  switch (chunks) {
    case 1: return reinterpret_cast<void*>(attention_kernel<T, 1>);
    case 2: return reinterpret_cast<void*>(attention_kernel<T, 2>);
    case 3: return reinterpret_cast<void*>(attention_kernel<T, 3>);
    case 4: return reinterpret_cast<void*>(attention_kernel<T, 4>);
    case 6: return reinterpret_cast<void*>(attention_kernel<T, 6>);
    default: return reinterpret_cast<void*>(attention_kernel<T, 8>);
  }
}

class AttentionKernel final : public Kernel {
 public:
  AttentionKernel(DataType dtype, const AttentionParams& p, int chunks, unsigned grid)
      : dtype_(dtype), p_(p), chunks_(chunks), grid_(grid), smem_(attention_smem_bytes(chunks)) {}

  Status enqueue(const LaunchArgs& args) const override {
    if (grid_ == 0) return Status::OK();
    if (zero_bytes_ > 0) return SLIMRT_CUDA(cudaMemsetAsync(args.output(0), 0, zero_bytes_, args.stream));
    const void* mask = p_.mask == MaskKind::kNone ? nullptr : args.input(3);
    const void* kp = packed_ ? args.input(0) : args.input(1);
    const void* vp = packed_ ? args.input(0) : args.input(2);
    if (mma_.head > 0) {
      launch_attention_mma(dtype_, mma_, args.input(0), kp, vp, mask, args.output(0), p_, args.stream);
      return Status::OK();
    }
    return dispatch_float(
        dtype_,
        [&](auto tag) {
          using T = typename decltype(tag)::type;
          if constexpr (!std::is_same_v<T, double>) {
            const T* q = args.in<T>(0);
            const T* k = static_cast<const T*>(kp);
            const T* v = static_cast<const T*>(vp);
            T* o = args.out<T>(0);
            AttentionParams p = p_;
            switch (chunks_) {
              case 1: attention_kernel<T, 1><<<grid_, kThreads, smem_, args.stream>>>(q, k, v, mask, o, p); break;
              case 2: attention_kernel<T, 2><<<grid_, kThreads, smem_, args.stream>>>(q, k, v, mask, o, p); break;
              case 3: attention_kernel<T, 3><<<grid_, kThreads, smem_, args.stream>>>(q, k, v, mask, o, p); break;
              case 4: attention_kernel<T, 4><<<grid_, kThreads, smem_, args.stream>>>(q, k, v, mask, o, p); break;
              case 6: attention_kernel<T, 6><<<grid_, kThreads, smem_, args.stream>>>(q, k, v, mask, o, p); break;
              default: attention_kernel<T, 8><<<grid_, kThreads, smem_, args.stream>>>(q, k, v, mask, o, p); break;
            }
          }
        },
        /*with_double=*/false);
  }

  uint64_t zero_bytes_ = 0;
  AttentionMma mma_;     // head > 0: the tensor-core kernel
  bool packed_ = false;  // K and V are read from input 0 (qkv_packed)

 private:
  DataType dtype_;
  AttentionParams p_;
  int chunks_;
  unsigned grid_;
  size_t smem_;
};

Result<std::unique_ptr<Kernel>> create_attention(const PrepareArgs& a) {
  const DataType dt = a.input(0).dtype;
  if (dt != DataType::kFloat32 && dt != DataType::kFloat16 && dt != DataType::kBFloat16)
    return a.unsupported("Attention supports float32, float16 and bfloat16 inputs");
  // The logical dims below are heads-major, [.., H, S, D]; the geometry says where rows live.
  // seq_major: [B, S, H, D] or [S, B*H, D] in memory. qkv_packed (with seq_major): input 0 is
  // the projection [B, S, 3, H, D] and inputs 1 and 2 are absent.
  const bool seq_major = a.node.attr_int("seq_major", 0) != 0;
  const bool packed = a.node.attr_int("qkv_packed", 0) != 0;
  AttentionParams p;
  TensorInfo qi = a.input(0);
  TensorInfo ki, vi;
  if (packed) {
    if (!seq_major) return a.invalid("qkv_packed needs seq_major = 1");
    if (a.has_input(1) || a.has_input(2)) return a.invalid("qkv_packed takes K and V from input 0; inputs 1 and 2 must be absent");
    if (qi.rank() != 5 || qi.dims[2] != 3) return a.invalid("the packed QKV input must be [batch, seq, 3, heads, dim]");
    const int64_t b = qi.dims[0], s = qi.dims[1], h = qi.dims[3], dh = qi.dims[4];
    qi.dims = {b, h, s, dh};
    ki = vi = qi;
    const int64_t row = 3 * h * dh;
    p.split = h;
    p.q = {0, s * row, dh, row};
    p.k = {h * dh, s * row, dh, row};
    p.v = {2 * h * dh, s * row, dh, row};
  } else {
    ki = a.input(1);
    vi = a.input(2);
  }
  const int64_t rank = qi.rank();
  if (rank != 3 && rank != 4) return a.invalid("Q, K and V must have rank 3 or 4");
  if (ki.rank() != rank || vi.rank() != rank) return a.invalid("Q, K and V must have the same rank");
  if (seq_major && !packed) {
    // [B, S, H, D]: slices split as (b, h); [S, B*H, D]: every slice is a head of batch 0.
    const int64_t h = qi.dims[static_cast<size_t>(rank - 2)];
    p.split = h;
    auto geom = [&](TensorInfo* t) {
      const int64_t s = t->dims[static_cast<size_t>(rank - 3)], dh = t->dims[static_cast<size_t>(rank - 1)];
      const AttentionGeom g{0, rank == 4 ? s * h * dh : 0, dh, h * dh};
      std::swap(t->dims[static_cast<size_t>(rank - 3)], t->dims[static_cast<size_t>(rank - 2)]);
      return g;
    };
    p.q = geom(&qi);
    p.k = geom(&ki);
    p.v = geom(&vi);
  } else if (!seq_major) {
    auto geom = [&](const TensorInfo& t) {
      const int64_t rows = t.dims[static_cast<size_t>(rank - 2)], dh = t.dims[static_cast<size_t>(rank - 1)];
      return AttentionGeom{0, rows * dh, 0, dh};
    };
    p.q = geom(qi);
    p.k = geom(ki);
    p.v = geom(vi);
  }
  if (ki.dtype != dt || vi.dtype != dt) return a.invalid("Q, K and V must have the same dtype");
  p.heads = 1;
  for (int64_t d = 0; d + 2 < rank; ++d) {
    const size_t u = static_cast<size_t>(d);
    if (ki.dims[u] != qi.dims[u] || vi.dims[u] != qi.dims[u]) return a.invalid("Q, K and V leading dims differ");
    p.heads *= qi.dims[u];
  }
  p.sq = qi.dims[static_cast<size_t>(rank - 2)];
  p.skv = ki.dims[static_cast<size_t>(rank - 2)];
  const int64_t d = qi.dims[static_cast<size_t>(rank - 1)];
  const int64_t dv = vi.dims[static_cast<size_t>(rank - 1)];
  if (ki.dims[static_cast<size_t>(rank - 1)] != d || vi.dims[static_cast<size_t>(rank - 2)] != p.skv)
    return a.invalid("Q, K and V dims do not agree");
  // The output is heads-major or, with seq_major, [B, S, H, Dv] / [S, B*H, Dv].
  if (seq_major) p.o = {0, rank == 4 ? p.sq * p.split * dv : 0, dv, p.split * dv};
  else p.o = {0, p.sq * dv, 0, dv};
  const int64_t dmax = std::max(d, dv);
  if (dmax > 256) return a.unsupported("head dims above 256");
  p.d = static_cast<int>(d);
  p.dv = static_cast<int>(dv);
  p.scale = a.node.has_attr("scale") ? a.node.attr_float("scale", 1.0f)
                                     : static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  p.causal = a.node.attr_int("is_causal", 0) != 0;
  if (a.has_input(3)) {
    const TensorInfo& mi = a.input(3);
    if (mi.dtype == DataType::kBool) p.mask = MaskKind::kBool;
    else if (mi.dtype == dt) p.mask = MaskKind::kAdditive;
    else return a.unsupported("mask must be bool or have Q's dtype");
    if (mi.rank() > rank) return a.invalid("mask has more dims than the scores");
    std::vector<int64_t> scores(qi.dims.begin(), qi.dims.end() - 1);
    scores.push_back(p.skv);
    const BroadcastStrides bs = broadcast_strides(mi.dims, scores);
    p.ms_q = bs.in_strides[rank - 2];
    p.ms_k = bs.in_strides[rank - 1];
    if (rank == 4) {
      p.lead_inner = qi.dims[1];
      p.ms_lead0 = bs.in_strides[0];
      p.ms_lead1 = bs.in_strides[1];
    } else {
      p.lead_inner = 1;
      p.ms_lead0 = bs.in_strides[0];
    }
  }
  int chunks = static_cast<int>((dmax + 31) / 32);
  if (chunks == 5) chunks = 6;
  if (chunks == 7) chunks = 8;
  if (chunks == 0) chunks = 1;
  p.q_tiles = (p.sq + kRowsPerBlock - 1) / kRowsPerBlock;
  const int64_t blocks = p.heads * p.q_tiles;
  if (blocks > 0x7fffffffLL) return a.unsupported("too many (batch, head, query tile) blocks");
  const bool empty = blocks == 0 || dv == 0;
  const size_t smem = attention_smem_bytes(chunks);
  if (smem > 48 * 1024) {
    if (smem > a.device.max_shared_per_block_optin) return a.unsupported("head dim needs more shared memory than the device has");
    Status e;
    Status st = dispatch_float(
        dt,
        [&](auto tag) {
          using T = typename decltype(tag)::type;
          if constexpr (!std::is_same_v<T, double>) {
            // Swapped in rather than assigned: nvcc warns that Status& from operator= is discarded.
            Status r = SLIMRT_CUDA(cudaFuncSetAttribute(attention_kernel_for<T>(chunks),
                                                        cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
                                   "Attention shared memory");
            std::swap(e, r);
          }
        },
        false);
    SLIMRT_RETURN_IF_ERROR(st);
    SLIMRT_RETURN_IF_ERROR(e);
  }
  auto kernel = std::make_unique<AttentionKernel>(dt, p, chunks, empty ? 0u : static_cast<unsigned>(blocks));
  kernel->packed_ = packed;
  if (kUseTensorCores && dt != DataType::kFloat32) {
    const AttentionMma m = attention_mma_plan(p, p.d, p.dv, a.device.sm_count);
    if (m.head > 0 && m.smem_bytes <= a.device.max_shared_per_block_optin) {
      SLIMRT_RETURN_IF_ERROR(attention_mma_prepare(dt, m));
      kernel->mma_ = m;
    }
  }
  // No keys: the reference sums nothing and writes zeros.
  if (!empty && p.skv == 0) kernel->zero_bytes_ = a.output(0).bytes();
  return std::unique_ptr<Kernel>(std::move(kernel));
}

}  // namespace

void register_attention_kernels(KernelRegistry& r) { r.add({"Attention", create_attention, 0}); }

}  // namespace slimrt::cuda
