// Output comparison for the ONNX conformance runner, with the semantics of the ONNX backend test
// runner (onnx/backend/test/runner/__init__.py: numpy.testing.assert_allclose after an exact
// dtype check): |actual - expected| <= atol + rtol * |expected| element-wise, NaN matches NaN,
// infinities must match exactly, integers and bools compare exactly.
#pragma once

#include <string>

#include "slimrt/tensor.h"

namespace slimrt::conformance {

// The loader's defaults (onnx/backend/test/loader/__init__.py). Only the `real` suite, which has
// no data here, carries per-case overrides in data.json.
inline constexpr double kDefaultRtol = 1e-3;
inline constexpr double kDefaultAtol = 1e-7;

struct Comparison {
  bool ok = true;
  std::string message;  // empty when ok
  double max_abs_err = 0.0;
  double max_rel_err = 0.0;  // over elements whose expected value is non-zero
};

// `label` names the output in messages ("output 0 'y'").
Comparison compare_outputs(const Tensor& actual, const Tensor& expected, double rtol, double atol,
                           const std::string& label);

}  // namespace slimrt::conformance
