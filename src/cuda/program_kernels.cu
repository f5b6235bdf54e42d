#include "cuda/program_kernels.h"

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

cudaError_t write_small_values(void* dst, const uint8_t* bytes, uint32_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (n > kMaxSmallValueBytes || dst == nullptr) return cudaErrorInvalidValue;
  SmallBytes v;
  std::memcpy(v.b, bytes, n);
  write_small_values_kernel<<<1, 128, 0, stream>>>(static_cast<uint8_t*>(dst), v, n);
  return cudaGetLastError();
}

cudaError_t poison_device(void* dst, uint64_t bytes, cudaStream_t stream) {
  if (bytes == 0) return cudaSuccess;
  return cudaMemsetAsync(dst, 0xFF, bytes, stream);
}

}  // namespace slimrt::cuda
