// ExecutionContext (include/slimrt/context.h): an engine's activation arena, shape bindings and
// CUDA graphs.
#include "slimrt/context.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "core/log.h"
#include "cuda/device_resources.h"
#include "cuda/graph_rebase.h"
#include "cuda/host_io.h"
#include "cuda/host_run.h"
#include "cuda/program.h"
#include "cuda/program_kernels.h"
#include "ir/graph_inputs.h"

namespace slimrt {

static_assert(cuda::kMaxHostValueElements == kMaxHostInputElements,
              "host inputs are described (IoTensor::is_host_input) with the context's limit");

using cuda::Binding;
using cuda::BindingAddresses;
using cuda::DeviceBuffer;

struct ExecutionContext::Impl {
  std::shared_ptr<const Engine> engine;
  ContextOptions options;
  std::unique_ptr<cuda::DeviceResources> res;
  std::unique_ptr<cuda::Program> program;
  DeviceBuffer owned_arena;
  void* arena = nullptr;
  uint64_t arena_capacity = 0;

  // Per graph input: the profile's range (empty = any) and the current dims.
  std::vector<std::vector<int64_t>> min_dims, max_dims;
  std::vector<std::vector<int64_t>> input_dims;
  std::vector<bool> input_set;
  // Per graph input: a host input, whose small data sets kernel parameters (see context.h).
  std::vector<bool> host_input;
  bool any_host_input = false;
  BindingAddresses addr;
  bool dirty = true;
  // Host bindings (pinned, mapped, pageable) and their copies.
  std::unique_ptr<cuda::HostIo> host_io;
  cudaEvent_t input_consumed_event = nullptr;
  cudaEvent_t outputs_computed_event = nullptr;

  struct ShapeEntry {
    std::vector<std::vector<int64_t>> dims;
    std::vector<Tensor> values;  // per input: the host input's data this binding was made for
    std::unique_ptr<Binding> binding;
    uint64_t last_used = 0;
    uint32_t eager_runs = 0;
  };
  std::vector<std::unique_ptr<ShapeEntry>> shapes;  // at most max_cached_shapes (stable addresses)
  ShapeEntry* current = nullptr;

  struct GraphEntry {
    const Binding* binding = nullptr;
    void* arena = nullptr;
    std::vector<const void*> inputs;
    std::vector<void*> outputs;
    cuda::CudaGraph graph;  // kept while `rebase` refers to its nodes
    cuda::CudaGraphExec exec;
    std::optional<cuda::GraphRebase> rebase;  // empty: this entry serves its exact addresses only
    uint64_t last_used = 0;
  };
  std::vector<GraphEntry> graphs;  // at most max_cuda_graphs
  // Graphs are captured on this non-blocking stream of the context's own, then launched on the
  // caller's. A capture on the caller's stream would break whenever that stream is a blocking one
  // and another thread touches the legacy default stream meanwhile (cudaErrorStreamCaptureImplicit):
  // the capture is invalidated and both threads see errors.
  cuda::Stream capture_stream;
  uint64_t tick = 0;
  ContextStats stats;
  // Reused by update_graph (sized at create: one per arena, input and output).
  std::vector<cuda::AddressRange> range_scratch;
  std::vector<uintptr_t> base_scratch;

  int input_index(std::string_view name) const {
    const auto& ins = engine->graph().inputs();
    for (size_t i = 0; i < ins.size(); ++i) {
      if (ins[i]->name() == name) return static_cast<int>(i);
    }
    return -1;
  }
  int output_index(std::string_view name) const {
    const auto& outs = engine->graph().outputs();
    for (size_t i = 0; i < outs.size(); ++i) {
      if (outs[i]->name() == name) return static_cast<int>(i);
    }
    return -1;
  }
  std::string tensor_names() const {
    std::string s;
    for (const Value* v : engine->graph().inputs()) s += (s.empty() ? "" : ", ") + v->name();
    for (const Value* v : engine->graph().outputs()) s += (s.empty() ? "" : ", ") + v->name();
    return s;
  }

