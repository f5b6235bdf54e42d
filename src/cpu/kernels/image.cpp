// CPU reference kernels for the image op family.
#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"

namespace slimrt::cpu {

void register_image_kernels(KernelRegistry& r) { (void)r; }

}  // namespace slimrt::cpu
