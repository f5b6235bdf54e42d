// CPU reference kernels for the elementwise op family.
#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_elementwise_kernels(KernelRegistry& r) { (void)r; }

}  // namespace slimrt::cpu
