// CPU reference kernels for the nn op family.
#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_nn_kernels(KernelRegistry& r) { (void)r; }

}  // namespace slimrt::cpu
