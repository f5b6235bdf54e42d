#include "cuda/device_resources.h"

#include <cublasLt.h>
#include <cudnn.h>
#include <fmt/format.h>

namespace slimrt::cuda {

Result<DeviceBuffer> DeviceBuffer::allocate(uint64_t bytes, const std::string& what) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  const cudaError_t e = cudaMalloc(&b.ptr_, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    b.ptr_ = nullptr;
    return out_of_memory(fmt::format("{}: cannot allocate {} bytes of device memory ({} bytes free of {}): {}", what,
                                     bytes, free_bytes, total, cuda_error_string(e)));
  }
  b.bytes_ = bytes;
  return b;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (ptr_) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

Result<Stream> Stream::create() {
  Stream s;
  SLIMRT_RETURN_IF_ERROR(cuda_status(cudaStreamCreateWithFlags(&s.s_, cudaStreamNonBlocking), "cudaStreamCreate"));
  return s;
}

Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (s_) cudaStreamDestroy(s_);
    s_ = o.s_;
    o.s_ = nullptr;
  }
  return *this;
}

Stream::~Stream() {
  if (s_) cudaStreamDestroy(s_);
}

Status select_device(int device) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return unsupported("no usable CUDA device: " + cuda_error_string(e));
  }
  if (device < 0 || device >= count)
    return unsupported(fmt::format("CUDA device {} does not exist ({} device(s))", device, count));
  return cuda_status(cudaSetDevice(device), "cudaSetDevice");
}

Result<std::unique_ptr<DeviceResources>> DeviceResources::create(int device) {
  SLIMRT_RETURN_IF_ERROR(select_device(device));
  std::unique_ptr<DeviceResources> r(new DeviceResources());
  cudaDeviceProp prop{};
  SLIMRT_RETURN_IF_ERROR(cuda_status(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties"));
  r->props_.device = device;
  r->props_.sm_count = prop.multiProcessorCount;
  r->props_.cc_major = prop.major;
  r->props_.cc_minor = prop.minor;
  r->props_.max_shared_per_block_optin = prop.sharedMemPerBlockOptin;
  const cublasStatus_t bs = cublasLtCreate(&r->cublaslt_);
  if (bs != CUBLAS_STATUS_SUCCESS) return internal_error(fmt::format("cublasLtCreate failed (status {})", static_cast<int>(bs)));
  return r;
}

Result<cudnnHandle_t> DeviceResources::cudnn() {
  if (cudnn_) return cudnn_;
  const cudnnStatus_t ds = cudnnCreate(&cudnn_);
  if (ds != CUDNN_STATUS_SUCCESS) {
    cudnn_ = nullptr;
    return internal_error(fmt::format("cudnnCreate failed: {}", cudnnGetErrorString(ds)));
  }
  bound_ = reinterpret_cast<cudaStream_t>(-1);
  return cudnn_;
}

DeviceResources::~DeviceResources() {
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublaslt_) cublasLtDestroy(cublaslt_);
}

Status DeviceResources::bind_stream(cudaStream_t stream) {
  if (!cudnn_ || stream == bound_) return Status::OK();
  const cudnnStatus_t s = cudnnSetStream(cudnn_, stream);
  if (s != CUDNN_STATUS_SUCCESS) return internal_error(fmt::format("cudnnSetStream failed: {}", cudnnGetErrorString(s)));
  bound_ = stream;
  return Status::OK();
}

}  // namespace slimrt::cuda
