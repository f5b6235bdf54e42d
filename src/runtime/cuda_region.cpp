// The device side of Runtime::load: the region allocation and the pinned staging ring.
#include <fmt/format.h>

#include <vector>

#include "runtime/runtime_internal.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/device_resources.h"
#endif

namespace slimrt::runtime_detail {

#ifdef SLIMRT_HAVE_CUDA
namespace {

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

class CudaSink final : public RegionSink {
 public:
  CudaSink(uint8_t* device_region, uint64_t group_bytes, uint32_t slots, StagedFn on_staged)
      : region_(device_region), group_bytes_(group_bytes), slots_(slots), on_staged_(std::move(on_staged)),
        events_(slots) {}

  ~CudaSink() override {
    // No copy may still read the ring when it is freed (the members go after this).
    if (stream_) SLIMRT_CUDA_IGNORE(cudaStreamSynchronize(stream_.get()));
  }
  CudaSink(const CudaSink&) = delete;
  CudaSink& operator=(const CudaSink&) = delete;

  Status init() {
    const uint64_t bytes = group_bytes_ * slots_;
    SLIMRT_ASSIGN_OR_RETURN(ring_, cuda::PinnedBuffer::allocate(
                                       bytes, fmt::format("the pinned staging ring ({} x {} = {})", slots_,
                                                          mib(group_bytes_), mib(bytes))));
    SLIMRT_ASSIGN_OR_RETURN(stream_, cuda::Stream::create());
    for (cuda::Event& e : events_) {
      SLIMRT_ASSIGN_OR_RETURN(e, cuda::Event::create(cudaEventDisableTiming));
    }
    return Status::OK();
  }

  uint32_t slots() const override { return slots_; }
  uint8_t* buffer(uint64_t group) override {
    return static_cast<uint8_t*>(ring_.get()) + (group % slots_) * group_bytes_;
  }

  Status issue(uint64_t group, uint64_t begin, uint64_t n) override {
    const uint8_t* src = buffer(group);
    if (on_staged_) on_staged_(begin, src, n);
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(region_ + begin, src, n, cudaMemcpyHostToDevice, stream_.get()),
                                "copying weights to the device");
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(events_[group % slots_].get(), stream_.get()));
    return Status::OK();
  }

  Status wait(uint64_t group) override {
    return SLIMRT_CUDA(cudaEventSynchronize(events_[group % slots_].get()), "copying weights to the device");
  }

  Status finish() override {
    return SLIMRT_CUDA(cudaStreamSynchronize(stream_.get()), "copying weights to the device");
  }

 private:
  uint8_t* region_;
  uint64_t group_bytes_;
  uint32_t slots_;
  StagedFn on_staged_;
  cuda::PinnedBuffer ring_;
  cuda::Stream stream_;
  std::vector<cuda::Event> events_;
};

}  // namespace

Result<std::string> cuda_init(int device) {
  int count = 0;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count), "the cuda backend needs a GPU");
  if (device < 0 || device >= count)
    return invalid_argument(fmt::format("CUDA device {} does not exist: this machine has {} device(s)", device, count));
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  // Creates the primary context now, not inside the first load.
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaFree(nullptr), "creating the CUDA context");
  cudaDeviceProp prop{};
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  return fmt::format("sm_{}{}", prop.major, prop.minor);
}

Result<std::shared_ptr<void>> cuda_alloc_region(uint64_t bytes, uint64_t limit, const std::string& what) {
  size_t free_bytes = 0, total_bytes = 0;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (limit != 0 && bytes > limit)
    return out_of_memory(fmt::format("{}: the weights need {} bytes ({}) of device memory, over the limit of {} bytes "
                                     "(LoadOptions::max_device_bytes)",
                                     what, bytes, mib(bytes), limit));
  if (bytes > free_bytes)
    return out_of_memory(fmt::format("{}: the weights need {} bytes ({}) of device memory; the device has {} free of {}",
                                     what, bytes, mib(bytes), mib(free_bytes), mib(total_bytes)));
  SLIMRT_ASSIGN_OR_RETURN(cuda::DeviceBuffer region,
                          cuda::DeviceBuffer::allocate(bytes, fmt::format("{}: the weights region", what)));
  // Shared with every weight tensor that points into it; freed with the last of them.
  auto owner = std::make_shared<cuda::DeviceBuffer>(std::move(region));
  return std::shared_ptr<void>(owner, owner->get());
}

Result<std::unique_ptr<RegionSink>> make_cuda_sink(uint8_t* device_region, uint64_t group_bytes, uint32_t slots,
                                                   StagedFn on_staged) {
  auto sink = std::make_unique<CudaSink>(device_region, group_bytes, slots, std::move(on_staged));
  SLIMRT_RETURN_IF_ERROR(sink->init());
  return std::unique_ptr<RegionSink>(std::move(sink));
}

Status cuda_copy_to_host(void* host, const void* device, uint64_t bytes) {
  return SLIMRT_CUDA(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost));
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
