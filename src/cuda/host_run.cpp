// run_staged (host_run.h): stage inputs, bind fresh outputs, run, copy back.
#include "cuda/host_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>
#include <string>

#include "cuda/device_resources.h"
#include "cuda/program_kernels.h"
#include "ir/graph_inputs.h"

namespace slimrt::cuda {
namespace {

std::string input_names(const Graph& g) {
  std::string names;
  for (const Value* in : g.inputs()) names += (names.empty() ? "" : ", ") + in->name();
  return names;
}

}  // namespace

Status run_staged(StagedRunner& runner, const Graph& graph, const std::vector<NamedTensor>& inputs, bool poison,
                  cudaStream_t stream, std::vector<NamedTensor>* outputs) {
  const size_t n_in = graph.inputs().size();
  std::vector<const NamedTensor*> given(n_in, nullptr);
  std::map<std::string, int64_t> symbols;
  for (const NamedTensor& nt : inputs) {
    size_t k = 0;
    while (k < n_in && graph.inputs()[k]->name() != nt.name) ++k;
    if (k == n_in)
      return invalid_argument(fmt::format("'{}' is not an input of the graph (inputs: {})", nt.name, input_names(graph)));
    if (given[k]) return invalid_argument(fmt::format("input '{}' is given twice", nt.name));
    SLIMRT_RETURN_IF_ERROR(check_graph_input(*graph.inputs()[k], nt.tensor, &symbols));
    given[k] = &nt;
  }
  for (size_t k = 0; k < n_in; ++k) {
    if (!given[k]) return invalid_argument("graph input '" + graph.inputs()[k]->name() + "' was not given");
  }

  std::vector<DeviceBuffer> buffers;
  std::deque<Tensor> host_copies;  // stable addresses
  std::vector<std::vector<int64_t>> dims(n_in);
  std::vector<const Tensor*> host(n_in, nullptr);
  BindingAddresses addr;
  addr.inputs.assign(n_in, nullptr);
  addr.outputs.assign(graph.outputs().size(), nullptr);
  Status s = [&]() -> Status {
    for (size_t k = 0; k < n_in; ++k) {
      const NamedTensor& nt = *given[k];
      const Tensor& t = nt.tensor;
      dims[k] = t.shape();
      if (t.memory_kind() != MemoryKind::kDevice) host[k] = &t;
      if (runner.reads_on_host(k)) {  // kernel parameters: the host address, no upload
        if (t.memory_kind() == MemoryKind::kDevice) {
          SLIMRT_ASSIGN_OR_RETURN(Tensor h, Tensor::allocate(t.dtype(), t.shape()));
          if (h.bytes() > 0)
            SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpy(h.raw(), t.raw(), h.bytes(), cudaMemcpyDeviceToHost),
                                        "copying host input '" + nt.name + "'");
          host_copies.push_back(std::move(h));
          host[k] = &host_copies.back();
        }
        addr.inputs[k] = host[k]->raw();
        continue;
      }
      if (t.memory_kind() == MemoryKind::kDevice) {
        addr.inputs[k] = t.raw();
        continue;
      }
      SLIMRT_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(std::max<uint64_t>(t.bytes(), 1), "input '" + nt.name + "'"));
      if (t.bytes() > 0)
        SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(b.get(), t.raw(), t.bytes(), cudaMemcpyHostToDevice, stream),
                                    "copying input '" + nt.name + "' to the device");
      addr.inputs[k] = b.get();
      buffers.push_back(std::move(b));
    }
    SLIMRT_ASSIGN_OR_RETURN(std::vector<std::vector<int64_t>> out_dims, runner.prepare(dims, host, addr));
    std::vector<Tensor> out_host(graph.outputs().size());
    for (size_t o = 0; o < graph.outputs().size(); ++o) {
      const Value* v = graph.outputs()[o];
      SLIMRT_ASSIGN_OR_RETURN(out_host[o], Tensor::allocate(v->dtype(), out_dims[o]));
      SLIMRT_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::allocate(std::max<uint64_t>(out_host[o].bytes(), 1),
                                                                     "output '" + v->name() + "'"));
      if (poison) SLIMRT_RETURN_IF_ERROR(poison_device(b.get(), out_host[o].bytes(), stream));
      addr.outputs[o] = b.get();
      buffers.push_back(std::move(b));
    }
    if (poison && runner.scratch()) SLIMRT_RETURN_IF_ERROR(poison_device(runner.scratch(), runner.scratch_bytes(), stream));
    SLIMRT_RETURN_IF_ERROR(runner.enqueue(addr, stream));
    outputs->clear();
    for (size_t o = 0; o < graph.outputs().size(); ++o) {
      if (out_host[o].bytes() > 0)
        SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out_host[o].raw(), addr.outputs[o], out_host[o].bytes(),
                                                    cudaMemcpyDeviceToHost, stream),
                                    "copying output '" + graph.outputs()[o]->name() + "' to the host");
      outputs->push_back({graph.outputs()[o]->name(), std::move(out_host[o])});
    }
    return SLIMRT_CUDA(cudaStreamSynchronize(stream), "running on the GPU");
  }();
  if (!s.ok()) SLIMRT_CUDA_IGNORE(cudaStreamSynchronize(stream));  // nothing may still use the buffers
  return s;
}

}  // namespace slimrt::cuda
