// Shared by the model checks (model_check.cpp, gpu_model_check.cpp).
#pragma once

#include <algorithm>
#include <cmath>

#include "slimrt/tensor.h"

namespace slimrt::model_check {

// ||a - e|| / ||e||, in double; NaN when either side has a NaN, +inf on a shape mismatch.
inline double rel_l2(const Tensor& a, const Tensor& e) {
  if (a.shape() != e.shape()) return INFINITY;
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < e.numel(); ++i) {
    const double x = a.get_as_double(i), y = e.get_as_double(i);
    num += (x - y) * (x - y);
    den += y * y;
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

}  // namespace slimrt::model_check
