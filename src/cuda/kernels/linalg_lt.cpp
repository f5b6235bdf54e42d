// cuBLASLt plumbing for the linalg kernels (see linalg_lt.h).
#include "cuda/kernels/linalg_lt.h"

#include <algorithm>
#include <string>

#include "core/log.h"

namespace slimrt::cuda {

namespace {

// cuBLASLt's own cap on useful workspace for one matmul; more only slows the heuristic.
constexpr uint64_t kMaxWorkspace = 32ull << 20;

bool cuda_type(DataType t, cudaDataType_t* out) {
  switch (t) {
    case DataType::kFloat32: *out = CUDA_R_32F; return true;
    case DataType::kFloat16: *out = CUDA_R_16F; return true;
    case DataType::kBFloat16: *out = CUDA_R_16BF; return true;
    case DataType::kFloat64: *out = CUDA_R_64F; return true;
    default: return false;
  }
}

// Largest power of two (<= 16) dividing the address.
unsigned pointer_alignment(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  unsigned a = 16;
  while (a > 1 && (v % a) != 0) a /= 2;
  return a;
}

template <typename T>
Status set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const T& v, const char* what) {
  return SLIMRT_CUDA(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(v)), what);
}

}  // namespace

LtGemm::~LtGemm() { release(); }

void LtGemm::release() {
  // Destroy errors cannot be acted on here; the handles are gone either way.
  if (layout_a_) SLIMRT_CUDA_IGNORE(cublasLtMatrixLayoutDestroy(layout_a_));
  if (layout_b_) SLIMRT_CUDA_IGNORE(cublasLtMatrixLayoutDestroy(layout_b_));
  if (layout_d_) SLIMRT_CUDA_IGNORE(cublasLtMatrixLayoutDestroy(layout_d_));
  if (matmul_) SLIMRT_CUDA_IGNORE(cublasLtMatmulDescDestroy(matmul_));
  layout_a_ = layout_b_ = layout_d_ = nullptr;
  matmul_ = nullptr;
}

