// Device discovery. The rest of the CUDA backend arrives with the CUDA-backend issue.
#include <cuda_runtime.h>

#include <string>

#include "cuda/check.h"
#include "slimrt/device.h"

namespace slimrt {

DeviceQuery query_cuda_devices() {
  int count = 0;
  if (const Status s = SLIMRT_CUDA(cudaGetDeviceCount(&count)); !s.ok()) return {0, "no usable CUDA device: " + s.message()};
  if (count == 0) return {0, "no CUDA device found"};
  cudaDeviceProp prop{};
  if (!SLIMRT_CUDA(cudaGetDeviceProperties(&prop, 0)).ok()) return {count, "device 0: properties unavailable"};
  return {count, std::string(prop.name) + ", sm_" + std::to_string(prop.major) + std::to_string(prop.minor)};
}

}  // namespace slimrt
