// Program and Binding: see program.h.
#include "cuda/program.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "cuda/device_resources.h"
#include "cuda/program_kernels.h"
#include "ir/graph_inputs.h"
#include "ir/op_registry.h"
#include "slimrt/backend.h"

namespace slimrt::cuda {
namespace {

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

std::string dims_string(const std::vector<int64_t>& d) { return fmt::format("[{}]", fmt::join(d, ",")); }

bool is_integer(DataType t) { return !dtype_is_float(t) && t != DataType::kBool && t != DataType::kUndefined; }

// A host tensor from the integer elements shape inference knows, when every one is static.
std::unique_ptr<Tensor> tensor_from_known(DataType dtype, const std::vector<int64_t>& dims,
                                          const std::vector<Dim>& known) {
  if (!is_integer(dtype) || static_cast<int64_t>(known.size()) != numel_of(dims)) return nullptr;
  auto t = Tensor::allocate(dtype, dims);
  if (!t.ok()) return nullptr;
  for (size_t i = 0; i < known.size(); ++i) {
    std::optional<int64_t> v = known[i].value();
    if (!v) return nullptr;
    switch (dtype) {
      case DataType::kInt64: t->data<int64_t>()[i] = *v; break;
      case DataType::kInt32: t->data<int32_t>()[i] = static_cast<int32_t>(*v); break;
      case DataType::kInt8: t->data<int8_t>()[i] = static_cast<int8_t>(*v); break;
      case DataType::kUInt8: t->data<uint8_t>()[i] = static_cast<uint8_t>(*v); break;
      default: return nullptr;
    }
  }
  return std::make_unique<Tensor>(std::move(*t));
}

}  // namespace

ArenaLayout arena_layout_from_plan(const ActivationPlan& plan) {
  ArenaLayout layout;
  for (const ActivationBuffer& b : plan.buffers) {
    layout[b.value] = {static_cast<uint64_t>(b.offset), static_cast<uint64_t>(b.size)};
  }
  return layout;
}

Result<std::unique_ptr<Program>> Program::create(const Graph& graph,
                                                 std::unordered_map<const Value*, const void*> device_constants,
                                                 ArenaLayout layout, uint64_t activation_bytes,
                                                 const ProgramOptions& options) {
  std::unique_ptr<Program> p(new Program(graph));
  p->options_ = options;
  p->nodes_ = graph.nodes();
  for (Value* v : graph.values()) {
    ValueInfo info;
    info.value = v;
    if (v->constant()) {
      info.host_constant = v->constant()->memory_kind() == MemoryKind::kDevice ? nullptr : v->constant();
      auto it = device_constants.find(v);
      if (it != device_constants.end()) {
        info.device_constant = it->second;
      } else if (v->constant()->memory_kind() == MemoryKind::kDevice) {
        info.device_constant = v->constant()->raw();
      }
    }
    p->index_[v] = static_cast<int32_t>(p->values_.size());
    p->values_.push_back(info);
  }
  SLIMRT_RETURN_IF_ERROR(p->set_arena_layout(layout, activation_bytes));
  for (size_t i = 0; i < graph.inputs().size(); ++i) p->values_[p->index_.at(graph.inputs()[i])].input_index = static_cast<int32_t>(i);
  for (const Value* out : graph.outputs()) p->outputs_.push_back(p->index_.at(out));

  // Graph inputs whose data a kernel needs on the host (the op table's host inputs, which the
  // kernels' KernelDef::host_inputs repeat; the engine describes the same inputs as host inputs).
  p->needs_host_value_ = inputs_read_on_host(graph);
  return p;
}

Status Program::set_arena_layout(const ArenaLayout& layout, uint64_t activation_bytes) {
  for (ValueInfo& info : values_) {
    const Value* v = info.value;
    info.planned = false;
    info.slot = {};
    auto slot = layout.find(v->name());
    if (slot == layout.end() || v->constant() || v->is_graph_input()) continue;
    if (slot->second.offset + slot->second.bytes > activation_bytes)
      return internal_error(fmt::format("value '{}': planned slot [{}, +{}) lies outside the {}-byte arena", v->name(),
                                        slot->second.offset, slot->second.bytes, activation_bytes));
    info.planned = true;
    info.slot = slot->second;
  }
  activation_bytes_ = activation_bytes;
  workspace_offset_ = round_up(activation_bytes, kArenaAlignment);
  return Status::OK();
}

Result<std::unique_ptr<Binding>> Program::resolve(const std::vector<std::vector<int64_t>>& input_dims,
                                                  DeviceResources& res,
                                                  const std::vector<const Tensor*>* input_host) const {
  if (input_dims.size() != graph_.inputs().size())
    return invalid_argument(fmt::format("{} input shapes given; the graph has {} inputs", input_dims.size(),
                                        graph_.inputs().size()));
  auto b = std::unique_ptr<Binding>(new Binding());
  b->program_ = this;
  const size_t nv = values_.size();
  b->dims_.assign(nv, {});
  b->host_.resize(nv);
  std::vector<bool> known(nv, false);   // dims known
  // Derived from input data the caller gave on the host: usable for shapes and host inputs, but
  // the node still runs its device kernel (the CUDA backend must compute what it is asked to).
  std::vector<bool> from_input(nv, false);
  std::vector<bool> on_device(nv, false);  // some device kernel or output reads the data
  for (size_t i = 0; i < nv; ++i) {
    const ValueInfo& vi = values_[i];
    if (vi.input_index >= 0) {
      b->dims_[i] = input_dims[static_cast<size_t>(vi.input_index)];
      known[i] = true;
      const size_t k = static_cast<size_t>(vi.input_index);
      if (input_host && k < input_host->size() && (*input_host)[k]) {
        SLIMRT_ASSIGN_OR_RETURN(Tensor copy, (*input_host)[k]->clone());
        b->host_[i] = std::make_unique<Tensor>(std::move(copy));
        // A host-only input is a parameter, not data: what is computed from it alone is
        // evaluated here like shape arithmetic.
        from_input[i] = !(k < host_only_.size() && host_only_[k]);
      }
    } else if (const Tensor* c = vi.value->constant()) {
      b->dims_[i] = c->shape();
      known[i] = true;
    }
  }
  std::unique_ptr<ConstantEvaluator> evaluator = make_cpu_constant_evaluator();

  // Pass 1: dims, host-known values and kernels, node by node.
  struct Pending {
    const Node* node;
    std::unique_ptr<Kernel> kernel;
    uint32_t host_mask = 0;
    bool host_evaluated = false;
  };
  std::vector<Pending> pending;
  pending.reserve(nodes_.size());
  for (const Node* node : nodes_) {
    const OpDef* def = OpRegistry::get().find(node->op_type());
    if (!def) return unsupported(node->describe() + ": unknown op '" + node->op_type() + "'");
    std::vector<Shape> shapes(node->num_inputs());
    std::vector<ShapeContext::InputInfo> infos(node->num_inputs());
    std::vector<const Tensor*> host_inputs(node->num_inputs(), nullptr);
    bool all_host = true;
    bool tainted = false;
    for (size_t k = 0; k < node->num_inputs(); ++k) {
      const Value* in = node->input(k);
      if (!in) continue;
      const int32_t vi = index_.at(in);
      tainted = tainted || from_input[vi];
      if (!known[static_cast<size_t>(vi)])
        return internal_error(node->describe() + ": input '" + in->name() + "' has no shape at run time");
      shapes[k] = shape_from_static(b->dims_[vi]);
      infos[k].dtype = in->dtype();
      infos[k].shape = &shapes[k];
      const Tensor* host = b->host_[vi] ? b->host_[vi].get() : values_[vi].host_constant;
      infos[k].constant = host;
      host_inputs[k] = host;
      if (!host) all_host = false;
    }
    ShapeContext ctx(*node, std::move(infos), node->num_outputs());
    SLIMRT_RETURN_IF_ERROR(def->infer(ctx));
    const KernelDef* kdef = KernelRegistry::get().find(node->op_type());
    // An op without a CUDA kernel whose output shape depends on data (NonZero, Compress) can
    // still be evaluated here when all its inputs are small and known on the host.
    std::vector<Tensor> evaluated;
    if (!kdef && all_host) {
      auto r = evaluator->evaluate(*node, host_inputs);
      if (r.ok() && r->size() == node->num_outputs()) {
        bool small = true;
        for (const Tensor& t : *r) small = small && t.numel() <= kMaxHostValueElements;
        if (small) evaluated = std::move(*r);
      }
    }
    bool outputs_small = true;
    bool outputs_known = true;
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      const Value* out = node->output(k);
      if (!out) continue;
      const int32_t vo = index_.at(out);
      const auto& o = ctx.output(k);
      if (!evaluated.empty()) {
        b->dims_[vo] = evaluated[k].shape();
        known[vo] = true;
        from_input[vo] = tainted;
        b->host_[vo] = std::make_unique<Tensor>(std::move(evaluated[k]));
        continue;
      }
      if (!o.shape) return internal_error(node->describe() + ": output " + std::to_string(k) + " has no shape at run time");
      std::optional<std::vector<int64_t>> dims = shape_to_static(*o.shape);
      if (!dims)
        return unsupported(fmt::format("{}: output '{}' has shape {}, which depends on the input data; the CUDA "
                                       "backend needs every shape known from the input shapes alone",
                                       node->describe(), out->name(), shape_to_string(*o.shape)));
      b->dims_[vo] = *dims;
      known[vo] = true;
      from_input[vo] = tainted;
      if (const Tensor* c = out->constant()) {  // folded by shape inference: the upload has it
        b->host_[vo] = std::make_unique<Tensor>(*c);
        continue;
      }
      outputs_small = outputs_small && numel_of(*dims) <= kMaxHostValueElements;
      if (o.value) b->host_[vo] = tensor_from_known(o.dtype, *dims, *o.value);
      if (!b->host_[vo]) outputs_known = false;
    }
    Pending pend{node, nullptr, 0, false};
    if (!outputs_known && all_host && outputs_small) {
      // Small arithmetic on host-known data (Range, Concat of shapes, ...): evaluate it here.
      auto r = evaluator->evaluate(*node, host_inputs);
      if (r.ok() && r->size() == node->num_outputs()) {
        outputs_known = true;
        for (size_t k = 0; k < node->num_outputs(); ++k) {
          if (!node->output(k)) continue;
          const int32_t vo = index_.at(node->output(k));
          if ((*r)[k].shape() != b->dims_[vo]) {
            outputs_known = false;
            break;
          }
          b->host_[vo] = std::make_unique<Tensor>(std::move((*r)[k]));
        }
      }
    }
    if (outputs_known) {
      // Known on the host. It launches nothing, unless its data is too big to be written from
      // a kernel parameter and a device kernel exists to compute it (then both: the host copy
      // serves host inputs, the kernel the device).
      bool small = true;
      for (size_t k = 0; k < node->num_outputs(); ++k) {
        if (const Value* out = node->output(k)) small = small && b->host_[index_.at(out)]->bytes() <= kMaxSmallValueBytes;
      }
      if (!kdef || (small && !tainted)) {
        pend.host_evaluated = true;
        pending.push_back(std::move(pend));
        continue;
      }
    }
    // A device kernel.
    if (!kdef) return unsupported(node->describe() + ": the CUDA backend has no kernel for op '" + node->op_type() + "'");
    cudnnHandle_t cudnn = nullptr;
    if (kdef->needs_cudnn) {
      SLIMRT_ASSIGN_OR_RETURN(cudnn, res.cudnn());
    }
    PrepareArgs args{*node, {}, {}, res.props(), res.cublaslt(), cudnn, options_.workspace_bytes, options_.allow_tf32};
    args.inputs.resize(node->num_inputs());
    for (size_t k = 0; k < node->num_inputs(); ++k) {
      const Value* in = node->input(k);
      if (!in) continue;
      const int32_t vi = index_.at(in);
      args.inputs[k] = {in->dtype(), b->dims_[vi], host_inputs[k]};
      const bool host_only = k < 32 && (kdef->host_inputs >> k) & 1u;
      if (host_only && !host_inputs[k])
        return unsupported(fmt::format("{}: input {} ('{}') must be known before the run (a constant or computed "
                                       "from shapes) on the CUDA backend",
                                       node->describe(), k, in->name()));
      if (!host_only) on_device[vi] = true;
    }
    args.outputs.resize(node->num_outputs());
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      if (const Value* out = node->output(k)) args.outputs[k] = {ctx.output(k).dtype, b->dims_[index_.at(out)], nullptr};
    }
    auto kernel = kdef->create(args);
    if (!kernel.ok()) return kernel.status();
    const uint64_t ws = (*kernel)->workspace_bytes();
    if (ws > options_.workspace_bytes)
      return internal_error(fmt::format("{}: the kernel asks for {} bytes of workspace; the limit is {}", node->describe(),
                                        ws, options_.workspace_bytes));
    b->workspace_needed_ = std::max(b->workspace_needed_, ws);
    pend.kernel = std::move(*kernel);
    pend.host_mask = kdef->host_inputs;
    pending.push_back(std::move(pend));
  }
  for (int32_t o : outputs_) on_device[o] = true;
  for (size_t i = 0; i < host_only_.size() && i < graph_.inputs().size(); ++i) {
    if (!host_only_[i]) continue;
    const Value* in = graph_.inputs()[i];
    if (on_device[static_cast<size_t>(index_.at(in))]) {
      std::string readers;
      for (const Node* c : in->consumers()) readers += (readers.empty() ? "" : ", ") + c->describe();
      return unsupported(fmt::format("input '{}' is a host input (its values are kernel parameters, read from host "
                                     "memory at enqueue) but a device kernel or graph output also reads its data "
                                     "(consumers: {}); the CUDA backend does not support that",
                                     in->name(), readers));
    }
  }

  // Pass 2: launches in node order, pointer tables sized.
  int32_t n_in = 0, n_out = 0;
  for (Pending& pend : pending) {
    const Node* node = pend.node;
    if (pend.host_evaluated) {
      for (size_t k = 0; k < node->num_outputs(); ++k) {
        const Value* out = node->output(k);
        if (!out) continue;
        const int32_t vo = index_.at(out);
        if (!on_device[vo] || numel_of(b->dims_[vo]) == 0 || out->constant()) continue;
        const Tensor& t = *b->host_[vo];
        if (t.bytes() > kMaxSmallValueBytes)
          return unsupported(fmt::format("{}: output '{}' ({} bytes) is computed on the host and read on the device; "
                                         "at most {} bytes are supported",
                                         node->describe(), out->name(), t.bytes(), kMaxSmallValueBytes));
        Binding::Launch l;
        l.node = node;
        l.known_value = vo;
        l.known.assign(static_cast<const uint8_t*>(t.raw()), static_cast<const uint8_t*>(t.raw()) + t.bytes());
        b->launches_.push_back(std::move(l));
      }
      continue;
    }
    Binding::Launch l;
    l.node = node;
    l.kernel = std::move(pend.kernel);
    l.first_in = n_in;
    l.num_in = static_cast<int32_t>(node->num_inputs());
    l.first_out = n_out;
    l.num_out = static_cast<int32_t>(node->num_outputs());
    for (size_t k = 0; k < node->num_inputs(); ++k) {
      const Value* in = node->input(k);
      l.in_values.push_back(in ? index_.at(in) : -1);
      l.host_input.push_back(k < 32 && ((pend.host_mask >> k) & 1u) ? 1 : 0);
    }
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      const Value* out = node->output(k);
      l.out_values.push_back(out ? index_.at(out) : -1);
    }
    n_in += l.num_in;
    n_out += l.num_out;
    b->launches_.push_back(std::move(l));
  }
  b->in_table_.assign(static_cast<size_t>(n_in), nullptr);
  b->out_table_.assign(static_cast<size_t>(n_out), nullptr);

  for (size_t i = 0; i < outputs_.size(); ++i) {
    const ValueInfo& vi = values_[outputs_[i]];
    if (vi.input_index >= 0 || vi.value->constant()) b->copies_.push_back({outputs_[i], i});
  }
  return b;
}

