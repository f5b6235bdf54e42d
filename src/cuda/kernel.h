// CUDA kernels: the interface every op implements, and the registry that finds them.
//
// A kernel has two halves, split by WHEN they run:
//
//   prepare   (host, once per input-shape set; may allocate, query cuBLASLt/cuDNN heuristics,
//              build descriptors)      KernelDef::create(const PrepareArgs&) -> unique_ptr<Kernel>
//   enqueue   (hot path, every run)    Kernel::enqueue(const LaunchArgs&)
//
// The execution context (src/cuda/program.h) resolves shapes for the whole graph when the input
// shapes change, calls `create` for every node with concrete dims baked in, and keeps the Kernel
// objects in a per-shape cache. `enqueue` then only launches work on args.stream: it allocates
// nothing (host or device), never synchronises, and must be capturable into a CUDA graph. It
// receives device pointers only; everything shape-dependent was computed in `create`.
//
// Memory. Inputs and outputs live in the context's planned arena, in user-bound buffers, or in
// the engine's weights region; kernels never own device memory. A kernel that needs scratch
// reports workspace_bytes() (at most PrepareArgs::workspace_limit) and receives that much at
// LaunchArgs::workspace (shared by all nodes; nodes run in order on one stream). Outputs are
// poisoned before the run in tests: write every element.
//
// Host-known values. Shape-like inputs (Reshape's shape, Slice's starts, TopK's k, Resize's
// sizes, ...) are read on the host at prepare time from TensorInfo::host, which holds them when
// they are constants (engine host mirrors) or were computed from shapes alone. A KernelDef lists
// such inputs in `host_inputs`; the context rejects the node (naming it) if one is not known.
//
// Files. One family per file under src/cuda/kernels/ (elementwise*.cu, reduction*.cu, ...),
// each defining register_<family>_kernels(KernelRegistry&). Device code stays in .cu files;
// host-only .cpp files never include .cuh headers.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cuda/check.h"
#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

// Opaque library handles (the typedefs match cublasLt.h and cudnn.h), so this header does not
// pull in those libraries' headers.
struct cublasLtContext;
typedef struct cublasLtContext* cublasLtHandle_t;
struct cudnnContext;
typedef struct cudnnContext* cudnnHandle_t;

namespace slimrt::cuda {

inline constexpr int kMaxRank = 8;

// One input or output of a node at prepare time.
struct TensorInfo {
  DataType dtype = DataType::kUndefined;  // kUndefined: an omitted optional input
  std::vector<int64_t> dims;
  // Host copy of the data when known before the run (constants mirrored on the host, values
  // computed from shapes alone); nullptr otherwise. Always set for `host_inputs`.
  const Tensor* host = nullptr;

  bool present() const { return dtype != DataType::kUndefined; }
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  int64_t numel() const;
  uint64_t bytes() const;
};

// What the device offers; filled once per context.
struct DeviceProps {
  int device = 0;
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  uint64_t max_shared_per_block_optin = 0;
};

struct PrepareArgs {
  const Node& node;
  std::vector<TensorInfo> inputs;   // node.num_inputs() entries
  std::vector<TensorInfo> outputs;  // inferred dtypes and concrete dims
  const DeviceProps& device;
  cublasLtHandle_t cublaslt = nullptr;  // the context's handles (heuristic queries)
  cudnnHandle_t cudnn = nullptr;
  uint64_t workspace_limit = 0;  // the most a kernel may ask for in workspace_bytes()
  bool allow_tf32 = false;       // the engine was built with --tf32

  const TensorInfo& input(size_t i) const { return inputs[i]; }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i].present(); }
  const TensorInfo& output(size_t i) const { return outputs[i]; }
  // Errors naming the node (its describe()) and the input/output shapes.
  Status unsupported(const std::string& why) const;  // kUnsupported
  Status invalid(const std::string& why) const;      // kInvalidArgument
  std::string describe_shapes() const;               // "in0 float16[2,3] in1 ... -> out float16[...]"
};

struct LaunchArgs {
  const void* const* inputs = nullptr;  // device pointers, nullptr for omitted inputs
  void* const* outputs = nullptr;
  size_t num_inputs = 0, num_outputs = 0;
  void* workspace = nullptr;  // workspace_bytes() bytes, 256-byte aligned
  uint64_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
  cublasLtHandle_t cublaslt = nullptr;
  cudnnHandle_t cudnn = nullptr;  // already bound to `stream`

  const void* input(size_t i) const { return inputs[i]; }
  void* output(size_t i) const { return outputs[i]; }
  template <typename T> const T* in(size_t i) const { return static_cast<const T*>(inputs[i]); }
  template <typename T> T* out(size_t i) const { return static_cast<T*>(outputs[i]); }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Scratch needed by enqueue, <= PrepareArgs::workspace_limit.
  virtual uint64_t workspace_bytes() const { return 0; }
  // Launches the node's work on args.stream: no allocation, no synchronisation, capturable.
  // Return a Status for library errors (cuBLASLt/cuDNN status); launch errors are collected by
  // the context after the last node (cudaPeekAtLastError), so kernels need not check them.
  virtual Status enqueue(const LaunchArgs& args) const = 0;
};

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const PrepareArgs& args);

struct KernelDef {
  std::string op_type;
  KernelFactory create = nullptr;
  // Bit i set: input i is read on the host at prepare time (TensorInfo::host) and need not be
  // on the device.
  uint32_t host_inputs = 0;
  // The kernel uses cuDNN: the context creates its cuDNN handle (slow to create: it loads the
  // cuDNN libraries) only when some node needs it. Without this flag PrepareArgs::cudnn and
  // LaunchArgs::cudnn are null.
  bool needs_cudnn = false;
};

class KernelRegistry {
 public:
  static const KernelRegistry& get();
  void add(KernelDef def);
  const KernelDef* find(const std::string& op_type) const;
  std::vector<std::string> op_types() const;

 private:
  std::map<std::string, KernelDef> defs_;
};

// One per family (src/cuda/kernels/<family>*.cu); called by KernelRegistry::get().
void register_elementwise_kernels(KernelRegistry& r);  // elementwise*.cu
void register_reduction_kernels(KernelRegistry& r);    // reduction*.cu
void register_tensor_kernels(KernelRegistry& r);       // tensor*.cu (layout, copies, views)
void register_index_kernels(KernelRegistry& r);        // index*.cu, image*.cu (gather, scatter, resize, generators)
void register_linalg_kernels(KernelRegistry& r);       // linalg*.cu (cuBLASLt)
void register_nn_kernels(KernelRegistry& r);           // nn*.cu (cuDNN conv, pooling)
void register_fused_pattern_kernels(KernelRegistry& r);  // fused_pattern*.cu (norms, attention)
void register_fused_elementwise_kernels(KernelRegistry& r);  // fused_elementwise.cu
void register_input_convert_kernels(KernelRegistry& r);      // input_convert.cu

}  // namespace slimrt::cuda