  void drop_graphs_of(const Binding* b) {
    for (size_t i = 0; i < graphs.size();) {
      if (graphs[i].binding == b) {
        graphs.erase(graphs.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  // Whether the host inputs' memory still holds the values `e` was resolved for (their dims are
  // equal when this is asked). Host inputs are read at every enqueue: a few bytes compared.
  bool host_values_match(const ShapeEntry& e) const {
    for (size_t i = 0; i < host_input.size(); ++i) {
      if (!host_input[i] || e.values[i].bytes() == 0) continue;
      if (!addr.inputs[i] || std::memcmp(e.values[i].raw(), addr.inputs[i], e.values[i].bytes()) != 0) return false;
    }
    return true;
  }

  Status resolve() {
    if (!dirty && current && (!any_host_input || host_values_match(*current))) return Status::OK();
    for (size_t i = 0; i < input_set.size(); ++i) {
      if (!input_set[i])
        return invalid_argument(fmt::format("input '{}' has no shape: call set_input_shape first",
                                            engine->graph().inputs()[i]->name()));
    }
    for (size_t i = 0; i < host_input.size(); ++i) {
      if (host_input[i] && !addr.inputs[i] && numel_of(input_dims[i]) > 0)
        return invalid_argument(fmt::format("input '{}' is a host input (its values are kernel parameters): bind host "
                                            "memory holding them with set_tensor_address first",
                                            engine->graph().inputs()[i]->name()));
    }
    for (auto& e : shapes) {
      if (e->dims == input_dims && host_values_match(*e)) {
        current = e.get();
        e->last_used = ++tick;
        dirty = false;
        return Status::OK();
      }
    }
    // A new shape set (or new host-input values): copy the host inputs' data, resolve.
    std::vector<Tensor> values(input_dims.size());
    std::vector<const Tensor*> value_ptrs(input_dims.size(), nullptr);
    for (size_t i = 0; i < host_input.size(); ++i) {
      if (!host_input[i]) continue;
      SLIMRT_ASSIGN_OR_RETURN(values[i], Tensor::allocate(engine->graph().inputs()[i]->dtype(), input_dims[i]));
      if (values[i].bytes() > 0) std::memcpy(values[i].raw(), addr.inputs[i], values[i].bytes());
      value_ptrs[i] = &values[i];
    }
    SLIMRT_RETURN_IF_ERROR(cuda::select_device(engine->device()));
    SLIMRT_ASSIGN_OR_RETURN(auto b, program->resolve(input_dims, *res, any_host_input ? &value_ptrs : nullptr));
    SLIMRT_RETURN_IF_ERROR(b->check_planned());
    ++stats.shape_resolutions;
    if (shapes.size() >= std::max<uint32_t>(options.max_cached_shapes, 1)) {
      auto lru = std::min_element(shapes.begin(), shapes.end(),
                                  [](const auto& a, const auto& c) { return a->last_used < c->last_used; });
      drop_graphs_of((*lru)->binding.get());
      shapes.erase(lru);
    }
    shapes.push_back(std::make_unique<ShapeEntry>(ShapeEntry{input_dims, std::move(values), std::move(b), ++tick, 0}));
    current = shapes.back().get();
    dirty = false;
    return Status::OK();
  }

  GraphEntry* find_graph(const Binding* b) {
    for (GraphEntry& g : graphs) {
      if (g.binding == b && g.arena == addr.arena && g.inputs == addr.inputs && g.outputs == addr.outputs) return &g;
    }
    return nullptr;
  }

  // The ranges a graph of `b` reads and writes, in GraphRebase order: the arena, each device
  // input, each output (base 0: host input, or not bound).
  // Fills `r` without allocating once it has held as many ranges (enqueue allocates nothing).
  void bound_ranges(const Binding& b, std::vector<cuda::AddressRange>& r) const {
    const Graph& g = engine->graph();
    r.clear();
    r.push_back({reinterpret_cast<uintptr_t>(addr.arena), arena_capacity});
    for (size_t i = 0; i < addr.inputs.size(); ++i) {
      if (host_input[i]) r.push_back({});
      else r.push_back({reinterpret_cast<uintptr_t>(addr.inputs[i]),
                        static_cast<uint64_t>(numel_of(input_dims[i])) * dtype_size(g.inputs()[i]->dtype())});
    }
    for (size_t o = 0; o < addr.outputs.size(); ++o) {
      r.push_back({reinterpret_cast<uintptr_t>(addr.outputs[o]),
                   static_cast<uint64_t>(numel_of(b.output_dims(o))) * dtype_size(g.outputs()[o]->dtype())});
    }
  }

  // A graph of `b` captured for other addresses, re-pointed at the bound ones; null when there is
  // none that can be.
  GraphEntry* update_graph(const Binding* b) {
    for (size_t k = 0; k < graphs.size(); ++k) {
      GraphEntry& g = graphs[k];
      if (g.binding != b || !g.rebase) continue;
      bound_ranges(*b, range_scratch);
      base_scratch.clear();
      for (const cuda::AddressRange& r : range_scratch) base_scratch.push_back(r.base);
      if (!g.rebase->compatible(base_scratch)) continue;
      if (Status s = g.rebase->apply(g.exec.get(), base_scratch); !s.ok()) {
        SLIMRT_LOG(kWarning, "execution context: re-pointing a CUDA graph failed ({}); capturing a new one", s.message());
        graphs.erase(graphs.begin() + static_cast<std::ptrdiff_t>(k));
        return nullptr;
      }
      g.arena = addr.arena;
      g.inputs = addr.inputs;
      g.outputs = addr.outputs;
      ++stats.graph_updates;
      return &g;
    }
    return nullptr;
  }

  // The compute: a CUDA graph replayed, captured, or the eager launch sequence.
  Status compute(cudaStream_t stream, bool may_use_graphs) {
    ShapeEntry& e = *current;
    if (options.cuda_graphs && may_use_graphs) {
      GraphEntry* g = find_graph(e.binding.get());
      if (!g) g = update_graph(e.binding.get());
      if (g) {
        g->last_used = ++tick;
        ++stats.graph_launches;
        return SLIMRT_CUDA(cudaGraphLaunch(g->exec.get(), stream));
      }
      if (e.eager_runs > 0) return capture_and_launch(stream);
    }
    ++e.eager_runs;
    ++stats.eager_enqueues;
    return e.binding->enqueue(addr, stream, res->cublaslt(), res->cudnn_if_created());
  }

  // Each bound tensor's bytes at the current shapes, checked against the capacity bound with it;
  // the host-bound ones' copies move that much.
  Status size_host_bindings() {
    const Graph& g = engine->graph();
    for (size_t i = 0; i < input_dims.size(); ++i) {
      if (host_input[i]) continue;
      SLIMRT_RETURN_IF_ERROR(host_io->set_bytes(cuda::IoSide::kInput, i,
                                                static_cast<uint64_t>(numel_of(input_dims[i])) * dtype_size(g.inputs()[i]->dtype())));
    }
    for (size_t o = 0; o < g.outputs().size(); ++o) {
      SLIMRT_RETURN_IF_ERROR(host_io->set_bytes(
          cuda::IoSide::kOutput, o,
          static_cast<uint64_t>(numel_of(current->binding->output_dims(o))) * dtype_size(g.outputs()[o]->dtype())));
    }
    return Status::OK();
  }

  Status capture_and_launch(cudaStream_t stream) {
    Binding& b = *current->binding;
    cudaStream_t cs = capture_stream.get();
    SLIMRT_RETURN_IF_ERROR(res->bind_stream(cs));
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(cs, cudaStreamCaptureModeThreadLocal));
    Status s = b.enqueue(addr, cs, res->cublaslt(), res->cudnn_if_created());
    cuda::CudaGraph graph;
    // Always ended, so that the stream leaves capture mode whatever the enqueue did.
    const Status end = SLIMRT_CUDA(cudaStreamEndCapture(cs, graph.receive()));
    if (Status rebound = res->bind_stream(stream); s.ok()) s = rebound;
    SLIMRT_RETURN_IF_ERROR(s);
    SLIMRT_RETURN_IF_ERROR(end);
    cuda::CudaGraphExec exec;
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaGraphInstantiate(exec.receive(), graph.get(), 0));
    std::optional<cuda::GraphRebase> rebase;
    if (options.update_graph_addresses) {
      bound_ranges(b, range_scratch);
      Result<cuda::GraphRebase> scanned = cuda::GraphRebase::scan(graph.get(), range_scratch);
      if (scanned.ok()) {
        rebase.emplace(std::move(*scanned));
      } else {
        SLIMRT_LOG(kVerbose, "execution context: this graph is captured again for other buffer addresses: {}",
                   scanned.status().message());
      }
    }
    if (!rebase) graph.reset();
    if (graphs.size() >= std::max<uint32_t>(options.max_cuda_graphs, 1)) {
      auto lru = std::min_element(graphs.begin(), graphs.end(),
                                  [](const GraphEntry& a, const GraphEntry& c) { return a.last_used < c.last_used; });
      SLIMRT_LOG(kInfo, "execution context: {} CUDA graphs captured (ContextOptions::max_cuda_graphs); the least "
                 "recently used is dropped (each input-shape set captures one)",
                 graphs.size());
      graphs.erase(lru);
    }
    const cudaGraphExec_t launch = exec.get();
    graphs.push_back({&b, addr.arena, addr.inputs, addr.outputs, std::move(graph), std::move(exec), std::move(rebase), ++tick});
    ++stats.graph_captures;
    ++stats.graph_launches;
    return SLIMRT_CUDA(cudaGraphLaunch(launch, stream));
  }
};

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;

Result<std::unique_ptr<ExecutionContext>> ExecutionContext::create(std::shared_ptr<const Engine> engine,
                                                                   const ContextOptions& options) {
  if (!engine) return invalid_argument("ExecutionContext::create: no engine");
  if (engine->backend() != "cuda")
    return unsupported("ExecutionContext needs an engine loaded on the CUDA backend; this one was loaded on '" +
                       engine->backend() + "'");
  auto impl = std::make_unique<Impl>();
  impl->engine = engine;
  impl->options = options;
  const Graph& g = engine->graph();
  const EngineInfo& info = engine->info();
  SLIMRT_ASSIGN_OR_RETURN(impl->res, cuda::DeviceResources::create(engine->device()));

  // The profile: each input's range, and every symbol's max for the memory plan.
  const auto& profiles = info.options.profiles;
  if (!profiles.empty() && options.profile >= profiles.size())
    return invalid_argument(fmt::format("profile {} does not exist: the engine has {}", options.profile, profiles.size()));
  if (profiles.empty() && options.profile != 0)
    return invalid_argument(fmt::format("profile {} does not exist: the engine has no optimization profiles", options.profile));
  const size_t n_in = g.inputs().size();
  impl->min_dims.assign(n_in, {});
  impl->max_dims.assign(n_in, {});
  impl->input_dims.assign(n_in, {});
  impl->input_set.assign(n_in, false);
  impl->addr.inputs.assign(n_in, nullptr);
  impl->addr.outputs.assign(g.outputs().size(), nullptr);
  std::map<std::string, int64_t> max_symbols;
  for (size_t i = 0; i < n_in; ++i) {
    const Value* v = g.inputs()[i];
    const InputProfile* ip = nullptr;
    if (!profiles.empty()) {
      for (const InputProfile& p : profiles[options.profile].inputs) {
        if (p.name == v->name()) ip = &p;
      }
    }
    if (!v->has_shape()) return unsupported("input '" + v->name() + "' has no known rank");
    const Shape& s = v->shape();
    std::vector<int64_t> lo(s.size()), hi(s.size());
    for (size_t d = 0; d < s.size(); ++d) {
      if (auto fixed = s[d].value()) {
        lo[d] = hi[d] = *fixed;
      } else if (ip && ip->max.size() == s.size()) {
        lo[d] = ip->min[d];
        hi[d] = ip->max[d];
        if (auto sym = s[d].as_symbol()) max_symbols[*sym] = std::max(max_symbols[*sym], hi[d]);
      } else {
        return invalid_argument(fmt::format("input '{}' dim {} is dynamic ({}) but the engine has no optimization "
                                            "profile for it: rebuild with --min/--opt/--max {}:...",
                                            v->name(), d, shape_to_string(s), v->name()));
      }
    }
    impl->min_dims[i] = lo;
    impl->max_dims[i] = hi;
    if (lo == hi) {  // static: the shape is known already
      impl->input_dims[i] = lo;
      impl->input_set[i] = true;
    }
  }

  // The memory plan: the builder's, else planned now for the profile's max shapes.
  cuda::ArenaLayout layout;
  uint64_t activation_bytes = 0;
  if (options.profile < info.options.memory_plans.size() && !info.options.memory_plans[options.profile].buffers.empty()) {
    const EngineMemoryPlan& mp = info.options.memory_plans[options.profile];
    for (const EnginePlannedBuffer& b : mp.buffers) {
      if (b.value >= info.values.size()) return data_loss("memory plan names a value that does not exist");
      layout[info.values[b.value].name] = {b.offset, b.size};
    }
    activation_bytes = mp.arena_bytes;
  } else {
    auto plan = plan_activations(g, max_symbols);
    if (!plan.ok()) return plan.status().with_context("planning activation memory");
    layout = cuda::arena_layout_from_plan(*plan);
    activation_bytes = static_cast<uint64_t>(plan->arena_bytes);
  }
  // Weights the host also mirrors still have their device copy in the region.
  std::unordered_map<const Value*, const void*> device_constants;
  for (const EngineValue& ev : info.values) {
    if (ev.weight < 0) continue;
    if (const Value* v = g.find_value(ev.name)) device_constants[v] = engine->weight(static_cast<size_t>(ev.weight)).raw();
  }
  cuda::ProgramOptions popts;
  popts.workspace_bytes = options.workspace_bytes;
  popts.allow_tf32 = info.header.tf32;
  SLIMRT_ASSIGN_OR_RETURN(impl->program, cuda::Program::create(g, std::move(device_constants), std::move(layout),
                                                               activation_bytes, popts));
  // Host inputs: small inputs (at most kMaxHostValueElements at the profile's max) whose data a
  // kernel needs before it launches. Larger ones stay device inputs; resolving names the node.
  impl->host_input.assign(n_in, false);
  for (size_t i = 0; i < n_in; ++i) {
    impl->host_input[i] = impl->program->needs_host_value()[i] && numel_of(impl->max_dims[i]) <= cuda::kMaxHostValueElements;
    impl->any_host_input = impl->any_host_input || impl->host_input[i];
  }
  impl->program->set_host_only_inputs(impl->host_input);
  // Each input and output's bytes at the profile's max shapes (an output's dims follow input
  // values where they are -1: 0 bytes, it cannot be bound to host memory).
  std::vector<cuda::HostIoTensor> io_in, io_out;
  for (size_t i = 0; i < n_in; ++i) {
    io_in.push_back({fmt::format("input '{}'", g.inputs()[i]->name()),
                     static_cast<uint64_t>(numel_of(impl->max_dims[i])) * dtype_size(g.inputs()[i]->dtype())});
  }
  for (const IoTensor& t : engine->io_tensors()) {
    if (!t.is_output()) continue;
    const std::vector<int64_t>& dims = t.profiles.empty() ? t.dims : t.profiles[options.profile].max;
    const bool known = t.has_shape && std::all_of(dims.begin(), dims.end(), [](int64_t d) { return d >= 0; });
    io_out.push_back({fmt::format("output '{}'", t.name), known ? static_cast<uint64_t>(numel_of(dims)) * dtype_size(t.dtype) : 0});
  }
  impl->host_io = std::make_unique<cuda::HostIo>(io_in, io_out, options.staging_bytes, options.staging_slots);
  if (options.allocate_device_memory) {
    SLIMRT_ASSIGN_OR_RETURN(impl->owned_arena, DeviceBuffer::allocate(impl->program->arena_bytes(),
                                                                      "the execution context's activation arena"));
    impl->arena = impl->owned_arena.get();
    impl->arena_capacity = impl->owned_arena.bytes();
  }
  impl->addr.arena = impl->arena;
  impl->range_scratch.reserve(1 + n_in + g.outputs().size());
  impl->base_scratch.reserve(1 + n_in + g.outputs().size());
  if (options.cuda_graphs) {
    SLIMRT_ASSIGN_OR_RETURN(impl->capture_stream, cuda::Stream::create());
  }
  return std::unique_ptr<ExecutionContext>(new ExecutionContext(std::move(impl)));
}

const Engine& ExecutionContext::engine() const { return *impl_->engine; }
uint64_t ExecutionContext::device_memory_size() const { return impl_->program->arena_bytes(); }
uint64_t ExecutionContext::activation_bytes() const { return impl_->program->activation_bytes(); }
const ContextStats& ExecutionContext::stats() const { return impl_->stats; }

Status ExecutionContext::set_device_memory(void* ptr, uint64_t bytes) {
  if (!ptr) return invalid_argument("set_device_memory: null pointer");
  if (bytes < device_memory_size())
    return invalid_argument(fmt::format("set_device_memory: {} bytes given; the context needs {}", bytes,
                                        device_memory_size()));
  if (reinterpret_cast<uintptr_t>(ptr) % cuda::kArenaAlignment != 0)
    return invalid_argument(fmt::format("set_device_memory: the address must be {}-byte aligned", cuda::kArenaAlignment));
  impl_->owned_arena.reset();
  impl_->arena = ptr;
  impl_->arena_capacity = bytes;
  impl_->addr.arena = ptr;
  return Status::OK();
}

Status ExecutionContext::set_input_shape(std::string_view name, const std::vector<int64_t>& dims) {
  Impl& m = *impl_;
  const int i = m.input_index(name);
  if (i < 0) return invalid_argument(fmt::format("'{}' is not an input of the engine (tensors: {})", name, m.tensor_names()));
  const auto& lo = m.min_dims[static_cast<size_t>(i)];
  const auto& hi = m.max_dims[static_cast<size_t>(i)];
  if (dims.size() != lo.size())
    return invalid_argument(fmt::format("input '{}': {} dims given; it has rank {}", name, dims.size(), lo.size()));
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] < lo[d] || dims[d] > hi[d])
      return invalid_argument(fmt::format("input '{}' shape [{}]: dim {} = {} is outside profile {}'s range [{}, {}]",
                                          name, fmt::join(dims, ","), d, dims[d], m.options.profile, lo[d], hi[d]));
  }
  if (!m.input_set[static_cast<size_t>(i)] || m.input_dims[static_cast<size_t>(i)] != dims) {
    m.input_dims[static_cast<size_t>(i)] = dims;
    m.dirty = true;
  }
  m.input_set[static_cast<size_t>(i)] = true;
  return Status::OK();
}

