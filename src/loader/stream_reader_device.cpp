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

#include "cuda/check.h"
#include "cuda/device_resources.h"
#endif

namespace slimrt {
namespace stream_reader_detail {

#ifdef SLIMRT_HAVE_CUDA
namespace {

// Each of the two halves; a multiple of 4 KiB so O_DIRECT reads land in them directly.
constexpr uint64_t kStagingBytes = uint64_t{4} << 20;

// `who` (the reader) says whose read failed; without a usable GPU the message also says what the
// read needed.
Status device_error(const std::string& who, const Status& s) {
  if (s.code() == StatusCode::kUnsupported) return s.with_context(who + ": device destination needs a usable GPU");
  return s.with_context(who);
}

// Owns the pinned buffers and events. The destructor waits for the stream first: freeing a
// pinned buffer while a copy still reads it would be a use-after-free on the device side.
class Staging {
 public:
  explicit Staging(cudaStream_t stream) : stream_(stream) {}
  ~Staging() {
    if (pending_) SLIMRT_CUDA_IGNORE(cudaStreamSynchronize(stream_));
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  Status init(const std::string& who, uint64_t bytes) {
    for (int i = 0; i < 2; ++i) {
      Result<cuda::PinnedBuffer> buffer = cuda::PinnedBuffer::allocate(bytes, "a staging buffer");
      if (!buffer.ok()) return device_error(who, buffer.status());
      buffers_[i] = std::move(buffer).value();
      Result<cuda::Event> event = cuda::Event::create(cudaEventDisableTiming);
      if (!event.ok()) return device_error(who, event.status());
      events_[i] = std::move(event).value();
    }
    return Status::OK();
  }

  void* buffer(int i) const { return buffers_[i].get(); }
  cudaEvent_t event(int i) const { return events_[i].get(); }
  void mark_pending() { pending_ = true; }
  void mark_done() { pending_ = false; }

 private:
  cudaStream_t stream_;
  cuda::PinnedBuffer buffers_[2];
  cuda::Event events_[2];
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
    if (Status s = SLIMRT_CUDA(cudaEventSynchronize(staging.event(i))); !s.ok()) return device_error(who, s);
    SLIMRT_RETURN_IF_ERROR(fill(staging.buffer(i), done, n));
    if (Status s = SLIMRT_CUDA(cudaMemcpyAsync(out + done, staging.buffer(i), n, cudaMemcpyHostToDevice, cuda_stream),
                               fmt::format("copying {} bytes at +{}", n, done));
        !s.ok())
      return device_error(who, s);
    staging.mark_pending();
    if (Status s = SLIMRT_CUDA(cudaEventRecord(staging.event(i), cuda_stream)); !s.ok()) return device_error(who, s);
    done += n;
  }
  const Status s = SLIMRT_CUDA(cudaStreamSynchronize(cuda_stream));
  staging.mark_done();
  return s.ok() ? s : device_error(who, s);
}

Status copy_host_to_device(const std::string& who, void* dst, const void* src, uint64_t bytes, void* stream) {
  if (bytes == 0) return Status::OK();
  auto* cuda_stream = static_cast<cudaStream_t>(stream);
  // From pageable memory the driver stages the copy itself; the synchronize makes the bytes
  // visible (and the source free to reuse) when read() returns, as for every other reader.
  if (Status s = SLIMRT_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_stream),
                             fmt::format("copying {} bytes", bytes));
      !s.ok())
    return device_error(who, s);
  const Status s = SLIMRT_CUDA(cudaStreamSynchronize(cuda_stream));
  return s.ok() ? s : device_error(who, s);
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
