// Device destinations for the stream readers.
//
// Compiled always; the CUDA part only when slimrt is built with CUDA. Without it a device
// destination is kUnsupported. With it, the bytes go through two small pinned buffers: while one
// is copied to the device on the caller's stream, the reader fills the other. This is the simple,
// per-call path for a reader used on its own; the engine loader runs its own ring of large
// pinned buffers and several reader threads, and reads into host memory through read_at().
#include <fmt/format.h>

#include <algorithm>

#include "loader/stream_reader_internal.h"

#ifdef SLIMRT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace slimrt {
namespace stream_reader_detail {

#ifdef SLIMRT_HAVE_CUDA
namespace {

// Each of the two halves; a multiple of 4 KiB so O_DIRECT reads land in them directly.
constexpr uint64_t kStagingBytes = uint64_t{4} << 20;

Status cuda_error(const std::string& who, const char* what, cudaError_t err) {
  cudaGetLastError();  // clear a non-sticky error so that later CUDA calls are not poisoned
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) {
    return unsupported(fmt::format("{}: device destination needs a usable GPU: {} failed: {} ({})", who, what,
                                   cudaGetErrorName(err), cudaGetErrorString(err)));
  }
  return io_error(fmt::format("{}: {} failed: {} ({})", who, what, cudaGetErrorName(err), cudaGetErrorString(err)));
}

// Owns the pinned buffers and events. The destructor waits for the stream first: freeing a
// pinned buffer while a copy still reads it would be a use-after-free on the device side.
class Staging {
 public:
  explicit Staging(cudaStream_t stream) : stream_(stream) {}
  ~Staging() {
    if (pending_) cudaStreamSynchronize(stream_);
    for (int i = 0; i < 2; ++i) {
      if (events_[i] != nullptr) cudaEventDestroy(events_[i]);
      if (buffers_[i] != nullptr) cudaFreeHost(buffers_[i]);
    }
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  Status init(const std::string& who, uint64_t bytes) {
    for (int i = 0; i < 2; ++i) {
      cudaError_t err = cudaMallocHost(&buffers_[i], bytes);
      if (err != cudaSuccess) {
        buffers_[i] = nullptr;
        return cuda_error(who, "cudaMallocHost of the staging buffer", err);
      }
      err = cudaEventCreateWithFlags(&events_[i], cudaEventDisableTiming);
      if (err != cudaSuccess) {
        events_[i] = nullptr;
        return cuda_error(who, "cudaEventCreate", err);
      }
    }
    return Status::OK();
  }

  void* buffer(int i) const { return buffers_[i]; }
  cudaEvent_t event(int i) const { return events_[i]; }
  void mark_pending() { pending_ = true; }
  void mark_done() { pending_ = false; }

 private:
  cudaStream_t stream_;
  void* buffers_[2] = {nullptr, nullptr};
  cudaEvent_t events_[2] = {nullptr, nullptr};
  bool pending_ = false;
};

}  // namespace

Status read_into_device(const std::string& who, void* dst, uint64_t bytes, void* stream, const HostFill& fill) {
  if (bytes == 0) return Status::OK();
  auto* cuda_stream = static_cast<cudaStream_t>(stream);
  Staging staging(cuda_stream);
  SLIMRT_RETURN_IF_ERROR(staging.init(who, std::min(bytes, kStagingBytes)));
  auto* out = static_cast<char*>(dst);
  uint64_t done = 0;
  for (int i = 0; done < bytes; i ^= 1) {
    const uint64_t n = std::min(bytes - done, kStagingBytes);
    // The copy issued from this buffer two pieces ago must finish before it is refilled.
    cudaError_t err = cudaEventSynchronize(staging.event(i));
    if (err != cudaSuccess) return cuda_error(who, "cudaEventSynchronize", err);
    SLIMRT_RETURN_IF_ERROR(fill(staging.buffer(i), done, n));
    err = cudaMemcpyAsync(out + done, staging.buffer(i), n, cudaMemcpyHostToDevice, cuda_stream);
    if (err != cudaSuccess) return cuda_error(who, fmt::format("cudaMemcpyAsync of {} bytes at +{}", n, done).c_str(), err);
    staging.mark_pending();
    err = cudaEventRecord(staging.event(i), cuda_stream);
    if (err != cudaSuccess) return cuda_error(who, "cudaEventRecord", err);
    done += n;
  }
  cudaError_t err = cudaStreamSynchronize(cuda_stream);
  staging.mark_done();
  if (err != cudaSuccess) return cuda_error(who, "cudaStreamSynchronize", err);
  return Status::OK();
}

Status copy_host_to_device(const std::string& who, void* dst, const void* src, uint64_t bytes, void* stream) {
  if (bytes == 0) return Status::OK();
  auto* cuda_stream = static_cast<cudaStream_t>(stream);
  // From pageable memory the driver stages the copy itself; the synchronize makes the bytes
  // visible (and the source free to reuse) when read() returns, as for every other reader.
  cudaError_t err = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_stream);
  if (err != cudaSuccess) return cuda_error(who, fmt::format("cudaMemcpyAsync of {} bytes", bytes).c_str(), err);
  err = cudaStreamSynchronize(cuda_stream);
  if (err != cudaSuccess) return cuda_error(who, "cudaStreamSynchronize", err);
  return Status::OK();
}

#else  // !SLIMRT_HAVE_CUDA

Status read_into_device(const std::string& who, void* /*dst*/, uint64_t /*bytes*/, void* /*stream*/,
                        const HostFill& /*fill*/) {
  return unsupported(fmt::format("{}: device destination needs the CUDA loader (slimrt was built without CUDA)", who));
}

Status copy_host_to_device(const std::string& who, void* /*dst*/, const void* /*src*/, uint64_t /*bytes*/,
                           void* /*stream*/) {
  return unsupported(fmt::format("{}: device destination needs the CUDA loader (slimrt was built without CUDA)", who));
}

#endif

}  // namespace stream_reader_detail
}  // namespace slimrt