bool ExecutionContext::is_host_input(std::string_view name) const {
  const int i = impl_->input_index(name);
  return i >= 0 && impl_->host_input[static_cast<size_t>(i)];
}

Status ExecutionContext::set_tensor_address(std::string_view name, void* ptr, BufferLocation where, uint64_t capacity) {
  Impl& m = *impl_;
  if (int i = m.input_index(name); i >= 0) {
    const auto k = static_cast<size_t>(i);
    if (m.host_input[k]) {
      if (where == BufferLocation::kDevice || where == BufferLocation::kMapped)
        return invalid_argument(fmt::format("{} is a host input (its values are kernel parameters, read on the host): "
                                            "bind host memory", m.host_io->what(cuda::IoSide::kInput, k)));
      m.addr.inputs[k] = ptr;
      return Status::OK();
    }
    SLIMRT_ASSIGN_OR_RETURN(void* device, m.host_io->bind(cuda::IoSide::kInput, k, ptr, where, capacity));
    m.addr.inputs[k] = device;
    return Status::OK();
  }
  if (int o = m.output_index(name); o >= 0) {
    const auto k = static_cast<size_t>(o);
    SLIMRT_ASSIGN_OR_RETURN(void* device, m.host_io->bind(cuda::IoSide::kOutput, k, ptr, where, capacity));
    m.addr.outputs[k] = device;
    return Status::OK();
  }
  return invalid_argument(fmt::format("'{}' is not an input or output of the engine (tensors: {})", name, m.tensor_names()));
}

