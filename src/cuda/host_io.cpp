// An execution context's host bindings and their copies (src/cuda/host_io.h).
#include "cuda/host_io.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace slimrt::cuda {

namespace {

std::string location_text(BufferLocation where) {
  switch (where) {
    case BufferLocation::kDevice: return "device memory";
    case BufferLocation::kPinned: return "pinned host memory";
    case BufferLocation::kPageable: return "pageable host memory";
    default: return std::string(buffer_location_name(where));
  }
}

}  // namespace

// Runs on the CUDA driver's callback thread, in stream order: no CUDA calls here.
void CUDART_CB HostIo::run_task(void* p) {
  const Task* t = static_cast<const Task*>(p);
  std::memcpy(t->dst, t->src, t->bytes);
}

HostIo::HostIo(const std::vector<HostIoTensor>& inputs, const std::vector<HostIoTensor>& outputs, uint64_t staging_bytes,
               uint32_t staging_slots)
    : inputs_(inputs.size()), outputs_(outputs.size()), ring_bytes_(staging_bytes),
      num_slots_(std::max<uint32_t>(staging_slots, 2)) {
  slot_bytes_ = std::max<uint64_t>(ring_bytes_ / num_slots_ / 256 * 256, 256);
  for (size_t k = 0; k < inputs.size(); ++k) {
    inputs_[k].what = inputs[k].what;
    inputs_[k].max_bytes = inputs[k].max_bytes;
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    outputs_[k].what = outputs[k].what;
    outputs_[k].max_bytes = outputs[k].max_bytes;
  }
}

HostIo::~HostIo() {
  // Host functions still queued read the task arrays and the ring: let them finish first.
  if (side_) SLIMRT_CUDA_IGNORE(cudaStreamSynchronize(side_.get()));
}

bool HostIo::reads_inputs_in_place() const {
  return std::any_of(inputs_.begin(), inputs_.end(), [](const Slot& s) {
    return s.where == BufferLocation::kDevice || s.where == BufferLocation::kMapped;
  });
}

bool HostIo::stages_pageable() const {
  auto pageable = [](const Slot& s) { return s.where == BufferLocation::kPageable; };
  return std::any_of(inputs_.begin(), inputs_.end(), pageable) || std::any_of(outputs_.begin(), outputs_.end(), pageable);
}

Status HostIo::ensure_ring() {
  if (ring_.get()) return Status::OK();
  SLIMRT_ASSIGN_OR_RETURN(ring_, PinnedBuffer::allocate(slot_bytes_ * num_slots_, "the pageable staging ring"));
  SLIMRT_ASSIGN_OR_RETURN(side_, Stream::create());
  ready_.clear();
  free_.clear();
  for (uint32_t r = 0; r < num_slots_; ++r) {
    SLIMRT_ASSIGN_OR_RETURN(Event a, Event::create(cudaEventDisableTiming));
    SLIMRT_ASSIGN_OR_RETURN(Event b, Event::create(cudaEventDisableTiming));
    ready_.push_back(std::move(a));
    free_.push_back(std::move(b));
  }
  for (Event& e : generation_done_) {
    SLIMRT_ASSIGN_OR_RETURN(e, Event::create(cudaEventDisableTiming));
  }
  return Status::OK();
}

Result<void*> HostIo::bind(IoSide side, size_t k, void* ptr, BufferLocation where, uint64_t capacity) {
  Slot& s = slot(side, k);
  const std::string& what = s.what;
  const uint64_t max_bytes = s.max_bytes;
  if (ptr == nullptr) {
    s.where = BufferLocation::kDevice;
    s.host = nullptr;
    s.capacity = 0;
    return static_cast<void*>(nullptr);
  }
  SLIMRT_ASSIGN_OR_RETURN(const BufferLocation found, locate_buffer(ptr));
  if (where == BufferLocation::kAuto) where = found;
  auto mismatch = [&](const char* hint) {
    return invalid_argument(fmt::format("{}: bound as {} memory, but the address is {}; {}", what,
                                        buffer_location_name(where), location_text(found), hint));
  };
  switch (where) {
    case BufferLocation::kDevice:
      if (found != BufferLocation::kDevice)
        return mismatch("bind it as BufferLocation::kPinned or kPageable (or kAuto), and enqueue copies it");
      break;
    case BufferLocation::kPinned:
      if (found != BufferLocation::kPinned)
        return mismatch(found == BufferLocation::kDevice ? "bind it as BufferLocation::kDevice"
                                                         : "pin it (HostRegistration::pin) or bind it as kPageable");
      break;
    case BufferLocation::kMapped:
      if (found != BufferLocation::kPinned)
        return mismatch("mapped memory is pinned memory allocated or registered as mapped (HostBuffer::allocate(bytes, true))");
      break;
    case BufferLocation::kPageable:
      if (found == BufferLocation::kDevice) return mismatch("bind it as BufferLocation::kDevice");
      break;
    case BufferLocation::kAuto: break;
  }
  void* device = ptr;
  if (where == BufferLocation::kMapped) {
    if (Status s = SLIMRT_CUDA(cudaHostGetDevicePointer(&device, ptr, 0)); !s.ok())
      return invalid_argument(fmt::format("{}: bound as mapped memory, but this pinned memory is not mapped into the "
                                          "device (allocate it with HostBuffer::allocate(bytes, /*mapped=*/true) or "
                                          "register it mapped); or bind it as kPinned ({})",
                                          what, s.message()));
  }
  if (where == BufferLocation::kPinned || where == BufferLocation::kPageable) {
    if (max_bytes == 0)
      return invalid_argument(fmt::format("{}: its size depends on input values, so it cannot be bound to host memory "
                                          "(the device copy is sized once); bind device memory",
                                          what));
    if (s.copy.bytes() < max_bytes) {
      s.copy.reset();
      SLIMRT_ASSIGN_OR_RETURN(s.copy, DeviceBuffer::allocate(max_bytes, what + "'s device copy"));
    }
    device = s.copy.get();
  }
  if (where == BufferLocation::kPageable) {
    SLIMRT_RETURN_IF_ERROR(ensure_ring());
    const size_t chunks = static_cast<size_t>((max_bytes + slot_bytes_ - 1) / slot_bytes_);
    for (auto& t : s.tasks) {
      if (t.size() < chunks) {
        // A generation in flight may still read these: wait for both before growing them.
        for (int g = 0; g < 2; ++g) {
          if (generation_used_[static_cast<size_t>(g)])
            SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(generation_done_[static_cast<size_t>(g)].get()));
        }
        t.resize(chunks);
      }
    }
  }
  s.where = where;
  s.host = ptr;
  s.capacity = capacity;
  return device;
}

