// Shape inference for the reduction op family.
#include "ir/op_registry.h"

namespace slimrt {

void register_reduction_ops(OpRegistry& r) { (void)r; }

}  // namespace slimrt