Status Binding::check_planned() const {
  const auto& values = program_->values_;
  for (const Launch& l : launches_) {
    std::vector<int32_t> written = l.out_values;
    if (l.known_value >= 0) written.push_back(l.known_value);
    for (int32_t v : written) {
      if (v < 0) continue;
      const Program::ValueInfo& vi = values[v];
      const uint64_t bytes = static_cast<uint64_t>(numel_of(dims_[v])) * dtype_size(vi.value->dtype());
      if (!vi.planned)
        return internal_error(fmt::format("{}: value '{}' has no planned memory", l.node->describe(), vi.value->name()));
      if (bytes > vi.slot.bytes)
        return out_of_range(fmt::format("{}: value '{}' needs {} bytes at shape {}, but its planned slot holds {} "
                                        "(the input shapes are outside the profile the memory was planned for)",
                                        l.node->describe(), vi.value->name(), bytes, dims_string(dims_[v]),
                                        vi.slot.bytes));
    }
  }
  return Status::OK();
}

Result<ConcretePlan> Binding::plan_concrete() const {
  // Every value a launch writes, live from that launch to its last device reader (graph outputs
  // to the end), planned at its exact size.
  const auto& values = program_->values_;
  const int32_t n = static_cast<int32_t>(launches_.size());
  std::vector<int32_t> first(values.size(), -1), last(values.size(), -1);
  for (int32_t t = 0; t < n; ++t) {
    const Launch& l = launches_[t];
    std::vector<int32_t> written = l.out_values;
    if (l.known_value >= 0) written.push_back(l.known_value);
    for (int32_t v : written) {
      if (v < 0) continue;
      if (first[v] < 0) first[v] = t;
      last[v] = std::max(last[v], t);
    }
    for (size_t k = 0; k < l.in_values.size(); ++k) {
      const int32_t v = l.in_values[k];
      if (v >= 0 && !l.host_input[k]) last[v] = std::max(last[v], t);
    }
  }
  for (int32_t o : program_->outputs_) last[o] = std::max(last[o], n - 1);
  MemoryPlanner planner;
  std::vector<int32_t> ids;
  for (size_t v = 0; v < values.size(); ++v) {
    if (first[v] < 0 || values[v].value->constant() || values[v].input_index >= 0) continue;
    const int64_t bytes = numel_of(dims_[v]) * static_cast<int64_t>(dtype_size(values[v].value->dtype()));
    planner.add_buffer({bytes, first[v], std::max(first[v], last[v]), 0, -1});
    ids.push_back(static_cast<int32_t>(v));
  }
  SLIMRT_ASSIGN_OR_RETURN(MemoryPlan plan, planner.plan());
  ConcretePlan out;
  out.activation_bytes = static_cast<uint64_t>(plan.arena_bytes);
  for (size_t i = 0; i < ids.size(); ++i) {
    const Program::ValueInfo& vi = values[ids[i]];
    out.layout[vi.value->name()] = {static_cast<uint64_t>(plan.offsets[i]),
                                    static_cast<uint64_t>(numel_of(dims_[ids[i]])) * dtype_size(vi.value->dtype())};
  }
  return out;
}