BufferLocation ExecutionContext::tensor_location(std::string_view name) const {
  const Impl& m = *impl_;
  if (int i = m.input_index(name); i >= 0) {
    return m.host_input[static_cast<size_t>(i)] ? BufferLocation::kPageable
                                                : m.host_io->location(cuda::IoSide::kInput, static_cast<size_t>(i));
  }
  if (int o = m.output_index(name); o >= 0) return m.host_io->location(cuda::IoSide::kOutput, static_cast<size_t>(o));
  return BufferLocation::kDevice;
}

Status ExecutionContext::set_input_consumed_event(CudaEvent event) {
  impl_->input_consumed_event = event;
  return Status::OK();
}

Status ExecutionContext::set_outputs_computed_event(CudaEvent event) {
  impl_->outputs_computed_event = event;
  return Status::OK();
}

Status ExecutionContext::resolve_shapes() { return impl_->resolve(); }

Result<std::vector<int64_t>> ExecutionContext::tensor_shape(std::string_view name) {
  Impl& m = *impl_;
  if (int i = m.input_index(name); i >= 0 && m.input_set[static_cast<size_t>(i)]) return m.input_dims[static_cast<size_t>(i)];
  SLIMRT_RETURN_IF_ERROR(m.resolve());
  if (int o = m.output_index(name); o >= 0) return m.current->binding->output_dims(static_cast<size_t>(o));
  return invalid_argument(fmt::format("'{}' is not an input or output of the engine (tensors: {})", name, m.tensor_names()));
}

