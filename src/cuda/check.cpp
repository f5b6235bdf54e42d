#include "cuda/check.h"

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <string_view>

namespace slimrt::cuda {
namespace {

// "src/cuda/context.cpp" rather than the build machine's absolute path.
std::string_view source_path(const char* file) {
  const std::string_view f(file);
  for (std::string_view root : {"/src/", "/tools/", "/tests/"}) {
    const size_t at = f.rfind(root);
    if (at != std::string_view::npos) return f.substr(at + 1);
  }
  return f;
}

std::string describe(const CallSite& where, const char* context, std::string_view error) {
  std::string text;
  if (context != nullptr && *context != '\0') text = fmt::format("{}: ", context);
  text += fmt::format("{} failed at {}:{}: {}", where.expr, source_path(where.file), where.line, error);
  return text;
}

// Errors after which the context is unusable: every later call fails the same way.
bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status to_status(cudaError_t e, const CallSite& where, const char* context, uint64_t requested_bytes) {
  if (e == cudaSuccess) return Status::OK();
  const bool sticky = is_sticky(e);
  if (!sticky) cudaGetLastError();  // a non-sticky error must not fail the next call
  std::string text = describe(where, context, fmt::format("{} ({})", cudaGetErrorName(e), cudaGetErrorString(e)));
  switch (e) {
    case cudaErrorMemoryAllocation: {
      if (requested_bytes > 0) {
        size_t free_bytes = 0, total_bytes = 0;
        if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
          text += fmt::format("; {} bytes requested, {} bytes free of {}", requested_bytes, free_bytes, total_bytes);
        } else {
          cudaGetLastError();
          text += fmt::format("; {} bytes requested", requested_bytes);
        }
      }
      return out_of_memory(std::move(text));
    }
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorNotSupported:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorDevicesUnavailable:
      return unsupported(std::move(text));
    default:
      if (sticky) text += " (the CUDA context is unusable from here on; restart the process)";
      return internal_error(std::move(text));
  }
}

Status to_status(cublasStatus_t s, const CallSite& where, const char* context) {
  if (s == CUBLAS_STATUS_SUCCESS) return Status::OK();
  std::string text =
      describe(where, context, fmt::format("{} ({})", cublasLtGetStatusName(s), cublasLtGetStatusString(s)));
  if (s == CUBLAS_STATUS_ALLOC_FAILED) return out_of_memory(std::move(text));
  if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH) return unsupported(std::move(text));
  return internal_error(std::move(text));
}

Status to_status(cudnnStatus_t s, const CallSite& where, const char* context) {
  if (s == CUDNN_STATUS_SUCCESS) return Status::OK();
  std::string text = describe(where, context, fmt::format("{} (status {})", cudnnGetErrorString(s), static_cast<int>(s)));
  // cuDNN 9 groups codes by thousands: 2000s bad parameters, 3000s not supported, 4000s internal
  // (4003 and 4004: host and device allocation failed), 5000s execution failed.
  if (s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED || s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    return out_of_memory(std::move(text));
  if (static_cast<int>(s) / 1000 == 3) return unsupported(std::move(text));
  return internal_error(std::move(text));
}

void ignore(cudaError_t e) {
  if (e != cudaSuccess && !is_sticky(e)) cudaGetLastError();
}
void ignore(cublasStatus_t) {}
void ignore(cudnnStatus_t) {}

}  // namespace slimrt::cuda
