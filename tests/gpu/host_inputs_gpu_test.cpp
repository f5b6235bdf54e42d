// The CUDA kernels read on the host exactly the op inputs the IR's op table says they do: the
// engine describes host inputs (IoTensor::is_host_input) from the op table, and the execution
// context binds them from host memory, so the two lists must agree op by op.
#include <gtest/gtest.h>

#ifdef SLIMRT_HAVE_CUDA  // the CUDA kernel registry needs the CUDA runtime headers
#include "cuda/kernel.h"
#include "ir/op_registry.h"

namespace slimrt {
namespace {

// No device needed: both registries are tables filled at first use.
TEST(CudaHostInputs, KernelRegistryAgreesWithTheOpTable) {
  const cuda::KernelRegistry& kernels = cuda::KernelRegistry::get();
  int with_host_inputs = 0;
  for (const std::string& op : kernels.op_types()) {
    const OpDef* def = OpRegistry::get().find(op);
    ASSERT_NE(def, nullptr) << "the CUDA backend registers '" << op << "', which the op table does not know";
    EXPECT_EQ(kernels.find(op)->host_inputs, def->host_inputs)
        << op << ": the kernel's KernelDef::host_inputs and the op table's OpDef::host_inputs differ";
    with_host_inputs += def->host_inputs != 0;
  }
  EXPECT_GE(with_host_inputs, 20);  // Reshape, Slice, Clip, the Reduce family, ...
}

}  // namespace
}  // namespace slimrt
#endif  // SLIMRT_HAVE_CUDA
