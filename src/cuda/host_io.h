// An execution context's host bindings (include/slimrt/context.h, "Host memory"): which of its
// inputs and outputs live in pinned, mapped or pageable host memory, the device copy each copied
// tensor keeps, the pinned ring pageable memory is staged through, and the stream-ordered copies
// enqueue issues around the compute. Host-only header.
//
//   HostIo io({{"input 'image'", max_bytes}}, {{"output 'y'", 0}}, staging_bytes, staging_slots);
//   void* device_addr = io.bind(IoSide::kInput, 0, ptr, where, capacity).value();
//   io.set_bytes(IoSide::kInput, 0, bytes_now);             // at each enqueue (no allocation)
//   io.copy_in(stream, &moved); ...compute...; io.copy_out(stream, &moved);
//
// Pageable staging. The ring has S slots. Each chunk of a pageable tensor takes the next slot:
// an input chunk is copied by a CUDA host function (memcpy on the driver's callback thread) from
// the caller's memory into the slot on the context's side stream, then by DMA from the slot to the
// device copy on the caller's stream; an output chunk goes the other way. Two events per slot
// order the slot's writer after its previous reader (`free`) and its reader after its writer
// (`ready`), so the memcpy of chunk k+1 overlaps the DMA of chunk k, and no slot is overwritten
// before it is drained. The host functions read their (dst, src, bytes) from task arrays sized at
// bind time; two generations of them alternate between enqueues, and an enqueue waits (on the
// host) only if the generation it needs is still being executed by the enqueue before the last.
// At the end the caller's stream waits for the side stream, so a stream synchronize means the
// outputs are in the caller's memory.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/device_resources.h"
#include "slimrt/host_memory.h"
#include "slimrt/status.h"

namespace slimrt::cuda {

enum class IoSide : uint8_t { kInput, kOutput };

// One graph input or output as HostIo sees it: its name in errors ("input 'image'") and its bytes
// at the profile's largest shapes (0 when its size follows input values: it cannot be bound to
// host memory).
struct HostIoTensor {
  std::string what;
  uint64_t max_bytes = 0;
};

class HostIo {
 public:
  HostIo(const std::vector<HostIoTensor>& inputs, const std::vector<HostIoTensor>& outputs, uint64_t staging_bytes,
         uint32_t staging_slots);
  ~HostIo();
  HostIo(const HostIo&) = delete;
  HostIo& operator=(const HostIo&) = delete;

  // Checks `where` against what the driver says `ptr` is (kAuto: takes that), allocates the
  // tensor's device copy at its first pinned or pageable binding (its max_bytes), the staging ring
  // at the first pageable one, and returns the device address the kernels use: ptr itself
  // (device), its mapped device address, or the device copy.
  Result<void*> bind(IoSide side, size_t k, void* ptr, BufferLocation where, uint64_t capacity);
  BufferLocation location(IoSide side, size_t k) const { return slot(side, k).where; }
  const std::string& what(IoSide side, size_t k) const { return slot(side, k).what; }
  // Whether any input is read in place (device or mapped memory) rather than copied.
  bool reads_inputs_in_place() const;
  bool stages_pageable() const;

  // The bytes of tensor k at the current shapes, before copy_in/copy_out; kInvalidArgument naming
  // the tensor when they exceed the capacity bound with it.
  Status set_bytes(IoSide side, size_t k, uint64_t bytes);
  // The copies of the bound host inputs into their device copies, on `stream` (nothing for the
  // tensors read in place).
  Status copy_in(cudaStream_t stream, uint64_t* bytes_moved);
  // The copies of the device copies to the bound host outputs, on `stream`, and the join.
  Status copy_out(cudaStream_t stream, uint64_t* bytes_moved);

 private:
  struct Task {
    void* dst = nullptr;
    const void* src = nullptr;
    uint64_t bytes = 0;
  };
  struct Slot {
    std::string what;        // "input 'image'"
    uint64_t max_bytes = 0;  // the device copy's size
    BufferLocation where = BufferLocation::kDevice;
    void* host = nullptr;    // the caller's buffer (host locations)
    uint64_t capacity = 0;   // 0: unknown
    uint64_t bytes = 0;      // at the current shapes
    DeviceBuffer copy;       // pinned and pageable: the device copy the kernels use
    std::array<std::vector<Task>, 2> tasks;  // pageable: one per chunk, per generation
  };
  static void CUDART_CB run_task(void* task);
  const Slot& slot(IoSide side, size_t k) const { return side == IoSide::kInput ? inputs_[k] : outputs_[k]; }
  Slot& slot(IoSide side, size_t k) { return side == IoSide::kInput ? inputs_[k] : outputs_[k]; }
  Status ensure_ring();
  Status begin_generation();
  Status stage(Slot& s, IoSide side, cudaStream_t stream);

  std::vector<Slot> inputs_, outputs_;
  uint64_t ring_bytes_ = 0;
  uint32_t num_slots_ = 0;
  uint64_t slot_bytes_ = 0;
  PinnedBuffer ring_;
  Stream side_;
  std::vector<Event> ready_, free_;  // per ring slot
  std::array<Event, 2> generation_done_;
  std::array<bool, 2> generation_used_{false, false};
  int generation_ = 0;
  bool generation_open_ = false;
  uint32_t next_slot_ = 0;
  bool side_used_ = false;  // this enqueue put work on the side stream
};

}  // namespace slimrt::cuda