const std::vector<int64_t>& Binding::dims(const Value* v) const { return dims_[program_->index_.at(v)]; }

void* Binding::value_address(int32_t v, const BindingAddresses& addr) const {
  const Program::ValueInfo& vi = program_->values_[v];
  if (vi.input_index >= 0) return const_cast<void*>(addr.inputs[static_cast<size_t>(vi.input_index)]);
  if (vi.value->constant()) return const_cast<void*>(vi.device_constant);
  if (vi.value->is_graph_output()) {
    for (size_t k = 0; k < program_->outputs_.size(); ++k) {
      if (program_->outputs_[k] == v && k < addr.outputs.size() && addr.outputs[k]) return addr.outputs[k];
    }
  }
  if (!vi.planned) return nullptr;
  return static_cast<uint8_t*>(addr.arena) + vi.slot.offset;
}

const void* Binding::output_address(const BindingAddresses& addr, size_t i) const {
  if (i < addr.outputs.size() && addr.outputs[i]) return addr.outputs[i];
  return value_address(program_->outputs_[i], addr);
}

Status Binding::bind(const BindingAddresses& addr) {
  if (bound_valid_ && bound_.arena == addr.arena && bound_.inputs == addr.inputs && bound_.outputs == addr.outputs)
    return Status::OK();
  for (const Launch& l : launches_) {
    if (!l.kernel) continue;
    for (int32_t k = 0; k < l.num_in; ++k) {
      const int32_t v = l.in_values[k];
      const void* p = v < 0 ? nullptr : value_address(v, addr);
      if (v >= 0 && !p && !l.host_input[k])
        return internal_error(fmt::format("{}: input {} ('{}') has no device address", l.node->describe(), k,
                                          program_->values_[v].value->name()));
      in_table_[static_cast<size_t>(l.first_in + k)] = p;
    }
    for (int32_t k = 0; k < l.num_out; ++k) {
      const int32_t v = l.out_values[k];
      out_table_[static_cast<size_t>(l.first_out + k)] = v < 0 ? nullptr : value_address(v, addr);
    }
  }
  // Copying into bound_ reuses its vectors' capacity after the first bind of each size.
  bound_.arena = addr.arena;
  bound_.inputs.assign(addr.inputs.begin(), addr.inputs.end());
  bound_.outputs.assign(addr.outputs.begin(), addr.outputs.end());
  bound_valid_ = true;
  return Status::OK();
}

