// Program::resolve's steps: see program_resolve.h.
#include "cuda/program_resolve.h"

#include <fmt/format.h>

#include <algorithm>

#include "cuda/device_resources.h"
#include "cuda/program_kernels.h"
#include "slimrt/backend.h"

namespace slimrt::cuda {
namespace {

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

Resolver::Resolver(const Program& program) : p_(program) {}

Status Resolver::check_order(size_t i, bool next, const char* step) const {
  if (b_ && i < p_.nodes_.size() && i + (next ? 0 : 1) == nodes_.size()) return Status::OK();
  return internal_error(fmt::format("resolve: step '{}' for node {} out of order ({} nodes resolved)", step, i,
                                    nodes_.size()));
}

// ---- 1. shapes -------------------------------------------------------------------------------

Status Resolver::seed(const std::vector<std::vector<int64_t>>& input_dims,
                      const std::vector<const Tensor*>* input_host) {
  const Graph& graph = p_.graph_;
  if (input_dims.size() != graph.inputs().size())
    return invalid_argument(fmt::format("{} input shapes given; the graph has {} inputs", input_dims.size(),
                                        graph.inputs().size()));
  b_ = std::unique_ptr<Binding>(new Binding());
  b_->program_ = &p_;
  const size_t nv = p_.values_.size();
  b_->dims_.assign(nv, {});
  b_->host_.resize(nv);
  known_.assign(nv, false);
  from_input_.assign(nv, false);
  on_device_.assign(nv, false);
  nodes_.clear();
  for (size_t i = 0; i < nv; ++i) {
    const Program::ValueInfo& vi = p_.values_[i];
    if (vi.input_index >= 0) {
      b_->dims_[i] = input_dims[static_cast<size_t>(vi.input_index)];
      known_[i] = true;
      const size_t k = static_cast<size_t>(vi.input_index);
      if (input_host && k < input_host->size() && (*input_host)[k]) {
        SLIMRT_ASSIGN_OR_RETURN(Tensor copy, (*input_host)[k]->clone());
        b_->host_[i] = std::make_unique<Tensor>(std::move(copy));
        // A host-only input is a parameter, not data: what is computed from it alone is
        // evaluated here like shape arithmetic.
        from_input_[i] = !(k < p_.host_only_.size() && p_.host_only_[k]);
      }
    } else if (const Tensor* c = vi.value->constant()) {
      b_->dims_[i] = c->shape();
      known_[i] = true;
    }
  }
  evaluator_ = make_cpu_constant_evaluator();
  nodes_.reserve(p_.nodes_.size());
  return Status::OK();
}

Status Resolver::shapes(size_t i) {
  SLIMRT_RETURN_IF_ERROR(check_order(i, true, "shapes"));
  const Node* node = p_.nodes_[i];
  const OpDef* def = OpRegistry::get().find(node->op_type());
  if (!def) return unsupported(node->describe() + ": unknown op '" + node->op_type() + "'");
  Current& c = cur_;
  c.shapes.assign(node->num_inputs(), Shape{});
  c.host_inputs.assign(node->num_inputs(), nullptr);
  c.all_host = true;
  c.tainted = false;
  c.ctx.reset();
  c.evaluated.clear();
  std::vector<ShapeContext::InputInfo> infos(node->num_inputs());
  for (size_t k = 0; k < node->num_inputs(); ++k) {
    const Value* in = node->input(k);
    if (!in) continue;
    const int32_t vi = index(in);
    c.tainted = c.tainted || from_input_[vi];
    if (!known_[static_cast<size_t>(vi)])
      return internal_error(node->describe() + ": input '" + in->name() + "' has no shape at run time");
    c.shapes[k] = shape_from_static(b_->dims_[vi]);
    infos[k].dtype = in->dtype();
    infos[k].shape = &c.shapes[k];
    const Tensor* host = b_->host_[vi] ? b_->host_[vi].get() : p_.values_[vi].host_constant;
    infos[k].constant = host;
    c.host_inputs[k] = host;
    if (!host) c.all_host = false;
  }
  c.ctx.emplace(*node, std::move(infos), node->num_outputs());
  SLIMRT_RETURN_IF_ERROR(def->infer(*c.ctx));
  c.kdef = KernelRegistry::get().find(node->op_type());
  // An op without a CUDA kernel whose output shape depends on data (NonZero, Compress) can
  // still be evaluated here when all its inputs are small and known on the host.
  if (!c.kdef && c.all_host) {
    auto r = evaluator_->evaluate(*node, c.host_inputs);
    if (r.ok() && r->size() == node->num_outputs()) {
      bool small = true;
      for (const Tensor& t : *r) small = small && t.numel() <= kMaxHostValueElements;
      if (small) c.evaluated = std::move(*r);
    }
  }
  for (size_t k = 0; k < node->num_outputs(); ++k) {
    const Value* out = node->output(k);
    if (!out) continue;
    const int32_t vo = index(out);
    if (!c.evaluated.empty()) {
      b_->dims_[vo] = c.evaluated[k].shape();
      known_[vo] = true;
      continue;
    }
    const auto& o = c.ctx->output(k);
    if (!o.shape)
      return internal_error(node->describe() + ": output " + std::to_string(k) + " has no shape at run time");
    std::optional<std::vector<int64_t>> dims = shape_to_static(*o.shape);
    if (!dims)
      return unsupported(fmt::format("{}: output '{}' has shape {}, which depends on the input data; the CUDA "
                                     "backend needs every shape known from the input shapes alone",
                                     node->describe(), out->name(), shape_to_string(*o.shape)));
    b_->dims_[vo] = std::move(*dims);
    known_[vo] = true;
  }
  nodes_.push_back(NodeResult{node, false, nullptr, 0});
  return Status::OK();
}

// ---- 2. host values --------------------------------------------------------------------------

Status Resolver::host_values(size_t i) {
  SLIMRT_RETURN_IF_ERROR(check_order(i, false, "host_values"));
  const Node* node = p_.nodes_[i];
  Current& c = cur_;
  bool outputs_small = true;
  bool outputs_known = true;
  for (size_t k = 0; k < node->num_outputs(); ++k) {
    const Value* out = node->output(k);
    if (!out) continue;
    const int32_t vo = index(out);
    from_input_[vo] = c.tainted;
    if (!c.evaluated.empty()) {
      b_->host_[vo] = std::make_unique<Tensor>(std::move(c.evaluated[k]));
      continue;
    }
    if (const Tensor* t = out->constant()) {  // folded by shape inference: the upload has it
      b_->host_[vo] = std::make_unique<Tensor>(*t);
      continue;
    }
    const std::vector<int64_t>& dims = b_->dims_[vo];
    outputs_small = outputs_small && numel_of(dims) <= kMaxHostValueElements;
    const auto& o = c.ctx->output(k);
    if (o.value) b_->host_[vo] = tensor_from_known(o.dtype, dims, *o.value);
    if (!b_->host_[vo]) outputs_known = false;
  }
  if (!outputs_known && c.all_host && outputs_small) {
    // Small arithmetic on host-known data (Range, Concat of shapes, ...): evaluate it here.
    auto r = evaluator_->evaluate(*node, c.host_inputs);
    if (r.ok() && r->size() == node->num_outputs()) {
      outputs_known = true;
      for (size_t k = 0; k < node->num_outputs(); ++k) {
        if (!node->output(k)) continue;
        const int32_t vo = index(node->output(k));
        if ((*r)[k].shape() != b_->dims_[vo]) {
          outputs_known = false;
          break;
        }
        b_->host_[vo] = std::make_unique<Tensor>(std::move((*r)[k]));
      }
    }
  }
  if (outputs_known) {
    // Known on the host. It launches nothing, unless its data is too big to be written from
    // a kernel parameter and a device kernel exists to compute it (then both: the host copy
    // serves host inputs, the kernel the device).
    bool small = true;
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      if (const Value* out = node->output(k)) small = small && b_->host_[index(out)]->bytes() <= kMaxSmallValueBytes;
    }
    if (!c.kdef || (small && !c.tainted)) nodes_[i].host_evaluated = true;
  }
  return Status::OK();
}

// ---- 3. kernels ------------------------------------------------------------------------------

Status Resolver::kernel(size_t i, DeviceResources& res) { return make_kernel(i, &res, nullptr); }

Status Resolver::kernel(size_t i, std::unique_ptr<Kernel> given) { return make_kernel(i, nullptr, std::move(given)); }

Status Resolver::make_kernel(size_t i, DeviceResources* res, std::unique_ptr<Kernel> given) {
  SLIMRT_RETURN_IF_ERROR(check_order(i, false, "kernel"));
  const Node* node = p_.nodes_[i];
  const KernelDef* kdef = cur_.kdef;
  if (!kdef) return unsupported(node->describe() + ": the CUDA backend has no kernel for op '" + node->op_type() + "'");
  cudnnHandle_t cudnn = nullptr;
  if (kdef->needs_cudnn && res) {
    SLIMRT_ASSIGN_OR_RETURN(cudnn, res->cudnn());
  }
  std::vector<TensorInfo> inputs(node->num_inputs());
  for (size_t k = 0; k < node->num_inputs(); ++k) {
    const Value* in = node->input(k);
    if (!in) continue;
    const int32_t vi = index(in);
    inputs[k] = {in->dtype(), b_->dims_[vi], cur_.host_inputs[k]};
    const bool host_only = k < 32 && (kdef->host_inputs >> k) & 1u;
    if (host_only && !cur_.host_inputs[k])
      return unsupported(fmt::format("{}: input {} ('{}') must be known before the run (a constant or computed "
                                     "from shapes) on the CUDA backend",
                                     node->describe(), k, in->name()));
    if (!host_only) on_device_[vi] = true;
  }
  std::unique_ptr<Kernel> kernel = std::move(given);
  if (res) {
    PrepareArgs args{*node, std::move(inputs), {}, res->props(), res->cublaslt(), cudnn, p_.options_.workspace_bytes,
                     p_.options_.allow_tf32};
    args.outputs.resize(node->num_outputs());
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      const Value* out = node->output(k);
      if (out) args.outputs[k] = {cur_.ctx->output(k).dtype, b_->dims_[index(out)], nullptr};
    }
    auto created = kdef->create(args);
    if (!created.ok()) return created.status();
    kernel = std::move(*created);
  } else if (!kernel) {
    return internal_error(node->describe() + ": no kernel given");
  }
  const uint64_t ws = kernel->workspace_bytes();
  if (ws > p_.options_.workspace_bytes)
    return internal_error(fmt::format("{}: the kernel asks for {} bytes of workspace; the limit is {}",
                                      node->describe(), ws, p_.options_.workspace_bytes));
  b_->workspace_needed_ = std::max(b_->workspace_needed_, ws);
  nodes_[i].kernel = std::move(kernel);
  nodes_[i].host_mask = kdef->host_inputs;
  return Status::OK();
}