Result<const void*> ExecutionContext::output_address(std::string_view name) {
  Impl& m = *impl_;
  const int o = m.output_index(name);
  if (o < 0) return invalid_argument(fmt::format("'{}' is not an output of the engine", name));
  SLIMRT_RETURN_IF_ERROR(m.resolve());
  return m.current->binding->output_address(m.addr, static_cast<size_t>(o));
}

Status ExecutionContext::enqueue(CudaStream stream) {
  Impl& m = *impl_;
  if (!m.arena) return invalid_argument("enqueue: the context has no device memory: call set_device_memory first");
  SLIMRT_RETURN_IF_ERROR(m.resolve());
  for (size_t i = 0; i < m.addr.inputs.size(); ++i) {
    if (!m.addr.inputs[i] && numel_of(m.input_dims[i]) > 0)
      return invalid_argument(fmt::format("enqueue: input '{}' has no address: call set_tensor_address first",
                                          m.engine->graph().inputs()[i]->name()));
  }
  SLIMRT_RETURN_IF_ERROR(m.res->bind_stream(stream));
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamIsCapturing(stream, &capturing));
  // Every bound buffer against its stated capacity (and the copies' sizes).
  SLIMRT_RETURN_IF_ERROR(m.size_host_bindings());
  if (capturing != cudaStreamCaptureStatusNone && m.host_io->stages_pageable())
    return invalid_argument("enqueue: the stream is being captured into a CUDA graph, and a tensor is bound to pageable "
                            "memory, whose staging cannot be captured; bind pinned or device memory");
  ++m.stats.enqueues;
  SLIMRT_RETURN_IF_ERROR(m.host_io->copy_in(stream, &m.stats.bytes_to_device));
  const bool consumed_early = !m.host_io->reads_inputs_in_place();
  if (m.input_consumed_event && consumed_early)
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(m.input_consumed_event, stream));
  SLIMRT_RETURN_IF_ERROR(m.compute(stream, capturing == cudaStreamCaptureStatusNone));
  if (m.input_consumed_event && !consumed_early)
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(m.input_consumed_event, stream));
  if (m.outputs_computed_event) SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(m.outputs_computed_event, stream));
  SLIMRT_RETURN_IF_ERROR(m.host_io->copy_out(stream, &m.stats.bytes_to_host));
  return Status::OK();
}

