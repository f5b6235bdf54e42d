// Pinned host memory and buffer locations (include/slimrt/host_memory.h).
#include "slimrt/host_memory.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <utility>

#include "cuda/check.h"

namespace slimrt {

Result<BufferLocation> locate_buffer(const void* ptr) {
  cudaPointerAttributes a{};
  // Memory CUDA does not know is reported as cudaMemoryTypeUnregistered (CUDA 11 and later).
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaPointerGetAttributes(&a, ptr));
  switch (a.type) {
    case cudaMemoryTypeDevice:
    case cudaMemoryTypeManaged: return BufferLocation::kDevice;
    case cudaMemoryTypeHost: return BufferLocation::kPinned;
    default: return BufferLocation::kPageable;
  }
}

Result<HostBuffer> HostBuffer::allocate(uint64_t bytes, bool mapped) {
  HostBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  SLIMRT_CUDA_RETURN_IF_ERROR_ALLOC(cudaHostAlloc(&p, bytes, mapped ? cudaHostAllocMapped : cudaHostAllocDefault),
                                    bytes, "a pinned host buffer");
  b.data_ = p;
  b.size_ = bytes;
  b.mapped_ = mapped;
  return b;
}

HostBuffer::~HostBuffer() {
  if (data_) SLIMRT_CUDA_IGNORE(cudaFreeHost(data_));
}
HostBuffer::HostBuffer(HostBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mapped_(std::exchange(o.mapped_, false)) {}
HostBuffer& HostBuffer::operator=(HostBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) SLIMRT_CUDA_IGNORE(cudaFreeHost(data_));
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, false);
  }
  return *this;
}

Result<HostRegistration> HostRegistration::pin(void* ptr, uint64_t bytes, bool mapped) {
  if (!ptr || bytes == 0) return invalid_argument("HostRegistration::pin: a null pointer or an empty range");
  SLIMRT_ASSIGN_OR_RETURN(const BufferLocation where, locate_buffer(ptr));
  if (where != BufferLocation::kPageable)
    return invalid_argument(fmt::format("HostRegistration::pin: {} is already {} memory", ptr,
                                        where == BufferLocation::kDevice ? "device" : "page-locked"));
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaHostRegister(ptr, bytes, mapped ? cudaHostRegisterMapped : cudaHostRegisterDefault),
                              fmt::format("pinning {} bytes at {}", bytes, ptr));
  HostRegistration r;
  r.data_ = ptr;
  r.size_ = bytes;
  return r;
}

HostRegistration::~HostRegistration() {
  if (data_) SLIMRT_CUDA_IGNORE(cudaHostUnregister(data_));
}
HostRegistration::HostRegistration(HostRegistration&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
HostRegistration& HostRegistration::operator=(HostRegistration&& o) noexcept {
  if (this != &o) {
    if (data_) SLIMRT_CUDA_IGNORE(cudaHostUnregister(data_));
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

}  // namespace slimrt
