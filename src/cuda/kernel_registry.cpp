// The CUDA kernel registry and the host-side helpers of src/cuda/kernel.h.
#include <fmt/format.h>

#include "cuda/kernel.h"

namespace slimrt::cuda {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

uint64_t TensorInfo::bytes() const { return static_cast<uint64_t>(numel()) * dtype_size(dtype); }

namespace {
std::string info_string(const TensorInfo& t) {
  if (!t.present()) return "(none)";
  return fmt::format("{}[{}]", dtype_name(t.dtype), fmt::join(t.dims, ","));
}
}  // namespace

std::string PrepareArgs::describe_shapes() const {
  std::string s;
  for (size_t i = 0; i < inputs.size(); ++i) s += (i ? ", " : "") + info_string(inputs[i]);
  s += " -> ";
  for (size_t i = 0; i < outputs.size(); ++i) s += (i ? ", " : "") + info_string(outputs[i]);
  return s;
}

Status PrepareArgs::unsupported(const std::string& why) const {
  return slimrt::unsupported(fmt::format("{} ({}): CUDA: {}", node.describe(), describe_shapes(), why));
}

Status PrepareArgs::invalid(const std::string& why) const {
  return slimrt::invalid_argument(fmt::format("{} ({}): CUDA: {}", node.describe(), describe_shapes(), why));
}

const KernelRegistry& KernelRegistry::get() {
  static const KernelRegistry* registry = [] {
    auto* r = new KernelRegistry();
    register_elementwise_kernels(*r);
    register_reduction_kernels(*r);
    register_tensor_kernels(*r);
    register_index_kernels(*r);
    register_linalg_kernels(*r);
    register_nn_kernels(*r);
    register_fused_pattern_kernels(*r);
    register_fused_elementwise_kernels(*r);
    register_input_convert_kernels(*r);
    return r;
  }();
  return *registry;
}

void KernelRegistry::add(KernelDef def) {
  std::string name = def.op_type;
  defs_[name] = std::move(def);
}

const KernelDef* KernelRegistry::find(const std::string& op_type) const {
  auto it = defs_.find(op_type);
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<std::string> KernelRegistry::op_types() const {
  std::vector<std::string> names;
  for (const auto& [k, v] : defs_) names.push_back(k);
  return names;
}

}  // namespace slimrt::cuda
