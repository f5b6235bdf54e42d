// Owned CUDA resources of the execution core (host-only header): a device buffer, a stream, and
// the per-context library handles. Move-only RAII types; destructors never throw.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cuda/kernel.h"
#include "slimrt/status.h"

namespace slimrt::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // kOutOfMemory naming `what`, the bytes requested and the device's free bytes.
  static Result<DeviceBuffer> allocate(uint64_t bytes, const std::string& what);
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr, o.bytes_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }
  void reset();
  void* get() const { return ptr_; }
  uint64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  uint64_t bytes_ = 0;
};

class Stream {
 public:
  static Result<Stream> create();
  Stream() = default;
  Stream(Stream&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stream& operator=(Stream&& o) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// The device's properties and one cuBLASLt and one cuDNN handle. A cuDNN handle is bound to one
// stream at a time, so each execution context owns its own.
class DeviceResources {
 public:
  static Result<std::unique_ptr<DeviceResources>> create(int device);
  ~DeviceResources();
  DeviceResources(const DeviceResources&) = delete;
  DeviceResources& operator=(const DeviceResources&) = delete;

  const DeviceProps& props() const { return props_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_; }
  // Creates the cuDNN handle on first use (it loads cuDNN's libraries: only graphs with
  // convolutions pay for it).
  Result<cudnnHandle_t> cudnn();
  cudnnHandle_t cudnn_if_created() const { return cudnn_; }
  // Binds the cuDNN handle (when there is one) to `stream` (cheap; no allocation).
  Status bind_stream(cudaStream_t stream);

 private:
  DeviceResources() = default;
  DeviceProps props_;
  cublasLtHandle_t cublaslt_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cudaStream_t bound_ = reinterpret_cast<cudaStream_t>(-1);
};

// Selects `device` on this thread and checks it is usable (kUnsupported with the reason).
Status select_device(int device);

}  // namespace slimrt::cuda
