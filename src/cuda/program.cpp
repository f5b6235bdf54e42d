// Program and Binding: see program.h.
#include "cuda/program.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "cuda/device_resources.h"
#include "cuda/program_kernels.h"
#include "cuda/program_resolve.h"
#include "ir/graph_inputs.h"

namespace slimrt::cuda {
namespace {

uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

std::string dims_string(const std::vector<int64_t>& d) { return fmt::format("[{}]", fmt::join(d, ",")); }

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
  Resolver r(*this);
  SLIMRT_RETURN_IF_ERROR(r.seed(input_dims, input_host));
  // Node by node: a node's shapes may read an earlier node's host values.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    SLIMRT_RETURN_IF_ERROR(r.shapes(i));
    SLIMRT_RETURN_IF_ERROR(r.host_values(i));
    if (r.launches_kernel(i)) SLIMRT_RETURN_IF_ERROR(r.kernel(i, res));
  }
  SLIMRT_RETURN_IF_ERROR(r.launches());
  return r.take();
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
