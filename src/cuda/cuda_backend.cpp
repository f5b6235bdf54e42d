// The CUDA backend behind create_backend("cuda"): runs a Graph with host tensors in and out.
//
// This is the convenience path (tests, conformance, `slimrt run` on a Graph): prepare() uploads
// the graph's constants into one device allocation; run() resolves a Binding per input-shape set
// (small integer inputs count as host-known values, as shape tensors), plans an arena at that
// binding's exact sizes, caches both, copies the inputs in, enqueues, and copies the outputs back.
// Shapes that depend on input values are therefore fine here; an engine's context plans once.
// Engines run through ExecutionContext (include/slimrt/context.h), which plans once per profile
// and allocates nothing per run.
#include <fmt/format.h>

#include <cstring>
#include <map>

#include "cuda/cuda_backend.h"
#include "cuda/device_resources.h"
#include "cuda/program.h"
#include "cuda/program_kernels.h"
#include "ir/graph_inputs.h"

namespace slimrt::cuda {
namespace {

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Checks host inputs against the graph and returns their dims in graph-input order.
Result<std::vector<std::vector<int64_t>>> input_dims_for(const Graph& g, const std::vector<NamedTensor>& inputs,
                                                         std::map<std::string, int64_t>* symbols) {
  std::vector<std::vector<int64_t>> dims(g.inputs().size());
  std::vector<bool> given(g.inputs().size(), false);
  for (const NamedTensor& nt : inputs) {
    size_t k = 0;
    while (k < g.inputs().size() && g.inputs()[k]->name() != nt.name) ++k;
    if (k == g.inputs().size()) {
      std::string names;
      for (const Value* in : g.inputs()) names += (names.empty() ? "" : ", ") + in->name();
      return invalid_argument("'" + nt.name + "' is not an input of the graph (inputs: " + names + ")");
    }
    const Value* v = g.inputs()[k];
    const Tensor& t = nt.tensor;
    SLIMRT_RETURN_IF_ERROR(check_graph_input(*v, t, symbols));
    dims[k] = t.shape();
    given[k] = true;
  }
  for (size_t k = 0; k < given.size(); ++k) {
    if (!given[k]) return invalid_argument("graph input '" + g.inputs()[k]->name() + "' was not given");
  }
  return dims;
}

class CudaExecutable final : public Executable {
 public:
  static Result<std::unique_ptr<CudaExecutable>> create(const Graph& g) {
    std::unique_ptr<CudaExecutable> e(new CudaExecutable(g));
    SLIMRT_ASSIGN_OR_RETURN(e->res_, DeviceResources::create(0));
    SLIMRT_ASSIGN_OR_RETURN(e->stream_, Stream::create());
    SLIMRT_RETURN_IF_ERROR(e->upload_constants());
    return e;
  }

  Status run(const std::vector<NamedTensor>& inputs, std::vector<NamedTensor>* outputs,
             const RunOptions& options) override {
    SLIMRT_RETURN_IF_ERROR(select_device(res_->props().device));
    std::map<std::string, int64_t> symbols;
    SLIMRT_ASSIGN_OR_RETURN(auto dims, input_dims_for(graph_, inputs, &symbols));
    // Small host inputs are also given to the kernels on the host (shape-like inputs: Expand's
    // shape, Resize's scales, Clip's bounds, ...); their values then belong to the cache key.
    // Nodes reading them still run on the GPU (Program::resolve).
    std::vector<const Tensor*> host(graph_.inputs().size(), nullptr);
    auto key = dims;
    for (const NamedTensor& nt : inputs) {
      const Tensor& t = nt.tensor;
      if (t.memory_kind() == MemoryKind::kDevice || t.numel() > kMaxHostValueElements) continue;
      size_t k = 0;
      while (graph_.inputs()[k]->name() != nt.name) ++k;
      host[k] = &t;
      std::vector<int64_t> values{-1 - static_cast<int64_t>(k)};
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double d = t.get_as_double(i);
        int64_t bits = 0;
        std::memcpy(&bits, &d, sizeof(bits));
        values.push_back(bits);
      }
      key.push_back(std::move(values));
    }
    auto it = bindings_.find(key);
    if (it == bindings_.end()) {
      // Resolve once to learn every value's size, plan an arena for exactly those sizes, and
      // resolve again against that plan.
      SLIMRT_ASSIGN_OR_RETURN(auto probe_program, Program::create(graph_, device_constants_, {}, 0, ProgramOptions{}));
      SLIMRT_ASSIGN_OR_RETURN(auto probe, probe_program->resolve(dims, *res_, &host));
      SLIMRT_ASSIGN_OR_RETURN(ConcretePlan plan, probe->plan_concrete());
      Entry e;
      SLIMRT_ASSIGN_OR_RETURN(e.program, Program::create(graph_, device_constants_, std::move(plan.layout),
                                                         plan.activation_bytes, ProgramOptions{}));
      SLIMRT_ASSIGN_OR_RETURN(e.binding, e.program->resolve(dims, *res_, &host));
      SLIMRT_RETURN_IF_ERROR(e.binding->check_planned());
      if (e.program->arena_bytes() > arena_.bytes()) {
        arena_.reset();
        SLIMRT_ASSIGN_OR_RETURN(arena_, DeviceBuffer::allocate(e.program->arena_bytes(), "the activation arena"));
      }
      it = bindings_.emplace(std::move(key), std::move(e)).first;
    }
    Binding& binding = *it->second.binding;
    const uint64_t arena_bytes = it->second.program->arena_bytes();
    cudaStream_t s = stream_.get();

