// Owned CUDA resources (host-only header): move-only RAII types for device and pinned memory,
// streams, events, graphs and graph execs, the library handles, and the per-device resources an
// execution context uses. Destructors never throw and never report: a failed destroy is cleared
// (SLIMRT_CUDA_IGNORE). Every owner of a CUDA object in runtime/, loader/, cuda/ and cli/ is one
// of these.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "cuda/check.h"
#include "cuda/kernel.h"
#include "slimrt/status.h"

namespace slimrt::cuda {

// One handle of type H, destroyed by Destroy(h) when non-null.
template <typename H, auto Destroy>
class Owned {
 public:
  Owned() = default;
  explicit Owned(H h) : h_(h) {}
  Owned(Owned&& o) noexcept : h_(std::exchange(o.h_, H{})) {}
  Owned& operator=(Owned&& o) noexcept {
    if (this != &o) reset(std::exchange(o.h_, H{}));
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  H get() const { return h_; }
  explicit operator bool() const { return h_ != H{}; }
  // Destroys the current handle (if any) and takes `h`.
  void reset(H h = H{}) {
    if (h_ != H{}) SLIMRT_CUDA_IGNORE(Destroy(h_));
    h_ = h;
  }
  // For create functions: destroys the current handle and returns where the new one goes.
  H* receive() {
    reset();
    return &h_;
  }
  H release() { return std::exchange(h_, H{}); }

 private:
  H h_{};
};

using CudaGraph = Owned<cudaGraph_t, cudaGraphDestroy>;
using CudaGraphExec = Owned<cudaGraphExec_t, cudaGraphExecDestroy>;
using CublasLtHandle = Owned<cublasLtHandle_t, cublasLtDestroy>;
using CudnnHandle = Owned<cudnnHandle_t, cudnnDestroy>;

class Stream : public Owned<cudaStream_t, cudaStreamDestroy> {
 public:
  using Owned::Owned;
  // A non-blocking stream (no implicit synchronization with the legacy default stream).
  static Result<Stream> create();
};

class Event : public Owned<cudaEvent_t, cudaEventDestroy> {
 public:
  using Owned::Owned;
  static Result<Event> create(unsigned flags = cudaEventDefault);
};

// Device memory (cudaMalloc). An allocation failure is kOutOfMemory naming `what`, the bytes
// requested and the device's free and total bytes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static Result<DeviceBuffer> allocate(uint64_t bytes, const std::string& what);
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::move(o.ptr_)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    ptr_ = std::move(o.ptr_);
    bytes_ = std::exchange(o.bytes_, 0);
    return *this;
  }
  void reset() {
    ptr_.reset();
    bytes_ = 0;
  }
  void* get() const { return ptr_.get(); }
  uint64_t bytes() const { return bytes_; }

 private:
  Owned<void*, cudaFree> ptr_;
  uint64_t bytes_ = 0;
};

// Page-locked host memory (cudaHostAlloc), the source and target of asynchronous copies.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static Result<PinnedBuffer> allocate(uint64_t bytes, const std::string& what);
  PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(std::move(o.ptr_)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    ptr_ = std::move(o.ptr_);
    bytes_ = std::exchange(o.bytes_, 0);
    return *this;
  }
  void* get() const { return ptr_.get(); }
  uint64_t bytes() const { return bytes_; }

 private:
  Owned<void*, cudaFreeHost> ptr_;
  uint64_t bytes_ = 0;
};

// The device's properties and one cuBLASLt and one cuDNN handle. A cuDNN handle is bound to one
// stream at a time, so each execution context owns its own.
class DeviceResources {
 public:
  static Result<std::unique_ptr<DeviceResources>> create(int device);
  DeviceResources(const DeviceResources&) = delete;
  DeviceResources& operator=(const DeviceResources&) = delete;

  const DeviceProps& props() const { return props_; }
  cublasLtHandle_t cublaslt() const { return cublaslt_.get(); }
  // Creates the cuDNN handle on first use (it loads cuDNN's libraries: only graphs with
  // convolutions pay for it).
  Result<cudnnHandle_t> cudnn();
  cudnnHandle_t cudnn_if_created() const { return cudnn_.get(); }
  // Binds the cuDNN handle (when there is one) to `stream` (cheap; no allocation).
  Status bind_stream(cudaStream_t stream);

 private:
  DeviceResources() = default;
  DeviceProps props_;
  CublasLtHandle cublaslt_;
  CudnnHandle cudnn_;
  cudaStream_t bound_ = reinterpret_cast<cudaStream_t>(-1);
};

// Selects `device` on this thread and checks it is usable (kUnsupported with the reason).
Status select_device(int device);

}  // namespace slimrt::cuda
