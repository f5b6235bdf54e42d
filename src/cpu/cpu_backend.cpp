// The CPU reference backend: executes the IR node by node on host tensors.
#include <algorithm>
#include <map>
#include <new>
#include <stdexcept>
#include <unordered_map>

#include "cpu/kernel_registry.h"
#include "ir/layout.h"
#include "cuda/cuda_backend.h"
#include "ir/graph_inputs.h"
#include "ir/op_registry.h"
#include "slimrt/backend.h"

namespace slimrt {
namespace cpu {
namespace {

Result<Tensor> convert_float(const Tensor& in, DataType to) {
  SLIMRT_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(to, in.shape()));
  const int64_t n = in.numel();
  if (to == DataType::kFloat32) {
    float* o = out.data<float>();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(in.get_as_double(i));
  } else if (to == DataType::kFloat16) {
    const float* s = in.data<float>();
    for (int64_t i = 0; i < n; ++i) out.data<uint16_t>()[i] = float_to_half(s[i]);
  } else if (to == DataType::kBFloat16) {
    const float* s = in.data<float>();
    for (int64_t i = 0; i < n; ++i) out.data<uint16_t>()[i] = float_to_bfloat16(s[i]);
  } else {
    return internal_error("convert_float to " + std::string(dtype_name(to)));
  }
  return out;
}

bool is_half(DataType t) { return t == DataType::kFloat16 || t == DataType::kBFloat16; }

// Runs one node on concrete host tensors: infers output shapes, allocates, calls the kernel.
Status run_node(const Node& node, const std::vector<const Tensor*>& inputs, std::vector<Tensor>* outputs,
                bool poison) {
  const OpDef* def = OpRegistry::get().find(node.op_type());
  const KernelDef* kdef = KernelRegistry::get().find(node.op_type());
  if (!def || !kdef) return unsupported(node.describe() + ": no CPU kernel for op '" + node.op_type() + "'");

  std::vector<Shape> shapes(inputs.size());
  std::vector<ShapeContext::InputInfo> infos(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) continue;
    shapes[i] = shape_from_static(inputs[i]->shape());
    infos[i].dtype = inputs[i]->dtype();
    infos[i].shape = &shapes[i];
    infos[i].constant = inputs[i];
  }
  ShapeContext ctx(node, std::move(infos), node.num_outputs());
  SLIMRT_RETURN_IF_ERROR(def->infer(ctx));

