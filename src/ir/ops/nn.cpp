// Shape inference for the nn op family.
#include "ir/op_registry.h"

namespace slimrt {

void register_nn_ops(OpRegistry& r) { (void)r; }

}  // namespace slimrt
