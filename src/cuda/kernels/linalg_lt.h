// One row-major (batched) matrix product through cuBLASLt, planned once and launched many times.
//
//   LtGemmDesc d;                       // D[M,N] = alpha * op(A) op(B) + beta * C (+ bias[N])
//   d.dtype = DataType::kFloat16; d.m = 128; d.n = 768; d.k = 768; d.lda = 768; ...
//   LtGemm g;
//   SLIMRT_RETURN_IF_ERROR(g.init(prepare_args, d));        // descriptors + heuristic, in create()
//   SLIMRT_RETURN_IF_ERROR(g.run(launch_args, a, b, c, d_ptr, bias));   // in enqueue()
//
// Row-major matrices are column-major matrices transposed, so D = A B is run as D^T = B^T A^T:
// cuBLASLt's first operand is our B and its second our A, and the bias (one value per column of
// our D) is cuBLASLt's per-row bias. Two algorithms are kept: the heuristic's best for 16-byte
// aligned pointers, and one that accepts element-aligned pointers; run() picks by the pointers.
// Host-only: this header and linalg_lt.cpp hold no device code.
#pragma once

#include <cublasLt.h>

#include <cstdint>

#include "cuda/kernel.h"

namespace slimrt::cuda {

enum class LtEpilogue { kNone, kRelu, kGeluTanh };

struct LtGemmDesc {
  DataType dtype = DataType::kFloat32;
  bool trans_a = false, trans_b = false;  // row-major sense: A stored [K,M] when trans_a
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldd = 0;  // row-major leading dims (elements); C shares D's layout
  int64_t batch = 1;                  // strided batch inside one call
  int64_t stride_a = 0, stride_b = 0, stride_d = 0;  // elements; 0 broadcasts an operand
  double alpha = 1.0, beta = 0.0;     // beta != 0 reads C (C's layout is D's)
  bool bias = false;                  // add bias[N] (dtype of D) along each row
  LtEpilogue act = LtEpilogue::kNone;
};

class LtGemm {
 public:
  LtGemm() = default;
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;
  ~LtGemm();

  // Builds the descriptors and picks the algorithms; kUnsupported when cuBLASLt has none.
  Status init(const PrepareArgs& args, const LtGemmDesc& desc);
  uint64_t workspace_bytes() const { return workspace_; }
  // Pointers may be offset into a tensor (batch loops): the algorithm is chosen by their actual
  // alignment. c may be nullptr when beta == 0, bias when !desc.bias.
  Status run(const LaunchArgs& args, const void* a, const void* b, const void* c, void* d, const void* bias) const;

 private:
  void release();

  LtGemmDesc desc_;
  cublasLtMatmulDesc_t matmul_ = nullptr;
  cublasLtMatrixLayout_t layout_a_ = nullptr;  // cuBLASLt's A: our B
  cublasLtMatrixLayout_t layout_b_ = nullptr;  // cuBLASLt's B: our A
  cublasLtMatrixLayout_t layout_d_ = nullptr;  // C and D
  cublasLtMatmulAlgo_t fast_{};  // pointers 16-byte aligned
  cublasLtMatmulAlgo_t safe_{};  // pointers element-aligned
  uint64_t fast_ws_ = 0, safe_ws_ = 0;
  float alpha_f_ = 1, beta_f_ = 0;  // scale type float (fp32 compute)
  double alpha_d_ = 1, beta_d_ = 0; // scale type double (fp64)
  uint64_t workspace_ = 0;
};

}  // namespace slimrt::cuda
