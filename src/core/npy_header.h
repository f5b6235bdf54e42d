// The header of a .npy file, parsed strictly. It is a Python dict literal such as
//
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), }
//
// with exactly the keys 'descr' (a string), 'fortran_order' (True or False) and 'shape' (a tuple
// of non-negative decimal integers: `()` is a scalar, `(5,)` one dim, `(5)` is not a tuple).
// Python's whitespace and trailing commas are allowed; anything else (floats, names, a missing
// comma, negative or out-of-range dims, duplicate or extra keys, text after the dict) is refused,
// never guessed at.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/dtype.h"
#include "slimrt/status.h"

namespace slimrt::npy {

struct Header {
  std::string descr;  // "<f4", "|u1", ...
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// kInvalidArgument with the reason and the character offset; the caller adds the file and text.
Result<Header> parse_header(std::string_view text);

// The dtype of a descr ("<f4" -> float32; "=" and, for one-byte types, "|" or "<" or ">" are
// accepted). kUnsupported for big-endian data and dtypes slimrt has no type for.
Result<DataType> dtype_of_descr(const std::string& descr);

// The header text as it can be quoted in a message: padding dropped, bytes outside printable
// ASCII written \xNN, cut to about 200 characters.
std::string printable_header(std::string_view text);

}  // namespace slimrt::npy
