// Shape inference for the tensor op family.
#include "ir/op_registry.h"

namespace slimrt {

void register_tensor_ops(OpRegistry& r) { (void)r; }

}  // namespace slimrt
