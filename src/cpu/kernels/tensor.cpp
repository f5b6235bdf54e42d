// CPU reference kernels for the tensor op family.
#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_tensor_kernels(KernelRegistry& r) { (void)r; }

}  // namespace slimrt::cpu