// ---- 4. launches -----------------------------------------------------------------------------

Status Resolver::launches() {
  if (!b_ || nodes_.size() != p_.nodes_.size())
    return internal_error(
        fmt::format("resolve: step 'launches' after {} of {} nodes", nodes_.size(), p_.nodes_.size()));
  for (int32_t o : p_.outputs_) on_device_[o] = true;
  const Graph& graph = p_.graph_;
  for (size_t i = 0; i < p_.host_only_.size() && i < graph.inputs().size(); ++i) {
    if (!p_.host_only_[i]) continue;
    const Value* in = graph.inputs()[i];
    if (on_device_[static_cast<size_t>(index(in))]) {
      std::string readers;
      for (const Node* c : in->consumers()) readers += (readers.empty() ? "" : ", ") + c->describe();
      return unsupported(fmt::format("input '{}' is a host input (its values are kernel parameters, read from host "
                                     "memory at enqueue) but a device kernel or graph output also reads its data "
                                     "(consumers: {}); the CUDA backend does not support that",
                                     in->name(), readers));
    }
  }

  // Launches in node order, pointer tables sized.
  int32_t n_in = 0, n_out = 0;
  for (NodeResult& r : nodes_) {
    const Node* node = r.node;
    if (r.host_evaluated) {
      for (size_t k = 0; k < node->num_outputs(); ++k) {
        const Value* out = node->output(k);
        if (!out) continue;
        const int32_t vo = index(out);
        if (!on_device_[vo] || numel_of(b_->dims_[vo]) == 0 || out->constant()) continue;
        const Tensor& t = *b_->host_[vo];
        if (t.bytes() > kMaxSmallValueBytes)
          return unsupported(fmt::format("{}: output '{}' ({} bytes) is computed on the host and read on the device; "
                                         "at most {} bytes are supported",
                                         node->describe(), out->name(), t.bytes(), kMaxSmallValueBytes));
        Binding::Launch l;
        l.node = node;
        l.known_value = vo;
        l.known.assign(static_cast<const uint8_t*>(t.raw()), static_cast<const uint8_t*>(t.raw()) + t.bytes());
        b_->launches_.push_back(std::move(l));
      }
      continue;
    }
    if (!r.kernel) return internal_error(node->describe() + ": no kernel (step 'kernel' did not run)");
    Binding::Launch l;
    l.node = node;
    l.kernel = std::move(r.kernel);
    l.first_in = n_in;
    l.num_in = static_cast<int32_t>(node->num_inputs());
    l.first_out = n_out;
    l.num_out = static_cast<int32_t>(node->num_outputs());
    for (size_t k = 0; k < node->num_inputs(); ++k) {
      const Value* in = node->input(k);
      l.in_values.push_back(in ? index(in) : -1);
      l.host_input.push_back(k < 32 && ((r.host_mask >> k) & 1u) ? 1 : 0);
    }
    for (size_t k = 0; k < node->num_outputs(); ++k) {
      const Value* out = node->output(k);
      l.out_values.push_back(out ? index(out) : -1);
    }
    n_in += l.num_in;
    n_out += l.num_out;
    b_->launches_.push_back(std::move(l));
  }
  b_->in_table_.assign(static_cast<size_t>(n_in), nullptr);
  b_->out_table_.assign(static_cast<size_t>(n_out), nullptr);

  for (size_t i = 0; i < p_.outputs_.size(); ++i) {
    const Program::ValueInfo& vi = p_.values_[p_.outputs_[i]];
    if (vi.input_index >= 0 || vi.value->constant()) b_->copies_.push_back({p_.outputs_[i], i});
  }
  return Status::OK();
}

}  // namespace slimrt::cuda
