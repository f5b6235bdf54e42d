// Device discovery. The rest of the CUDA backend arrives with the CUDA-backend issue.
#include <cuda_runtime.h>

#include <string>

#include "slimrt/device.h"

namespace slimrt {

DeviceQuery query_cuda_devices() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls are not poisoned
    return {0, std::string("no usable CUDA device: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")"};
  }
  if (count == 0) return {0, "no CUDA device found"};
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return {count, "device 0: properties unavailable"};
  return {count, std::string(prop.name) + ", sm_" + std::to_string(prop.major) + std::to_string(prop.minor)};
}

}  // namespace slimrt
