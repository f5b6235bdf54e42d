#include "compare.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "slimrt/shape.h"

namespace slimrt::conformance {
namespace {

std::string index_to_string(int64_t flat, const std::vector<int64_t>& shape) {
  if (shape.empty()) return "[]";
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t extent = shape[d] > 0 ? shape[d] : 1;
    idx[d] = flat % extent;
    flat /= extent;
  }
  return shape_to_string(idx);
}

}  // namespace

Comparison compare_outputs(const Tensor& actual, const Tensor& expected, double rtol, double atol,
                           const std::string& label) {
  Comparison c;
  if (actual.dtype() != expected.dtype()) {
    c.ok = false;
    c.message = fmt::format("{}: dtype {}, expected {}", label, dtype_name(actual.dtype()),
                            dtype_name(expected.dtype()));
    return c;
  }
  if (actual.shape() != expected.shape()) {
    c.ok = false;
    c.message = fmt::format("{}: shape {}, expected {}", label, shape_to_string(actual.shape()),
                            shape_to_string(expected.shape()));
    return c;
  }
  const int64_t n = expected.numel();
  const bool is_float = dtype_is_float(expected.dtype());
  int64_t bad = 0;
  int64_t first_bad = -1;
  for (int64_t i = 0; i < n; ++i) {
    bool good = true;
    if (!is_float) {
      // Exact: int64 values beyond 2^53 would lose bits through double.
      const int64_t a = actual.get_as_int64(i);
      const int64_t e = expected.get_as_int64(i);
      good = a == e;
      if (!good) {
        const double diff = std::fabs(static_cast<double>(a) - static_cast<double>(e));
        c.max_abs_err = std::max(c.max_abs_err, diff);
        if (e != 0) c.max_rel_err = std::max(c.max_rel_err, diff / std::fabs(static_cast<double>(e)));
      }
    } else {
      const double a = actual.get_as_double(i);
      const double e = expected.get_as_double(i);
      if (std::isnan(e) || std::isnan(a)) {
        good = std::isnan(e) && std::isnan(a);
        if (!good) c.max_abs_err = INFINITY;
      } else if (std::isinf(e) || std::isinf(a)) {
        good = a == e;
        if (!good) c.max_abs_err = INFINITY;
      } else {
        const double diff = std::fabs(a - e);
        c.max_abs_err = std::max(c.max_abs_err, diff);
        if (e != 0.0) c.max_rel_err = std::max(c.max_rel_err, diff / std::fabs(e));
        good = diff <= atol + rtol * std::fabs(e);
      }
    }
    if (!good) {
      if (first_bad < 0) first_bad = i;
      ++bad;
    }
  }
  if (bad > 0) {
    c.ok = false;
    const std::string at = index_to_string(first_bad, expected.shape());
    if (is_float) {
      c.message = fmt::format("{}: {} of {} elements differ; first at {}: got {:.9g}, expected {:.9g}; max abs err {:.3g}",
                              label, bad, n, at, actual.get_as_double(first_bad),
                              expected.get_as_double(first_bad), c.max_abs_err);
    } else {
      c.message = fmt::format("{}: {} of {} elements differ; first at {}: got {}, expected {}", label, bad, n, at,
                              actual.get_as_int64(first_bad), expected.get_as_int64(first_bad));
    }
  }
  return c;
}

}  // namespace slimrt::conformance
