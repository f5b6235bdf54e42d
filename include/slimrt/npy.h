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
// Writes through a temporary file renamed over `path` (docs/cli.md, "Output paths"): a directory,
// device, FIFO or socket at `path` is refused (kInvalidArgument), and a failed write (kIoError
// with the OS reason) leaves an existing file as it was and no partial one.
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace slimrt
