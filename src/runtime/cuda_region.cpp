// The device side of Runtime::load: the region allocation and the pinned staging ring.
#include <fmt/format.h>

#include <vector>

#include "runtime/runtime_internal.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace slimrt::runtime_detail {

#ifdef SLIMRT_HAVE_CUDA
namespace {

Status cuda_status(const char* what, cudaError_t err) {
  cudaGetLastError();  // clear a non-sticky error so that later calls are not poisoned
  const std::string text = fmt::format("{} failed: {} ({})", what, cudaGetErrorName(err), cudaGetErrorString(err));
  if (err == cudaErrorMemoryAllocation) return out_of_memory(text);
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver || err == cudaErrorInvalidDevice)
    return unsupported(text);
  return io_error(text);
}

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

class CudaSink final : public RegionSink {
 public:
  CudaSink(uint8_t* device_region, uint64_t group_bytes, uint32_t slots, StagedFn on_staged)
      : region_(device_region), group_bytes_(group_bytes), slots_(slots), on_staged_(std::move(on_staged)),
        events_(slots, nullptr) {}

  ~CudaSink() override {
    if (stream_ != nullptr) {
      cudaStreamSynchronize(stream_);  // no copy may still read a buffer being freed
      cudaStreamDestroy(stream_);
    }
    for (cudaEvent_t e : events_) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    if (ring_ != nullptr) cudaFreeHost(ring_);
  }
  CudaSink(const CudaSink&) = delete;
  CudaSink& operator=(const CudaSink&) = delete;

  Status init() {
    const uint64_t bytes = group_bytes_ * slots_;
    void* ring = nullptr;
    cudaError_t err = cudaHostAlloc(&ring, bytes, cudaHostAllocDefault);
    if (err != cudaSuccess) {
      Status s = cuda_status("cudaHostAlloc", err);
      return out_of_memory(fmt::format("cannot allocate the pinned staging ring ({} x {} = {}): {}", slots_,
                                       mib(group_bytes_), mib(bytes), s.message()));
    }
    ring_ = static_cast<uint8_t*>(ring);
    err = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
    if (err != cudaSuccess) {
      stream_ = nullptr;
      return cuda_status("cudaStreamCreateWithFlags (copy stream)", err);
    }
    for (cudaEvent_t& e : events_) {
      err = cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
      if (err != cudaSuccess) {
        e = nullptr;
        return cuda_status("cudaEventCreateWithFlags", err);
      }
    }
    return Status::OK();
  }

  uint32_t slots() const override { return slots_; }
  uint8_t* buffer(uint64_t group) override { return ring_ + (group % slots_) * group_bytes_; }

  Status issue(uint64_t group, uint64_t begin, uint64_t n) override {
    const uint8_t* src = buffer(group);
    if (on_staged_) on_staged_(begin, src, n);
    cudaError_t err = cudaMemcpyAsync(region_ + begin, src, n, cudaMemcpyHostToDevice, stream_);
    if (err != cudaSuccess) return cuda_status("cudaMemcpyAsync (weights to the device)", err);
    err = cudaEventRecord(events_[group % slots_], stream_);
    if (err != cudaSuccess) return cuda_status("cudaEventRecord", err);
    return Status::OK();
  }

  Status wait(uint64_t group) override {
    const cudaError_t err = cudaEventSynchronize(events_[group % slots_]);
    if (err != cudaSuccess) return cuda_status("cudaEventSynchronize (weights copy)", err);
    return Status::OK();
  }

  Status finish() override {
    const cudaError_t err = cudaStreamSynchronize(stream_);
    if (err != cudaSuccess) return cuda_status("cudaStreamSynchronize (weights copy)", err);
    return Status::OK();
  }

 private:
  uint8_t* region_;
  uint64_t group_bytes_;
  uint32_t slots_;
  StagedFn on_staged_;
  uint8_t* ring_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::vector<cudaEvent_t> events_;
};

}  // namespace

Result<std::string> cuda_init(int device) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return cuda_status("cudaGetDeviceCount", err).with_context("the cuda backend needs a GPU");
  if (device < 0 || device >= count)
    return invalid_argument(fmt::format("CUDA device {} does not exist: this machine has {} device(s)", device, count));
  err = cudaSetDevice(device);
  if (err != cudaSuccess) return cuda_status("cudaSetDevice", err);
  err = cudaFree(nullptr);  // creates the primary context now, not inside the first load
  if (err != cudaSuccess) return cuda_status("creating the CUDA context", err);
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) return cuda_status("cudaGetDeviceProperties", err);
  return fmt::format("sm_{}{}", prop.major, prop.minor);
}

Result<std::shared_ptr<void>> cuda_alloc_region(uint64_t bytes, uint64_t limit, const std::string& what) {
  size_t free_bytes = 0, total_bytes = 0;
  cudaError_t err = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (err != cudaSuccess) return cuda_status("cudaMemGetInfo", err);
  if (limit != 0 && bytes > limit)
    return out_of_memory(fmt::format("{}: the weights need {} bytes ({}) of device memory, over the limit of {} bytes "
                                     "(LoadOptions::max_device_bytes)",
                                     what, bytes, mib(bytes), limit));
  if (bytes > free_bytes)
    return out_of_memory(fmt::format("{}: the weights need {} bytes ({}) of device memory; the device has {} free of {}",
                                     what, bytes, mib(bytes), mib(free_bytes), mib(total_bytes)));
  void* p = nullptr;
  err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    return cuda_status("cudaMalloc", err)
        .with_context(fmt::format("{}: allocating {} bytes of device memory for the weights ({} free)", what, bytes,
                                  mib(free_bytes)));
  }
  return std::shared_ptr<void>(p, [](void* q) { cudaFree(q); });
}

Result<std::unique_ptr<RegionSink>> make_cuda_sink(uint8_t* device_region, uint64_t group_bytes, uint32_t slots,
                                                   StagedFn on_staged) {
  auto sink = std::make_unique<CudaSink>(device_region, group_bytes, slots, std::move(on_staged));
  SLIMRT_RETURN_IF_ERROR(sink->init());
  return std::unique_ptr<RegionSink>(std::move(sink));
}

Status cuda_copy_to_host(void* host, const void* device, uint64_t bytes) {
  const cudaError_t err = cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) return cuda_status("cudaMemcpy (device to host)", err);
  return Status::OK();
}

#else  // !SLIMRT_HAVE_CUDA

namespace {
Status no_cuda() {
  return unsupported("the cuda backend is not available: slimrt was built without CUDA (SLIMRT_ENABLE_CUDA=OFF or "
                     "no toolkit)");
}
}  // namespace

Result<std::string> cuda_init(int /*device*/) { return no_cuda(); }
Result<std::shared_ptr<void>> cuda_alloc_region(uint64_t, uint64_t, const std::string&) { return no_cuda(); }
Result<std::unique_ptr<RegionSink>> make_cuda_sink(uint8_t*, uint64_t, uint32_t, StagedFn) { return no_cuda(); }
Status cuda_copy_to_host(void*, const void*, uint64_t) { return no_cuda(); }

#endif

}  // namespace slimrt::runtime_detail
