// The one place where a run with tensors that may live on the host is staged (host-only header):
// the `cuda` Backend's Executable::run (tests, conformance, `slimrt run` on an ONNX file) and
// ExecutionContext::run both go through run_staged().
//
//   inputs: checked against the graph (names, dtypes, ranks, consistent symbols); a device tensor
//           is used in place; a host tensor is copied into a fresh device buffer, unless the runner
//           reads that input on the host (a host input), whose host address is used as is (a
//           device tensor given for one is copied to the host first);
//   outputs: one fresh device buffer each, bound as the output's address (poisoned when asked);
//   run:    the runner prepares for the input dims and enqueues on `stream`;
//   back:   every output is copied into a new host tensor, then the stream is synchronised.
// Not a hot path: buffers are allocated per call. Engines served repeatedly bind their own
// buffers and call ExecutionContext::enqueue.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "cuda/program.h"
#include "slimrt/backend.h"
#include "slimrt/graph.h"
#include "slimrt/status.h"

namespace slimrt::cuda {

class StagedRunner {
 public:
  virtual ~StagedRunner() = default;
  // Whether graph input k is read from host memory by the kernels (not uploaded).
  virtual bool reads_on_host(size_t k) const = 0;
  // Called once the inputs are staged: `dims` per graph input; `host` per graph input, its data
  // when it was given in host memory (else null); `addr.inputs` set. Returns each output's dims.
  virtual Result<std::vector<std::vector<int64_t>>> prepare(const std::vector<std::vector<int64_t>>& dims,
                                                            const std::vector<const Tensor*>& host,
                                                            const BindingAddresses& addr) = 0;
  // Device memory to poison before the run when asked (the arena); {nullptr, 0} for none.
  virtual void* scratch() const = 0;
  virtual uint64_t scratch_bytes() const = 0;
  // Enqueues the work with every address in `addr` bound.
  virtual Status enqueue(const BindingAddresses& addr, cudaStream_t stream) = 0;
};

Status run_staged(StagedRunner& runner, const Graph& graph, const std::vector<NamedTensor>& inputs, bool poison,
                  cudaStream_t stream, std::vector<NamedTensor>* outputs);

}  // namespace slimrt::cuda
