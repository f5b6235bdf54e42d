// Shape inference for the linalg op family.
#include "ir/op_registry.h"

namespace slimrt {

void register_linalg_ops(OpRegistry& r) { (void)r; }

}  // namespace slimrt
