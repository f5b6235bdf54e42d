#include "cuda/device_resources.h"

#include <cublasLt.h>
#include <cudnn.h>
#include <fmt/format.h>

namespace slimrt::cuda {

Result<DeviceBuffer> DeviceBuffer::allocate(uint64_t bytes, const std::string& what) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC(cudaMalloc(&p, bytes), bytes, what);
  b.ptr_.reset(p);
  b.bytes_ = bytes;
  return b;
}

Result<PinnedBuffer> PinnedBuffer::allocate(uint64_t bytes, const std::string& what) {
  PinnedBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), bytes, what);
  b.ptr_.reset(p);
  b.bytes_ = bytes;
  return b;
}

Result<Stream> Stream::create() {
  Stream s;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(s.receive(), cudaStreamNonBlocking));
  return s;
}

Result<Event> Event::create(unsigned flags) {
  Event e;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(e.receive(), flags));
  return e;
}

Status select_device(int device) {
  int count = 0;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count), "no usable CUDA device");
  if (device < 0 || device >= count)
    return unsupported(fmt::format("CUDA device {} does not exist ({} device(s))", device, count));
  return SLIMRT_CUDA(cudaSetDevice(device));
}

Result<std::unique_ptr<DeviceResources>> DeviceResources::create(int device) {
  SLIMRT_RETURN_IF_ERROR(select_device(device));
  std::unique_ptr<DeviceResources> r(new DeviceResources());
  cudaDeviceProp prop{};
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  r->props_.device = device;
  r->props_.sm_count = prop.multiProcessorCount;
  r->props_.cc_major = prop.major;
  r->props_.cc_minor = prop.minor;
  r->props_.max_shared_per_block_optin = prop.sharedMemPerBlockOptin;
  SLIMRT_CUDA_RETURN_IF_ERROR(cublasLtCreate(r->cublaslt_.receive()));
  return r;
}

Result<cudnnHandle_t> DeviceResources::cudnn() {
  if (cudnn_) return cudnn_.get();
  Status s = SLIMRT_CUDA(cudnnCreate(cudnn_.receive()));
  if (!s.ok()) {
    cudnn_.release();  // cudnnCreate leaves nothing to destroy on failure
    return s;
  }
  bound_ = reinterpret_cast<cudaStream_t>(-1);
  return cudnn_.get();
}

Status DeviceResources::bind_stream(cudaStream_t stream) {
  if (!cudnn_ || stream == bound_) return Status::OK();
  SLIMRT_CUDA_RETURN_IF_ERROR(cudnnSetStream(cudnn_.get(), stream));
  bound_ = stream;
  return Status::OK();
}

}  // namespace slimrt::cuda
