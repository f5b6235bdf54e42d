// slimrt/context.h: running a loaded engine on the GPU, on TensorRT's engine/context model.
//
//   auto rt = Runtime::create({.backend = "cuda"});
//   std::shared_ptr<Engine> engine = (*rt)->load_file("bert.engine").value();
//   auto ctx = ExecutionContext::create(engine).value();      // owns its activation arena
//   ctx->set_input_shape("input_ids", {8, 128});
//   ctx->set_tensor_address("input_ids", d_ids);              // device buffers, yours
//   ctx->set_tensor_address("logits", d_logits);
//   Status s = ctx->enqueue(stream);                          // async; no allocation, no sync
//
// The engine is immutable and owns the weights; any number of contexts share it. A context owns
// the activation memory the builder planned for one optimization profile: one arena holding every
// intermediate tensor at the profile's max shapes, plus one workspace shared by the kernels
// (cuBLASLt, cuDNN). The arena is allocated once at create() — or, with
// ContextOptions::allocate_device_memory = false, supplied by you through set_device_memory(), so
// that contexts that never run at the same time can share one block. Running never grows it.
//
// Shapes. set_input_shape() checks the dims against the profile (a shape outside every profile is
// refused, naming the input, the dim and the profile's range). When the input shapes change,
// the next enqueue (or resolve_shapes()/tensor_shape()) resolves every tensor's shape and prepares
// the kernels for them; that result is cached per input-shape set (LRU, max_cached_shapes), so
// returning to a shape seen before costs a lookup.
//
// enqueue(stream) then makes no device allocation, no host allocation and no synchronisation.
// With cuda_graphs on (the default), the first enqueue of a shape runs eagerly (warm-up), the
// second captures the work into a CUDA graph, and later ones replay it with one launch. Graphs
// are cached per input-shape set, at most max_cuda_graphs (LRU). Binding other buffers (a
// rotating set, or a framework's fresh tensor per call) does not capture again: the graph's
// nodes that hold the moved addresses are re-pointed in place (ContextStats::graph_updates; a
// few microseconds), provided each new address is at least as aligned as the one captured (up
// to 256 bytes: cudaMalloc's are). Otherwise, or with update_graph_addresses off, a graph is
// captured per address set as well. The capture runs
// on a non-blocking stream the context owns and the graph is launched on the caller's stream, so a
// capture is never broken by another thread using the legacy default stream. When the stream is
// already being captured by the caller, enqueue records its work into the caller's capture.
//
// Host memory. set_tensor_address(name, ptr, where, capacity) binds an input or output to device
// memory, pinned host memory (HostBuffer, HostRegistration: slimrt/host_memory.h), mapped host
// memory or ordinary pageable host memory, and enqueue moves the data itself:
//   ctx->set_tensor_address("image", frame.data(), BufferLocation::kPinned, frame.size());
//   ctx->set_tensor_address("classes", numpy_ptr, BufferLocation::kPageable, n_bytes);
//   ctx->set_input_consumed_event(consumed);   // recorded once the inputs may be refilled
//   ctx->enqueue(stream);                      // H2D copies, compute, D2H copies, in stream order
//   cudaStreamSynchronize(stream);             // the classes are in numpy_ptr
//  - pinned: one cudaMemcpyAsync each way between the caller's buffer and a device copy the
//    context keeps per tensor (sized once, at the first such binding, for the profile's max);
//  - pageable: staged through a pinned ring the context owns (ContextOptions::staging_bytes,
//    allocated at the first pageable binding): a CUDA host function copies each chunk between
//    the caller's memory and a ring slot on a stream of the context's, overlapping the DMA of the
//    previous chunk on the caller's stream, so enqueue stays asynchronous and a tensor larger than
//    the ring streams through it;
//  - mapped: the kernels read and write the caller's buffer in place across PCIe (no copy);
//  - device: as before, in place.
// kAuto asks the driver (device, pinned or pageable; mapped is never guessed). The copies are
// stream-ordered work around the CUDA graph of the compute, which reads the device copies, so
// rebinding host buffers never captures a graph again. The caller's pageable buffers must stay
// valid until the stream reaches the end of the enqueue; inputs may be refilled once the
// input-consumed event has completed. Nothing is allocated per enqueue.
// Errors name the tensor: memory of another kind than stated (host memory bound as kDevice,
// pageable memory as kPinned or kMapped), a capacity smaller than the tensor at the current
// shapes (checked at enqueue), an output whose size depends on input values bound to host memory.
//
// Threads: a context is used by one thread at a time; several contexts of one engine may run
// at once on different streams from different threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/backend.h"
#include "slimrt/host_memory.h"
#include "slimrt/runtime.h"
#include "slimrt/status.h"

struct CUstream_st;
struct CUevent_st;