    // Inputs: one device buffer each, for this run.
    std::vector<DeviceBuffer> in_buffers(graph_.inputs().size());
    BindingAddresses addr;
    addr.arena = arena_.get();
    addr.inputs.assign(graph_.inputs().size(), nullptr);
    for (const NamedTensor& nt : inputs) {
      size_t k = 0;
      while (graph_.inputs()[k]->name() != nt.name) ++k;
      const Tensor& t = nt.tensor;
      if (t.memory_kind() == MemoryKind::kDevice) {
        addr.inputs[k] = t.raw();
        continue;
      }
      SLIMRT_ASSIGN_OR_RETURN(in_buffers[k], DeviceBuffer::allocate(std::max<uint64_t>(t.bytes(), 1), "input '" + nt.name + "'"));
      if (t.bytes() > 0)
        SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(in_buffers[k].get(), t.raw(), t.bytes(), cudaMemcpyHostToDevice, s),
                                           "copying an input to the device");
      addr.inputs[k] = in_buffers[k].get();
    }
    if (options.poison_outputs) SLIMRT_RETURN_IF_ERROR(poison_device(arena_.get(), arena_bytes, s));
    SLIMRT_RETURN_IF_ERROR(res_->bind_stream(s));
    SLIMRT_RETURN_IF_ERROR(binding.enqueue(addr, s, res_->cublaslt(), res_->cudnn_if_created()));

    outputs->clear();
    for (size_t i = 0; i < graph_.outputs().size(); ++i) {
      const Value* v = graph_.outputs()[i];
      SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(v->dtype(), binding.output_dims(i)));
      if (t.bytes() > 0) {
        const void* src = binding.output_address(addr, i);
        SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(t.raw(), src, t.bytes(), cudaMemcpyDeviceToHost, s),
                                           "copying an output to the host");
      }
      outputs->push_back({v->name(), std::move(t)});
    }
    return SLIMRT_CUDA(cudaStreamSynchronize(s), "running the graph on the GPU");
  }

 private:
  explicit CudaExecutable(const Graph& g) : graph_(g) {}

  Status upload_constants() {
    uint64_t total = 0;
    std::vector<std::pair<const Value*, uint64_t>> placed;
    for (const Value* v : graph_.values()) {
      const Tensor* c = v->constant();
      if (!c || c->memory_kind() == MemoryKind::kDevice) continue;
      placed.push_back({v, total});
      total += round_up(std::max<uint64_t>(c->bytes(), 1), kArenaAlignment);
    }
    SLIMRT_ASSIGN_OR_RETURN(constants_, DeviceBuffer::allocate(total, "the graph's constants"));
    for (const auto& [v, off] : placed) {
      auto* dst = static_cast<uint8_t*>(constants_.get()) + off;
      const Tensor* c = v->constant();
      if (c->bytes() > 0)
        SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpy(dst, c->raw(), c->bytes(), cudaMemcpyHostToDevice), "uploading constants");
      device_constants_[v] = dst;
    }
    return Status::OK();
  }

  const Graph& graph_;
  std::unique_ptr<DeviceResources> res_;
  Stream stream_;
  DeviceBuffer constants_;
  std::unordered_map<const Value*, const void*> device_constants_;
  struct Entry {
    std::unique_ptr<Program> program;
    std::unique_ptr<Binding> binding;
  };
  DeviceBuffer arena_;  // the largest any entry needs; entries run one at a time
  std::map<std::vector<std::vector<int64_t>>, Entry> bindings_;
};

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }
  MemoryKind memory_kind() const override { return MemoryKind::kDevice; }
  // Ops without a CUDA kernel are reported at the first run (naming the node) unless their
  // inputs are host-known there (shape arithmetic, or NonZero on a small host input).
  Result<std::unique_ptr<Executable>> prepare(const Graph& graph) override {
    SLIMRT_ASSIGN_OR_RETURN(auto e, CudaExecutable::create(graph));
    return std::unique_ptr<Executable>(std::move(e));
  }
};

}  // namespace

Result<std::unique_ptr<Backend>> make_cuda_backend() {
  SLIMRT_RETURN_IF_ERROR(select_device(0));
  return std::unique_ptr<Backend>(new CudaBackend());
}

}  // namespace slimrt::cuda
