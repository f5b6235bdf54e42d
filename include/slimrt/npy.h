// slimrt/npy.h: NumPy .npy files (format versions 1.0-3.0, little-endian, C order).
//
//   Result<Tensor> t = read_npy("input.npy");
//   Status s = write_npy("out/logits.npy", tensor);
#pragma once

#include <string>

#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

// The header is parsed strictly (src/core/npy_header.h); the data must be exactly as long as the
// header's shape says. A FIFO or other stream is read to its end without seeking (a FIFO nobody
// writes to reads as empty; opening it never waits). Errors name the file and what is wrong
// (a directory, bad magic, the header text and the fault in it, an unsupported dtype, Fortran
// order, a dim out of range, a size that overflows int64, data shorter or longer than the header
// says with the bytes expected and present, the OS reason for a failed open or read).
Result<Tensor> read_npy(const std::string& path);
// Writes through a temporary file renamed over `path` (docs/cli.md, "Output paths"): a directory,
// device, FIFO or socket at `path` is refused (kInvalidArgument), and a failed write (kIoError
// with the OS reason) leaves an existing file as it was and no partial one.
Status write_npy(const std::string& path, const Tensor& t);

}  // namespace slimrt
