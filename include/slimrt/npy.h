// slimrt/npy.h: NumPy .npy files (format versions 1.0-3.0, little-endian, C order).
//
//   Result<Tensor> t = read_npy("input.npy");
//   Status s = write_npy("out/logits.npy", tensor);
#pragma once

#include <string>

#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

// Errors name the file and what is wrong (bad magic, unsupported dtype, Fortran order,
// truncated data with bytes expected and present).
Result<Tensor> read_npy(const std::string& path);
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace slimrt
