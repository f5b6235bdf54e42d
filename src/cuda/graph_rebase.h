// Re-pointing an instantiated CUDA graph at new tensor addresses without capturing it again.
//
// A captured graph holds the addresses it was captured with: in kernel parameters, in memcpy and
// memset nodes. When a caller binds other buffers of the same sizes (a rotating set of I/O
// buffers, or a Python framework's fresh tensor on every call), capturing and instantiating again
// costs about as much as the work itself. Instead, GraphRebase scans the captured graph once for
// every parameter word that lies inside one of the bound ranges (the arena, each input, each
// output), and later rewrites just those words in the executable graph
// (cuGraphExecKernelNodeSetParams, cudaGraphExecMemcpyNodeSetParams, cudaGraphExecMemsetNodeSetParams).
// Only nodes that read a moved range are touched.
//
// What it relies on, and what it refuses:
// - Every kernel's parameter layout is known to the driver (cuFuncGetParamInfo); a node whose
//   layout cannot be read, or a node kind that can hold addresses it cannot see (host callbacks,
//   child graphs, allocations), makes scan() fail and the caller captures per address set.
// - The captured work holds addresses only in parameters. A kernel that reads an I/O address
//   from device memory written before the capture would be missed; slimrt's kernels, cuBLASLt and
//   cuDNN pass them as parameters (the rotation tests in tests/gpu/ check every output).
// - A parameter word that happens to equal an address inside a bound range is taken for a
//   pointer. Device addresses are large (above 2^32) and bound ranges are few, so an integer or a
//   pair of floats matching one is not a practical concern.
// - Kernels may have chosen a path for the alignment of the captured address (vector loads);
//   apply() refuses a new address less aligned than the captured one (up to 256 bytes).
// - Ranges must not overlap at capture (the same buffer bound twice): scan() fails.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "slimrt/status.h"

namespace slimrt::cuda {

struct AddressRange {
  uintptr_t base = 0;
  uint64_t bytes = 0;
};

class GraphRebase {
 public:
  // Finds where `graph` (kept alive by the caller while this object is used) holds addresses
  // inside `ranges`. kUnsupported when the graph cannot be rebased (the reason named).
  static Result<GraphRebase> scan(cudaGraph_t graph, std::span<const AddressRange> ranges);

  GraphRebase(GraphRebase&&) noexcept;
  GraphRebase& operator=(GraphRebase&&) noexcept;
  ~GraphRebase();

  // Whether `bases` (one per range, in scan order) can be applied: same count, each at least as
  // aligned as the captured address. A range whose base is unchanged is always fine.
  bool compatible(std::span<const uintptr_t> bases) const;
  // Points `exec` (instantiated from the scanned graph) at `bases`. Nodes whose ranges did not
  // move since the last apply (or the capture) are left alone. On failure `exec` may be partly
  // updated: the caller must not launch it again.
  Status apply(cudaGraphExec_t exec, std::span<const uintptr_t> bases);

  // How many nodes hold at least one bound address; how many parameter words were found.
  size_t patched_nodes() const;
  size_t patched_words() const;

 private:
  struct State;
  explicit GraphRebase(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace slimrt::cuda
