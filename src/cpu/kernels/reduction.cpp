// CPU reference kernels for the reduction op family.
#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_reduction_kernels(KernelRegistry& r) { (void)r; }

}  // namespace slimrt::cpu