Status HostIo::set_bytes(IoSide side, size_t k, uint64_t bytes) {
  Slot& s = slot(side, k);
  if (s.capacity != 0 && bytes > s.capacity)
    return invalid_argument(fmt::format("{}: {} bytes at the current shapes, but the buffer bound to it holds {}",
                                        s.what, bytes, s.capacity));
  s.bytes = bytes;
  return Status::OK();
}

Status HostIo::begin_generation() {
  if (generation_open_) {
    // The previous enqueue failed between its copies: let its host functions drain.
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(side_.get()));
  }
  generation_ ^= 1;
  const auto g = static_cast<size_t>(generation_);
  if (generation_used_[g]) SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(generation_done_[g].get()));
  generation_open_ = true;
  side_used_ = false;
  return Status::OK();
}

Status HostIo::stage(Slot& s, IoSide side, cudaStream_t stream) {
  std::vector<Task>& tasks = s.tasks[static_cast<size_t>(generation_)];
  auto* ring = static_cast<uint8_t*>(ring_.get());
  auto* copy = static_cast<uint8_t*>(s.copy.get());
  auto* host = static_cast<uint8_t*>(s.host);
  const uint64_t chunks = (s.bytes + slot_bytes_ - 1) / slot_bytes_;
  for (uint64_t c = 0; c < chunks; ++c) {
    const uint64_t off = c * slot_bytes_;
    const uint64_t n = std::min(slot_bytes_, s.bytes - off);
    const uint32_t r = next_slot_;
    next_slot_ = (next_slot_ + 1) % num_slots_;
    uint8_t* slot = ring + static_cast<uint64_t>(r) * slot_bytes_;
    Task& t = tasks[static_cast<size_t>(c)];
    cudaEvent_t ready = ready_[r].get(), free = free_[r].get();
    if (side == IoSide::kInput) {
      t = {slot, host + off, n};
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side_.get(), free, 0));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaLaunchHostFunc(side_.get(), run_task, &t));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(ready, side_.get()));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, ready, 0));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(copy + off, slot, n, cudaMemcpyHostToDevice, stream));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(free, stream));
    } else {
      t = {host + off, slot, n};
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, free, 0));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(slot, copy + off, n, cudaMemcpyDeviceToHost, stream));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(ready, stream));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side_.get(), ready, 0));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaLaunchHostFunc(side_.get(), run_task, &t));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(free, side_.get()));
    }
  }
  side_used_ = side_used_ || chunks > 0;
  return Status::OK();
}

Status HostIo::copy_in(cudaStream_t stream, uint64_t* bytes_moved) {
  bool staged = false;
  for (Slot& s : inputs_) {
    if (s.bytes == 0) continue;
    if (s.where == BufferLocation::kPinned) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.copy.get(), s.host, s.bytes, cudaMemcpyHostToDevice, stream));
    } else if (s.where == BufferLocation::kPageable) {
      if (!staged) SLIMRT_RETURN_IF_ERROR(begin_generation());
      staged = true;
      SLIMRT_RETURN_IF_ERROR(stage(s, IoSide::kInput, stream));
    } else {
      continue;
    }
    *bytes_moved += s.bytes;
  }
  return Status::OK();
}

Status HostIo::copy_out(cudaStream_t stream, uint64_t* bytes_moved) {
  for (Slot& s : outputs_) {
    if (s.bytes == 0) continue;
    if (s.where == BufferLocation::kPinned) {
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.host, s.copy.get(), s.bytes, cudaMemcpyDeviceToHost, stream));
    } else if (s.where == BufferLocation::kPageable) {
      if (!generation_open_) SLIMRT_RETURN_IF_ERROR(begin_generation());
      SLIMRT_RETURN_IF_ERROR(stage(s, IoSide::kOutput, stream));
    } else {
      continue;
    }
    *bytes_moved += s.bytes;
  }
  if (!generation_open_) return Status::OK();
  // The generation ends: its task arrays are free once the side stream gets here, and the
  // caller's stream completes only after the last host copy.
  const auto g = static_cast<size_t>(generation_);
  generation_open_ = false;
  if (!side_used_) return Status::OK();
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(generation_done_[g].get(), side_.get()));
  generation_used_[g] = true;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, generation_done_[g].get(), 0));
  return Status::OK();
}

}  // namespace slimrt::cuda
