// The one way a CUDA runtime, cuBLASLt or cuDNN call becomes a Status (host-only header; for
// runtime/, loader/, cuda/, cli/ and tools/).
//
//   SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
//   SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, n, kind, stream), "uploading input 'x'");
//   Status s = SLIMRT_CUDA(cudaGraphLaunch(exec, stream));
//   SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC(cudaMalloc(&p, bytes), bytes, "the activation arena");
//   SLIMRT_CUDA_IGNORE(cudaStreamDestroy(stream));  // cleanup: nothing to tell the caller
//   SLIMRT_CUDA_DEFERRED(cudaMemcpyAsync(...));      // reported by the launch sequence's last check
//
// Every failure names the call as written, its file and line, and the library's error name and
// text, e.g. "cudaMalloc(&p, bytes) failed at src/cuda/context.cpp:88: cudaErrorMemoryAllocation
// (out of memory)". Codes map the same way from every call site:
//   out of memory (cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED, CUDNN_STATUS_ALLOC_FAILED)
//     -> kOutOfMemory; the _ALLOC forms add the bytes requested and the device's free and total
//     bytes;
//   no usable device, driver too old, no kernel image or PTX for this GPU, not supported
//     -> kUnsupported;
//   anything else -> kInternal (a failed launch or an illegal address leaves the CUDA context
//     unusable; the message says so).
// A non-sticky error is cleared (cudaGetLastError) so that it does not fail the next call.
//
// scripts/check_cuda_calls.py (run by ctest) fails on any CUDA, cuBLASLt or cuDNN call in src/
// or tools/ that is not inside one of these macros.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>

#include "slimrt/status.h"

namespace slimrt::cuda {

struct CallSite {
  const char* expr;
  const char* file;
  int line;
};

// OK for success; otherwise the Status described above. `context` (may be null) is prefixed
// ("<context>: cudaMemcpy(...) failed ..."); `requested_bytes` > 0 adds the allocation's size
// and the device's free memory to an out-of-memory error.
Status to_status(cudaError_t e, const CallSite& where, const char* context = nullptr, uint64_t requested_bytes = 0);
Status to_status(cublasStatus_t s, const CallSite& where, const char* context = nullptr);
Status to_status(cudnnStatus_t s, const CallSite& where, const char* context = nullptr);

inline const char* context_text(const char* s) { return s; }
inline const char* context_text(const std::string& s) { return s.c_str(); }
inline const char* context_text() { return nullptr; }

// Cleanup calls (destructors, error paths that already fail): the error, if any, is cleared and
// dropped.
void ignore(cudaError_t e);
void ignore(cublasStatus_t s);
void ignore(cudnnStatus_t s);

}  // namespace slimrt::cuda

#define SLIMRT_CUDA_SITE(expr) \
  ::slimrt::cuda::CallSite { #expr, __FILE__, __LINE__ }

// A Status for one call; an optional second argument (const char* or std::string) says what the
// call was doing.
#define SLIMRT_CUDA(expr, ...) \
  ::slimrt::cuda::to_status((expr), SLIMRT_CUDA_SITE(expr), ::slimrt::cuda::context_text(__VA_ARGS__))

#define SLIMRT_CUDA_RETURN_IF_ERROR(expr, ...) SLIMRT_RETURN_IF_ERROR(SLIMRT_CUDA(expr, __VA_ARGS__))

// For allocations: an out-of-memory error names `bytes` and the device's free memory.
#define SLIMRT_CUDA_ALLOC(expr, bytes, ...)                                                                     \
  ::slimrt::cuda::to_status((expr), SLIMRT_CUDA_SITE(expr), ::slimrt::cuda::context_text(__VA_ARGS__), \
                            static_cast<uint64_t>(bytes))

#define SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC(expr, bytes, ...) \
  SLIMRT_RETURN_IF_ERROR(SLIMRT_CUDA_ALLOC(expr, bytes, __VA_ARGS__))

#define SLIMRT_CUDA_IGNORE(expr) ::slimrt::cuda::ignore(expr)

// For asynchronous work inside a launch sequence whose helpers return nothing (a copy issued by a
// kernel's enqueue): an error stays recorded as the thread's last CUDA error, and the sequence's
// closing SLIMRT_CUDA(cudaGetLastError()) (Binding::enqueue) reports it.
#define SLIMRT_CUDA_DEFERRED(expr) static_cast<void>(expr)
