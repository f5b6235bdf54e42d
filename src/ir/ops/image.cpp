// Shape inference for the image op family.
#include "ir/op_registry.h"

namespace slimrt {

void register_image_ops(OpRegistry& r) { (void)r; }

}  // namespace slimrt
