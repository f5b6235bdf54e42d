// slimrt/host_memory.h: host memory the GPU reaches at full speed, and how a buffer bound to an
// engine tensor is told apart (runtime).
//
//   HostBuffer frame = HostBuffer::allocate(1600 * 2560 * 3).value();      // pinned (cudaHostAlloc)
//   ctx->set_tensor_address("image", frame.data(), BufferLocation::kPinned, frame.size());
//   HostRegistration pin = HostRegistration::pin(my_vec.data(), bytes).value();  // cudaHostRegister
//   BufferLocation where = locate_buffer(ptr).value();   // what the CUDA driver says ptr is
//
// Pageable host memory (malloc, numpy) crosses PCIe at 3-14 GB/s on the H100 machine, pinned
// memory at 51-55 GB/s (docs/results.md): bind pinned memory for large inputs and outputs.
// Mapped memory is pinned memory the GPU's kernels read and write in place across PCIe, with no
// copy: worth it for data touched once (a camera frame an InputConvert reads once).
#pragma once

#include <cstdint>
#include <string_view>

#include "slimrt/status.h"

namespace slimrt {

// Where a buffer bound with ExecutionContext::set_tensor_address lives.
enum class BufferLocation : uint8_t {
  kAuto,      // ask the CUDA driver: device (and managed) memory, pinned host memory or pageable
  kDevice,    // device memory (or managed): kernels read and write it in place
  kPinned,    // page-locked host memory: copied by DMA inside enqueue
  kMapped,    // page-locked host memory mapped into the device: kernels access it in place
  kPageable,  // ordinary host memory: staged through the context's pinned ring inside enqueue
};
// "auto", "device", "pinned", "mapped", "pageable".
std::string_view buffer_location_name(BufferLocation where);

// What `ptr` is, as the CUDA driver reports it: kDevice (device or managed memory), kPinned
// (page-locked host memory, mapped or not) or kPageable (anything else). kUnsupported without a
// usable CUDA device.
Result<BufferLocation> locate_buffer(const void* ptr);

// Page-locked host memory, freed when the object goes. Move-only.
class HostBuffer {
 public:
  // `mapped`: also mapped into the device's address space (bind it as kMapped or kPinned).
  // kOutOfMemory naming the bytes when the allocation fails.
  static Result<HostBuffer> allocate(uint64_t bytes, bool mapped = false);
  HostBuffer() = default;
  ~HostBuffer();
  HostBuffer(HostBuffer&& o) noexcept;
  HostBuffer& operator=(HostBuffer&& o) noexcept;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  void* data() const { return data_; }
  uint64_t size() const { return size_; }
  bool mapped() const { return mapped_; }

 private:
  void* data_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
};

// Memory the caller already has, page-locked (cudaHostRegister) until the object goes. The
// memory must outlive it. Move-only.
class HostRegistration {
 public:
  // kInvalidArgument for a null or empty range or one already registered; the driver's error
  // otherwise.
  static Result<HostRegistration> pin(void* ptr, uint64_t bytes, bool mapped = false);
  HostRegistration() = default;
  ~HostRegistration();
  HostRegistration(HostRegistration&& o) noexcept;
  HostRegistration& operator=(HostRegistration&& o) noexcept;
  HostRegistration(const HostRegistration&) = delete;
  HostRegistration& operator=(const HostRegistration&) = delete;

  void* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace slimrt