Status LtGemm::init(const PrepareArgs& args, const LtGemmDesc& desc) {
  release();
  desc_ = desc;
  if (!args.cublaslt) return args.unsupported("no cuBLASLt handle");
  cudaDataType_t type;
  if (!cuda_type(desc.dtype, &type))
    return args.unsupported("dtype " + std::string(dtype_name(desc.dtype)) + " is not supported by cuBLASLt here");
  if (desc.batch > INT32_MAX) return args.unsupported("batch count exceeds int32");
  const bool is_double = desc.dtype == DataType::kFloat64;
  cublasComputeType_t compute = is_double ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F;
  if (desc.dtype == DataType::kFloat32 && args.allow_tf32) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  const cudaDataType_t scale = is_double ? CUDA_R_64F : CUDA_R_32F;
  alpha_f_ = static_cast<float>(desc.alpha);
  beta_f_ = static_cast<float>(desc.beta);
  alpha_d_ = desc.alpha;
  beta_d_ = desc.beta;

  SLIMRT_CUDA_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&matmul_, compute, scale));
  // cuBLASLt's A is our B: stored [K,N] row-major = column-major N x K (op N), or [N,K] (op T).
  const cublasOperation_t op_first = desc.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = desc.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  SLIMRT_RETURN_IF_ERROR(set_attr(matmul_, CUBLASLT_MATMUL_DESC_TRANSA, op_first, "set TRANSA"));
  SLIMRT_RETURN_IF_ERROR(set_attr(matmul_, CUBLASLT_MATMUL_DESC_TRANSB, op_second, "set TRANSB"));
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  switch (desc.act) {
    case LtEpilogue::kNone: epi = desc.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT; break;
    case LtEpilogue::kRelu: epi = desc.bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU; break;
    case LtEpilogue::kGeluTanh: epi = desc.bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU; break;
  }
  SLIMRT_RETURN_IF_ERROR(set_attr(matmul_, CUBLASLT_MATMUL_DESC_EPILOGUE, epi, "set EPILOGUE"));
  if (desc.bias) {
    const int32_t bias_type = type;
    SLIMRT_RETURN_IF_ERROR(set_attr(matmul_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, bias_type, "set BIAS_DATA_TYPE"));
    const int64_t bias_stride = 0;  // one bias for every matrix of the batch
    SLIMRT_RETURN_IF_ERROR(set_attr(matmul_, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, bias_stride, "set BIAS_BATCH_STRIDE"));
  }

  const auto make_layout = [&](cublasLtMatrixLayout_t* l, int64_t rows, int64_t cols, int64_t ld, int64_t stride) {
    SLIMRT_CUDA_RETURN_IF_ERROR(
        cublasLtMatrixLayoutCreate(l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld));
    if (desc.batch > 1) {
      const int32_t count = static_cast<int32_t>(desc.batch);
      SLIMRT_CUDA_RETURN_IF_ERROR(
          cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
      SLIMRT_CUDA_RETURN_IF_ERROR(
          cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
    }
    return Status::OK();
  };
  // Column-major views of the stored row-major matrices (rows x cols, leading dim ld).
  if (desc.trans_b) {
    SLIMRT_RETURN_IF_ERROR(make_layout(&layout_a_, desc.k, desc.n, desc.ldb, desc.stride_b));
  } else {
    SLIMRT_RETURN_IF_ERROR(make_layout(&layout_a_, desc.n, desc.k, desc.ldb, desc.stride_b));
  }
  if (desc.trans_a) {
    SLIMRT_RETURN_IF_ERROR(make_layout(&layout_b_, desc.m, desc.k, desc.lda, desc.stride_a));
  } else {
    SLIMRT_RETURN_IF_ERROR(make_layout(&layout_b_, desc.k, desc.m, desc.lda, desc.stride_a));
  }
  SLIMRT_RETURN_IF_ERROR(make_layout(&layout_d_, desc.n, desc.m, desc.ldd, desc.stride_d));

  const uint64_t ws_limit = std::min<uint64_t>(args.workspace_limit, kMaxWorkspace);
  const auto pick = [&](uint32_t align, cublasLtMatmulAlgo_t* algo, uint64_t* ws) -> Status {
    cublasLtMatmulPreference_t pref = nullptr;
    SLIMRT_CUDA_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&pref));
    Status s = SLIMRT_CUDA(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                                &ws_limit, sizeof(ws_limit)));
    for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      if (s.ok()) s = SLIMRT_CUDA(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(align)));
    }
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    if (s.ok())
      s = SLIMRT_CUDA(cublasLtMatmulAlgoGetHeuristic(args.cublaslt, matmul_, layout_a_, layout_b_, layout_d_,
                                                     layout_d_, pref, 1, &result, &found));
    SLIMRT_CUDA_IGNORE(cublasLtMatmulPreferenceDestroy(pref));
    if (!s.ok() || found == 0 || result.state != CUBLAS_STATUS_SUCCESS)
      return args.unsupported("cuBLASLt has no algorithm for M=" + std::to_string(desc.m) + " N=" +
                              std::to_string(desc.n) + " K=" + std::to_string(desc.k) + " batch=" +
                              std::to_string(desc.batch) + " (pointer alignment " + std::to_string(align) +
                              (s.ok() ? std::string(")") : "; " + s.message() + ")"));
    *algo = result.algo;
    *ws = result.workspaceSize;
    return Status::OK();
  };
  const uint32_t elem = static_cast<uint32_t>(dtype_size(desc.dtype));
  SLIMRT_RETURN_IF_ERROR(pick(elem, &safe_, &safe_ws_));
  if (!pick(16, &fast_, &fast_ws_).ok()) {
    SLIMRT_LOG(kVerbose, "{}: cuBLASLt has no algorithm for 16-byte aligned pointers (M={} N={} K={}); the {}-byte one "
               "runs at every address",
               args.node.describe(), desc.m, desc.n, desc.k, elem);
    fast_ = safe_;
    fast_ws_ = safe_ws_;
  }
  workspace_ = std::max(fast_ws_, safe_ws_);
  return Status::OK();
}

Status LtGemm::run(const LaunchArgs& args, const void* a, const void* b, const void* c, void* d,
                   const void* bias) const {
  if (desc_.bias) {
    SLIMRT_RETURN_IF_ERROR(set_attr(matmul_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias, "set BIAS_POINTER"));
  }
  const bool use_c = desc_.beta != 0.0;
  unsigned align = std::min({pointer_alignment(a), pointer_alignment(b), pointer_alignment(d)});
  if (use_c) align = std::min(align, pointer_alignment(c));
  if (desc_.bias) align = std::min(align, pointer_alignment(bias));
  const bool fast = align >= 16;
  const cublasLtMatmulAlgo_t* algo = fast ? &fast_ : &safe_;
  const uint64_t ws = fast ? fast_ws_ : safe_ws_;
  const bool is_double = desc_.dtype == DataType::kFloat64;
  const void* alpha = is_double ? static_cast<const void*>(&alpha_d_) : static_cast<const void*>(&alpha_f_);
  const void* beta = is_double ? static_cast<const void*>(&beta_d_) : static_cast<const void*>(&beta_f_);
  return SLIMRT_CUDA(cublasLtMatmul(args.cublaslt, matmul_, alpha, b, layout_a_, a, layout_b_, beta, use_c ? c : d,
                                    layout_d_, d, layout_d_, algo, args.workspace, std::min(ws, args.workspace_bytes),
                                    args.stream));
}

}  // namespace slimrt::cuda
