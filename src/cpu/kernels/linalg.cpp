// CPU reference kernels for the linalg op family.
#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_linalg_kernels(KernelRegistry& r) { (void)r; }

}  // namespace slimrt::cpu