  // Widen fp16/bf16 inputs for kernels that compute in float32.
  std::vector<Tensor> widened;
  widened.reserve(inputs.size());
  std::vector<const Tensor*> kin = inputs;
  if (kdef->widen_half) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i] && is_half(inputs[i]->dtype())) {
        SLIMRT_ASSIGN_OR_RETURN(Tensor w, convert_float(*inputs[i], DataType::kFloat32));
        widened.push_back(std::move(w));
        kin[i] = &widened.back();
      }
    }
  }

  // Layout forms (channels-last, sequence-major Attention) run the ordinary kernel between
  // permutations (ir/layout.h); packed-QKV Attention runs it on the three heads-major parts of
  // its input 0.
  const std::optional<LayoutForm> form = layout_form(node);
  std::vector<Tensor> permuted;
  permuted.reserve(std::max<size_t>(inputs.size(), 3));  // kin points into it: no reallocation
  if (form) {
    if (node.num_outputs() != 1) return unsupported(node.describe() + ": a layout form with more than one output");
    if (form->split_packed_qkv) {
      if (kin.size() < 3 || !kin[0]) return invalid_argument(node.describe() + ": packed QKV needs inputs (QKV, <absent>, <absent>)");
      SLIMRT_ASSIGN_OR_RETURN(auto parts, split_packed_qkv(*kin[0]));
      for (size_t i = 0; i < 3; ++i) {
        permuted.push_back(std::move(parts[i]));
        kin[i] = &permuted.back();
      }
    } else {
      for (size_t i : form->inputs) {
        if (i >= kin.size() || !kin[i]) continue;
        SLIMRT_ASSIGN_OR_RETURN(Tensor t, permute_layout(*kin[i], form->to_standard));
        permuted.push_back(std::move(t));
        kin[i] = &permuted.back();
      }
    }
  }

  outputs->assign(node.num_outputs(), Tensor());
  std::vector<Tensor> staged(node.num_outputs());
  std::vector<Tensor*> kout(node.num_outputs());
  for (size_t i = 0; i < node.num_outputs(); ++i) {
    const auto& info = ctx.output(i);
    if (!info.shape) return internal_error(node.describe() + ": output shape unknown at run time");
    auto dims = shape_to_static(*info.shape);
    if (!dims) return internal_error(node.describe() + ": output shape " + shape_to_string(*info.shape) + " is symbolic at run time");
    for (int64_t d : *dims) {
      if (d < 0) return invalid_argument(node.describe() + ": negative output dim in " + shape_to_string(*dims));
    }
    const DataType kt = kdef->widen_half && is_half(info.dtype) ? DataType::kFloat32 : info.dtype;
    SLIMRT_ASSIGN_OR_RETURN(staged[i], Tensor::allocate(kt, form ? permute_layout_dims(*dims, form->to_standard) : *dims));
    if (poison) staged[i].poison();
    kout[i] = &staged[i];
  }
  KernelContext kctx{node, kin, kout};
  SLIMRT_RETURN_IF_ERROR(kdef->fn(kctx));
  if (form) {
    SLIMRT_ASSIGN_OR_RETURN(staged[0], permute_layout(staged[0], form->from_standard));
  }
  for (size_t i = 0; i < node.num_outputs(); ++i) {
    const DataType want = ctx.output(i).dtype;
    if (staged[i].dtype() != want) {
      SLIMRT_ASSIGN_OR_RETURN((*outputs)[i], convert_float(staged[i], want));
    } else {
      (*outputs)[i] = std::move(staged[i]);
    }
  }
  return Status::OK();
}

// Kernels keep scratch in std::vector (im2col, packed GEMM panels): a failed allocation there is
// kOutOfMemory naming the node, like a failed tensor allocation, not an uncaught std::bad_alloc.
Status run_node_catching_bad_alloc(const Node& node, const std::vector<const Tensor*>& inputs,
                                   std::vector<Tensor>* outputs, bool poison) {
  try {
    return run_node(node, inputs, outputs, poison);
  } catch (const std::bad_alloc&) {
    return out_of_memory(node.describe() + ": a host allocation for the CPU kernel's scratch memory failed");
  } catch (const std::length_error&) {
    return out_of_memory(node.describe() + ": the CPU kernel's scratch memory would exceed the largest possible size");
  }
}

class CpuExecutable final : public Executable {
 public:
  explicit CpuExecutable(const Graph& g) : graph_(g), nodes_(g.nodes()) {
    // Last node index that reads each value, so intermediates are freed early.
    for (size_t k = 0; k < nodes_.size(); ++k) {
      for (const Value* in : nodes_[k]->inputs()) {
        if (in) last_use_[in] = k;
      }
    }
  }