Status Binding::enqueue(const BindingAddresses& addr, cudaStream_t stream, cublasLtHandle_t cublaslt,
                        cudnnHandle_t cudnn, cudaEvent_t* marks) {
  SLIMRT_RETURN_IF_ERROR(bind(addr));
  void* workspace = static_cast<uint8_t*>(addr.arena) + program_->workspace_offset_;
  for (size_t li = 0; li < launches_.size(); ++li) {
    const Launch& l = launches_[li];
    if (marks) SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(marks[li], stream));
    if (!l.kernel) {
      SLIMRT_RETURN_IF_ERROR(write_small_values(value_address(l.known_value, addr), l.known.data(),
                                                static_cast<uint32_t>(l.known.size()), stream));
      continue;
    }
    LaunchArgs args;
    args.inputs = in_table_.data() + l.first_in;
    args.outputs = out_table_.data() + l.first_out;
    args.num_inputs = static_cast<size_t>(l.num_in);
    args.num_outputs = static_cast<size_t>(l.num_out);
    args.workspace = workspace;
    args.workspace_bytes = program_->workspace_bytes();
    args.stream = stream;
    args.cublaslt = cublaslt;
    args.cudnn = cudnn;
    Status s = l.kernel->enqueue(args);
    if (!s.ok()) return Status(s.code(), l.node->describe() + ": " + s.message());
  }
  if (marks) SLIMRT_CUDA_RETURN_IF_ERROR(cudaEventRecord(marks[launches_.size()], stream));
  for (const Copy& c : copies_) {
    const void* src = value_address(c.value, addr);
    void* dst = c.output < addr.outputs.size() ? addr.outputs[c.output] : nullptr;
    const uint64_t bytes =
        static_cast<uint64_t>(numel_of(dims_[c.value])) * dtype_size(program_->values_[c.value].value->dtype());
    if (!dst || dst == src || bytes == 0) continue;
    SLIMRT_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream),
                                       "copying a graph output");
  }
  // Kernel launches and the copies of helpers that return nothing (SLIMRT_CUDA_DEFERRED) report
  // their errors here.
  return SLIMRT_CUDA(cudaGetLastError(), "launching the engine's kernels");
}

}  // namespace slimrt::cuda