Result<std::vector<LayerTime>> ExecutionContext::profile_layers(CudaStream stream, int iterations) {
  Impl& m = *impl_;
  if (!m.arena) return invalid_argument("profile_layers: the context has no device memory");
  if (iterations < 1) return invalid_argument("profile_layers: iterations must be at least 1");
  SLIMRT_RETURN_IF_ERROR(m.resolve());
  SLIMRT_RETURN_IF_ERROR(m.res->bind_stream(stream));
  Binding& b = *m.current->binding;
  const size_t n = b.num_launches();
  std::vector<cuda::Event> events(n + 1);
  std::vector<cudaEvent_t> marks(n + 1, nullptr);
  std::vector<std::vector<float>> times(n);
  Status s = [&]() -> Status {
    for (size_t i = 0; i <= n; ++i) {
      SLIMRT_ASSIGN_OR_RETURN(events[i], cuda::Event::create());
      marks[i] = events[i].get();
    }
    for (int it = 0; it < iterations; ++it) {
      SLIMRT_RETURN_IF_ERROR(b.enqueue(m.addr, stream, m.res->cublaslt(), m.res->cudnn_if_created(), marks.data()));
      SLIMRT_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
      for (size_t i = 0; i < n; ++i) {
        float ms = 0;
        SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, marks[i], marks[i + 1]));
        times[i].push_back(ms);
      }
    }
    return Status::OK();
  }();
  SLIMRT_RETURN_IF_ERROR(s);
  std::vector<LayerTime> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<float>& t = times[i];
    std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
    const Node* node = b.launch_node(i);
    out.push_back({node ? node->name() : std::string(), node ? node->op_type() : std::string(),
                   static_cast<double>(t[t.size() / 2])});
  }
  return out;
}