namespace slimrt {

using CudaStream = CUstream_st*;  // cudaStream_t
using CudaEvent = CUevent_st*;    // cudaEvent_t

struct ContextOptions {
  uint32_t profile = 0;
  // false: no arena is allocated; call set_device_memory() before enqueue.
  bool allocate_device_memory = true;
  bool cuda_graphs = true;
  uint32_t max_cuda_graphs = 16;
  // Re-point a captured graph at newly bound addresses instead of capturing another (see above).
  bool update_graph_addresses = true;
  uint32_t max_cached_shapes = 32;
  // Scratch shared by the kernels, part of device_memory_size().
  uint64_t workspace_bytes = uint64_t{32} << 20;
  // The pinned ring pageable bindings are staged through: staging_slots slots of
  // staging_bytes / staging_slots bytes each (allocated at the first pageable binding).
  uint64_t staging_bytes = uint64_t{16} << 20;
  uint32_t staging_slots = 4;
};

// One node's GPU time, from ExecutionContext::profile_layers.
struct LayerTime {
  std::string name;
  std::string op_type;
  double median_ms = 0;
};

struct ContextStats {
  uint64_t enqueues = 0;
  uint64_t eager_enqueues = 0;
  uint64_t graph_captures = 0;
  uint64_t graph_launches = 0;
  uint64_t graph_updates = 0;      // graphs re-pointed at new addresses instead of captured
  uint64_t shape_resolutions = 0;  // cache misses
  uint64_t bytes_to_device = 0;    // copied from host bindings (pinned and pageable)
  uint64_t bytes_to_host = 0;      // copied to host bindings
};

class ExecutionContext {
 public:
  // kUnsupported when the engine was not loaded on the CUDA backend; kInvalidArgument for a
  // profile the engine does not have; kOutOfMemory (bytes requested and free) for the arena.
  static Result<std::unique_ptr<ExecutionContext>> create(std::shared_ptr<const Engine> engine,
                                                          const ContextOptions& options = {});
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;

  const Engine& engine() const;
  // Bytes of device memory the context needs (arena + workspace), 256-byte aligned.
  uint64_t device_memory_size() const;
  // Bytes of that which are activations.
  uint64_t activation_bytes() const;
  // Uses `ptr` (device memory, >= device_memory_size() bytes, 256-byte aligned) as the arena;
  // replaces an owned arena (which is freed). Its content is not preserved between enqueues.
  Status set_device_memory(void* ptr, uint64_t bytes);

  Status set_input_shape(std::string_view name, const std::vector<int64_t>& dims);
  // Host inputs (TensorRT's shape tensors): small inputs (at most 64 elements at the profile's
  // max) whose values are kernel parameters rather than data: Clip's bounds, Trilu's k, CumSum's
  // axis, ReduceSum's axes, TopK's K, Dropout's training_mode, given as graph inputs. Their
  // address is host memory; enqueue reads it each time (a few bytes compared) and resolves the
  // kernels again when the values change, caching them like a new shape set. Engine::io_tensors()
  // describes the same inputs (IoTensor::is_host_input) before any context exists.
  bool is_host_input(std::string_view name) const;
  // Binds a graph input or output to memory at `ptr` (see "Host memory" above; a host input
  // takes host memory, read on the host). `capacity`: the bytes available at ptr, checked at each
  // enqueue against the tensor's size (0: not known, not checked). Outputs not bound stay in the
  // arena (see output_address()). The two-argument form is kAuto with no capacity.
  Status set_tensor_address(std::string_view name, void* ptr, BufferLocation where, uint64_t capacity = 0);
  Status set_tensor_address(std::string_view name, void* ptr) {
    return set_tensor_address(name, ptr, BufferLocation::kAuto, 0);
  }
  // Where `name` is bound now (kDevice when it is not bound).
  BufferLocation tensor_location(std::string_view name) const;
  // Events (cudaEvent_t, or null to stop) that enqueue records on its stream: once no input
  // buffer is read any more (after the copies of host-bound inputs; after the compute when an
  // input is read in place from device or mapped memory), and once the outputs are computed,
  // before they are copied to host bindings.
  Status set_input_consumed_event(CudaEvent event);
  Status set_outputs_computed_event(CudaEvent event);
  // Resolves shapes for the current input shapes (enqueue does this when needed).
  Status resolve_shapes();
  // The dims of an input or output at the current input shapes.
  Result<std::vector<int64_t>> tensor_shape(std::string_view name);
  // Where output `name` is written: its bound address, or its slot in the arena.
  Result<const void*> output_address(std::string_view name);

  Status enqueue(CudaStream stream);

  // Convenience (tests, CLI): copies host (or device) inputs in, runs on the context's own
  // stream, copies the outputs back to host tensors and synchronises. Allocates per call.
  Status run(const std::vector<NamedTensor>& inputs, std::vector<NamedTensor>* outputs, bool poison = false);

  // Profiling (slimrt bench --profile; not a hot path: it allocates and synchronises). Runs the
  // current shapes eagerly `iterations` times on `stream` with a CUDA event between every two
  // launches, and returns each launch's median time in launch order.
  Result<std::vector<LayerTime>> profile_layers(CudaStream stream, int iterations);

  const ContextStats& stats() const;

 private:
  struct Impl;
  explicit ExecutionContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slimrt
