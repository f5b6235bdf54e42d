// Helpers shared by the shape inference functions of every op family (src/ir/ops/*.cpp).
#pragma once

#include <cstddef>
#include <initializer_list>

#include "ir/op_registry.h"

namespace slimrt {

// The usual first step of an inference: while any of `inputs` has no known shape, all there is
// to say about output 0 is its dtype. Sets output 0 to `dt` with an unknown shape and returns
// true (the caller is done); returns false when every listed input's shape is known.
//
//   if (set_dtype_if_shape_unknown(ctx, dt, {0, 1})) return Status::OK();
inline bool set_dtype_if_shape_unknown(ShapeContext& ctx, DataType dt, std::initializer_list<size_t> inputs) {
  for (size_t i : inputs) {
    if (!ctx.has_shape(i)) {
      ctx.set_output_dtype(0, dt);
      return true;
    }
  }
  return false;
}

}  // namespace slimrt