namespace {

// ExecutionContext::run through run_staged: shapes and addresses set on the context, then its
// own enqueue (CUDA graphs included).
class ContextRunner final : public cuda::StagedRunner {
 public:
  ContextRunner(ExecutionContext& ctx, const std::vector<bool>& host_input, void* arena)
      : ctx_(ctx), host_input_(host_input), arena_(arena) {}
  bool reads_on_host(size_t k) const override { return host_input_[k]; }
  Result<std::vector<std::vector<int64_t>>> prepare(const std::vector<std::vector<int64_t>>& dims,
                                                    const std::vector<const Tensor*>&,
                                                    const BindingAddresses& addr) override {
    const Graph& g = ctx_.engine().graph();
    for (size_t k = 0; k < dims.size(); ++k) {
      SLIMRT_RETURN_IF_ERROR(ctx_.set_input_shape(g.inputs()[k]->name(), dims[k]));
      SLIMRT_RETURN_IF_ERROR(ctx_.set_tensor_address(g.inputs()[k]->name(), const_cast<void*>(addr.inputs[k])));
    }
    std::vector<std::vector<int64_t>> out(g.outputs().size());
    for (size_t o = 0; o < out.size(); ++o) {
      SLIMRT_ASSIGN_OR_RETURN(out[o], ctx_.tensor_shape(g.outputs()[o]->name()));
    }
    return out;
  }
  void* scratch() const override { return arena_; }
  uint64_t scratch_bytes() const override { return ctx_.device_memory_size(); }
  Status enqueue(const BindingAddresses& addr, cudaStream_t stream) override {
    const Graph& g = ctx_.engine().graph();
    for (size_t o = 0; o < addr.outputs.size(); ++o) {
      SLIMRT_RETURN_IF_ERROR(ctx_.set_tensor_address(g.outputs()[o]->name(), addr.outputs[o]));
    }
    return ctx_.enqueue(stream);
  }

 private:
  ExecutionContext& ctx_;
  const std::vector<bool>& host_input_;
  void* arena_;
};

}  // namespace

Status ExecutionContext::run(const std::vector<NamedTensor>& inputs, std::vector<NamedTensor>* outputs, bool poison) {
  Impl& m = *impl_;
  SLIMRT_RETURN_IF_ERROR(cuda::select_device(m.engine->device()));
  SLIMRT_ASSIGN_OR_RETURN(cuda::Stream stream, cuda::Stream::create());
  const BindingAddresses saved = m.addr;
  ContextRunner runner(*this, m.host_input, m.arena);
  Status s = cuda::run_staged(runner, m.engine->graph(), inputs, poison, stream.get(), outputs);
  m.addr.inputs = saved.inputs;
  m.addr.outputs = saved.outputs;
  return s;
}

}  // namespace slimrt
