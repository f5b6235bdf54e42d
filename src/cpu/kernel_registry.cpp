#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

Status KernelContext::unsupported(const std::string& why) const {
  return slimrt::unsupported(node.describe() + ": " + why);
}

Status KernelContext::invalid(const std::string& why) const {
  return invalid_argument(node.describe() + ": " + why);
}

const KernelRegistry& KernelRegistry::get() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    register_elementwise_kernels(r);
    register_reduction_kernels(r);
    register_linalg_kernels(r);
    register_nn_kernels(r);
    register_tensor_kernels(r);
    register_image_kernels(r);
    register_fused_epilogue_kernels(r);
    register_fused_pattern_kernels(r);
    register_fused_elementwise_kernels(r);
    register_input_convert_kernels(r);
    return r;
  }();
  return registry;
}

void KernelRegistry::add(KernelDef def) {
  SLIMRT_CHECK_MSG(!defs_.count(def.op_type), "CPU kernel registered twice: " + def.op_type);
  std::string name = def.op_type;
  defs_.emplace(std::move(name), std::move(def));
}

const KernelDef* KernelRegistry::find(const std::string& op_type) const {
  auto it = defs_.find(op_type);
  return it == defs_.end() ? nullptr : &it->second;
}

}  // namespace slimrt::cpu
