// Shape inference for the elementwise op family.
#include "ir/op_registry.h"

namespace slimrt {

void register_elementwise_ops(OpRegistry& r) { (void)r; }

}  // namespace slimrt
