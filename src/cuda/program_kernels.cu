#include "cuda/program_kernels.h"

#include "cuda/check.h"

#include <cstring>

namespace slimrt::cuda {
namespace {

struct SmallBytes {
  uint8_t b[kMaxSmallValueBytes];
};

__global__ void write_small_values_kernel(uint8_t* dst, SmallBytes v, uint32_t n) {
  for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = v.b[i];
}

}  // namespace

Status write_small_values(void* dst, const uint8_t* bytes, uint32_t n, cudaStream_t stream) {
  if (n == 0) return Status::OK();
  if (n > kMaxSmallValueBytes || dst == nullptr)
    return internal_error("write_small_values: " + std::to_string(n) + " bytes to " + (dst ? "a device address" : "null"));
  SmallBytes v;
  std::memcpy(v.b, bytes, n);
  write_small_values_kernel<<<1, 128, 0, stream>>>(static_cast<uint8_t*>(dst), v, n);
  return SLIMRT_CUDA(cudaGetLastError(), "writing a host-known value");
}

Status poison_device(void* dst, uint64_t bytes, cudaStream_t stream) {
  if (bytes == 0) return Status::OK();
  return SLIMRT_CUDA(cudaMemsetAsync(dst, 0xFF, bytes, stream), "poisoning device memory");
}

}  // namespace slimrt::cuda
