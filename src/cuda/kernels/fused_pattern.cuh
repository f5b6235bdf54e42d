// Shared pieces of the fused_pattern family (normalizations in fused_pattern.cu, attention in
// fused_pattern_attention.cu).
#pragma once

#include "cuda/kernels/common.cuh"
#include "cuda/kernels/device_math.cuh"

namespace slimrt::cuda {

// Adds the Attention kernel (fused_pattern_attention.cu).
void register_attention_kernels(KernelRegistry& r);

// ---- Attention (fused_pattern_attention*.cu) ----------------------------------------------------

enum class MaskKind : int { kNone, kAdditive, kBool };

// Where the rows of one (batch*head) slice bh of a Q, K, V or Y tensor live: row r starts at
// element base + (bh / split) * batch + (bh % split) * head + r * row (AttentionParams::split is
// shared by the four tensors). This covers the heads-major form [.., H, S, D] (split 1, head 0),
// the sequence-major forms [B, S, H, D] and [S, B*H, D] (split H or B*H), and the packed
// projection [B, S, 3, H, D] (row 3*H*D, K and V at base H*D and 2*H*D).
struct AttentionGeom {
  int64_t base = 0, batch = 0, head = 0, row = 0;
};

struct AttentionParams {
  int64_t heads = 1;       // batch*heads flattened: bh
  int64_t sq = 0, skv = 0;
  int d = 0, dv = 0;
  float scale = 1.0f;
  bool causal = false;
  MaskKind mask = MaskKind::kNone;
  // Mask offset: lead index (bh split over up to two leading dims) and (i, j) strides.
  int64_t lead_inner = 1;  // size of the second leading dim (rank 4), 1 for rank 3
  int64_t ms_lead0 = 0, ms_lead1 = 0, ms_q = 0, ms_k = 0;
  int64_t q_tiles = 1;
  int64_t split = 1;
  AttentionGeom q, k, v, o;
};

// Element offset of row 0 of slice bh in a tensor with geometry `t`.
__device__ __forceinline__ int64_t attention_slice(const AttentionParams& p, const AttentionGeom& t, int64_t bh) {
  const int64_t b = bh / p.split, h = bh - b * p.split;
  return t.base + b * t.batch + h * t.head;
}

// Rounds a float to T and back (the reference rounds scores to the input type).
template <typename T> __device__ __forceinline__ float round_to(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return to_f32(from_f32<T>(v));
}

// Offset of (batch, head) bh's [Sq, Skv] slice in the broadcast mask.
__device__ __forceinline__ int64_t attention_mask_base(const AttentionParams& p, int64_t bh) {
  if (p.mask == MaskKind::kNone) return 0;
  const int64_t l0 = bh / p.lead_inner, l1 = bh - l0 * p.lead_inner;
  return l0 * p.ms_lead0 + l1 * p.ms_lead1;
}

// The score of query qi and key j from the fp32 dot product, rounded as the reference rounds
// it; -inf for masked keys and for padding (j >= Skv or qi >= Sq).
template <typename T>
__device__ __forceinline__ float attention_score(float dot, const AttentionParams& p, const void* mask,
                                                 int64_t mask_base, int64_t qi, int64_t j) {
  if (j >= p.skv || qi >= p.sq) return -INFINITY;
  float val = round_to<T>(round_to<T>(dot) * p.scale);
  if (p.mask == MaskKind::kAdditive) {
    val = round_to<T>(val + to_f32(static_cast<const T*>(mask)[mask_base + qi * p.ms_q + j * p.ms_k]));
  } else if (p.mask == MaskKind::kBool) {
    if (static_cast<const uint8_t*>(mask)[mask_base + qi * p.ms_q + j * p.ms_k] == 0) val = -INFINITY;
  }
  if (p.causal && j > qi) val = -INFINITY;
  return val;
}

// Tensor-core path (fused_pattern_attention_mma.cu) for float16/bfloat16 with head dims up to
// 128. attention_mma_plan picks the padded head dim it instantiates (head 0: not handled), the
// warps per block for this problem size, the kernel variant and the dynamic shared memory.
struct AttentionMma {
  int head = 0;        // 32, 64, 80, 96 or 128; 0: the tensor-core kernel does not apply
  int warps = 4;       // 1 or 4 (16 query rows each)
  bool plain = false;  // no mask and a positive scale: the lean softmax (see the kernel's notes)
  bool vec = false;    // every row offset is a multiple of 8 elements (16-byte loads, if aligned)
  size_t smem_bytes = 0;
};
AttentionMma attention_mma_plan(const AttentionParams& p, int d, int dv, int sm_count);
// Raises the kernel's shared-memory limit (once per create); returns the CUDA error.
Status attention_mma_prepare(DataType dtype, const AttentionMma& m);
void launch_attention_mma(DataType dtype, const AttentionMma& m, const void* q, const void* k, const void* v,
                          const void* mask, void* out, const AttentionParams& p, cudaStream_t stream);

}  // namespace slimrt::cuda
