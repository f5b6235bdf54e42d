// The CUDA backend behind create_backend("cuda"): runs a Graph with host tensors in and out.
//
// This is the convenience path (tests, conformance, `slimrt run` on a Graph): prepare() uploads
// the graph's constants into one device allocation; run() resolves a Binding per input-shape set
// (small host inputs count as host-known values, as shape tensors), plans an arena at that
// binding's exact sizes and caches both. Staging inputs, running and copying outputs back is
// run_staged (host_run.h), shared with ExecutionContext::run.
// Shapes that depend on input values are therefore fine here; an engine's context plans once.
// Engines run through ExecutionContext (include/slimrt/context.h), which plans once per profile
// and allocates nothing per run.
#include <fmt/format.h>

#include <cstring>
#include <map>

#include "cuda/cuda_backend.h"
#include "cuda/device_resources.h"
#include "cuda/host_run.h"
#include "cuda/program.h"
#include "cuda/program_kernels.h"
#include "ir/graph_inputs.h"

namespace slimrt::cuda {
namespace {

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class CudaExecutable final : public Executable, private StagedRunner {
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
    current_ = nullptr;
    return run_staged(*this, graph_, inputs, options.poison_outputs, stream_.get(), outputs);
  }

 private:
  explicit CudaExecutable(const Graph& g) : graph_(g) {}

  // StagedRunner. Every input is uploaded; small host inputs are also given to the kernels on
  // the host (shape-like inputs: Expand's shape, Resize's scales, Clip's bounds, ...), so their
  // values belong to the cache key. Nodes reading them still run on the GPU (Program::resolve).
  bool reads_on_host(size_t) const override { return false; }

  Result<std::vector<std::vector<int64_t>>> prepare(const std::vector<std::vector<int64_t>>& dims,
                                                    const std::vector<const Tensor*>& host,
                                                    const BindingAddresses&) override {
    std::vector<const Tensor*> known(host.size(), nullptr);
    auto key = dims;
    for (size_t k = 0; k < host.size(); ++k) {
      const Tensor* t = host[k];
      if (!t || t->numel() > kMaxHostValueElements) continue;
      known[k] = t;
      std::vector<int64_t> values{-1 - static_cast<int64_t>(k)};
      for (int64_t i = 0; i < t->numel(); ++i) {
        const double d = t->get_as_double(i);
        int64_t bits = 0;
        std::memcpy(&bits, &d, sizeof(bits));
        values.push_back(bits);
      }
      key.push_back(std::move(values));
    }
    auto it = bindings_.find(key);
    if (it == bindings_.end()) {
      // Resolved once, then the arena is planned at exactly this binding's sizes.
      Entry e;
      SLIMRT_ASSIGN_OR_RETURN(e.program, Program::create(graph_, device_constants_, {}, 0, ProgramOptions{}));
      SLIMRT_ASSIGN_OR_RETURN(e.binding, e.program->resolve(dims, *res_, &known));
      SLIMRT_ASSIGN_OR_RETURN(ConcretePlan plan, e.binding->plan_concrete());
      SLIMRT_RETURN_IF_ERROR(e.program->set_arena_layout(plan.layout, plan.activation_bytes));
      SLIMRT_RETURN_IF_ERROR(e.binding->check_planned());
      if (e.program->arena_bytes() > arena_.bytes()) {
        arena_.reset();
        SLIMRT_ASSIGN_OR_RETURN(arena_, DeviceBuffer::allocate(e.program->arena_bytes(), "the activation arena"));
      }
      it = bindings_.emplace(std::move(key), std::move(e)).first;
    }
    current_ = &it->second;
    std::vector<std::vector<int64_t>> out(graph_.outputs().size());
    for (size_t o = 0; o < out.size(); ++o) out[o] = current_->binding->output_dims(o);
    return out;
  }

  void* scratch() const override { return arena_.get(); }
  uint64_t scratch_bytes() const override { return current_ ? current_->program->arena_bytes() : 0; }

  Status enqueue(const BindingAddresses& addr, cudaStream_t stream) override {
    BindingAddresses a = addr;
    a.arena = arena_.get();
    SLIMRT_RETURN_IF_ERROR(res_->bind_stream(stream));
    return current_->binding->enqueue(a, stream, res_->cublaslt(), res_->cudnn_if_created());
  }

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
  Entry* current_ = nullptr;  // the entry prepare() chose for this run
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