  Status run(const std::vector<NamedTensor>& inputs, std::vector<NamedTensor>* outputs,
             const RunOptions& options) override {
    std::unordered_map<const Value*, Tensor> env;
    SLIMRT_RETURN_IF_ERROR(bind_inputs(inputs, &env));
    for (size_t k = 0; k < nodes_.size(); ++k) {
      const Node* n = nodes_[k];
      std::vector<const Tensor*> ins;
      for (const Value* in : n->inputs()) {
        if (!in) {
          ins.push_back(nullptr);
          continue;
        }
        if (const Tensor* c = in->constant()) {
          ins.push_back(c);
          continue;
        }
        auto it = env.find(in);
        if (it == env.end()) return internal_error(n->describe() + ": input '" + in->name() + "' was never computed");
        ins.push_back(&it->second);
      }
      std::vector<Tensor> outs;
      Status s = run_node_catching_bad_alloc(*n, ins, &outs, options.poison_outputs);
      if (!s.ok()) return s;
      for (size_t i = 0; i < outs.size(); ++i) env[n->output(i)] = std::move(outs[i]);
      for (const Value* in : n->inputs()) {
        if (in && !in->is_graph_output() && last_use_[in] == k) env.erase(in);
      }
    }
    outputs->clear();
    for (const Value* out : graph_.outputs()) {
      auto it = env.find(out);
      if (it != env.end()) {
        outputs->push_back({out->name(), it->second});
      } else if (out->constant()) {
        outputs->push_back({out->name(), *out->constant()});
      } else {
        return internal_error("graph output '" + out->name() + "' was never computed");
      }
    }
    return Status::OK();
  }

 private:
  Status bind_inputs(const std::vector<NamedTensor>& inputs, std::unordered_map<const Value*, Tensor>* env) {
    std::map<std::string, int64_t> symbols;
    for (const NamedTensor& nt : inputs) {
      const Value* v = graph_.find_value(nt.name);
      if (!v || !v->is_graph_input()) {
        std::string names;
        for (const Value* in : graph_.inputs()) names += (names.empty() ? "" : ", ") + in->name();
        return invalid_argument("'" + nt.name + "' is not an input of the graph (inputs: " + names + ")");
      }
      const Tensor& t = nt.tensor;
      if (t.memory_kind() == MemoryKind::kDevice)
        return invalid_argument("input '" + nt.name + "' is in device memory; the CPU backend needs host memory");
      SLIMRT_RETURN_IF_ERROR(check_graph_input(*v, t, &symbols));
      (*env)[v] = t;
    }
    for (const Value* in : graph_.inputs()) {
      if (!env->count(in) && !in->constant())
        return invalid_argument("graph input '" + in->name() + "' was not given");
    }
    return Status::OK();
  }

  const Graph& graph_;
  std::vector<Node*> nodes_;
  std::unordered_map<const Value*, size_t> last_use_;
};

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  MemoryKind memory_kind() const override { return MemoryKind::kHost; }
  Result<std::unique_ptr<Executable>> prepare(const Graph& graph) override {
    for (const Node* n : graph.nodes()) {
      if (!KernelRegistry::get().find(n->op_type()))
        return unsupported(n->describe() + ": the CPU backend has no kernel for op '" + n->op_type() +
                           "' (docs/ops.md lists the supported ops)");
    }
    return std::unique_ptr<Executable>(new CpuExecutable(graph));
  }
};

class CpuConstantEvaluator final : public ConstantEvaluator {
 public:
  Result<std::vector<Tensor>> evaluate(const Node& node, const std::vector<const Tensor*>& inputs) override {
    if (!KernelRegistry::get().find(node.op_type())) return std::vector<Tensor>{};
    std::vector<Tensor> outs;
    SLIMRT_RETURN_IF_ERROR(run_node_catching_bad_alloc(node, inputs, &outs, false));
    return outs;
  }
};

}  // namespace
}  // namespace cpu

std::vector<std::string> available_backends() {
#ifdef SLIMRT_HAVE_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

Result<std::unique_ptr<Backend>> create_backend(std::string_view name) {
  if (name == "cpu") return std::unique_ptr<Backend>(new cpu::CpuBackend());
  if (name == "cuda") return cuda::make_cuda_backend();
  std::string names;
  for (const auto& b : available_backends()) names += (names.empty() ? "" : ", ") + b;
  return not_found("no backend named '" + std::string(name) + "' (available: " + names + ")");
}

std::unique_ptr<ConstantEvaluator> make_cpu_constant_evaluator() {
  return std::make_unique<cpu::CpuConstantEvaluator>();
}

}  // namespace slimrt
