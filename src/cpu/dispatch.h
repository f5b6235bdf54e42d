// Type dispatch helpers for CPU kernels.
//
//   return dispatch_numeric(t.dtype(), [&]<typename T>() { add<T>(a, b, out); return Status(); });
#pragma once

#include <cstdint>

#include "slimrt/dtype.h"
#include "slimrt/status.h"

namespace slimrt::cpu {

// Float types the kernels compute in (fp16/bf16 are widened by the backend beforehand).
template <typename F>
Status dispatch_float(DataType t, F&& f) {
  switch (t) {
    case DataType::kFloat32: return f.template operator()<float>();
    case DataType::kFloat64: return f.template operator()<double>();
    default: return unsupported(std::string("float op on dtype ") + std::string(dtype_name(t)));
  }
}

template <typename F>
Status dispatch_integer(DataType t, F&& f) {
  switch (t) {
    case DataType::kInt8: return f.template operator()<int8_t>();
    case DataType::kUInt8: return f.template operator()<uint8_t>();
    case DataType::kInt32: return f.template operator()<int32_t>();
    case DataType::kInt64: return f.template operator()<int64_t>();
    default: return unsupported(std::string("integer op on dtype ") + std::string(dtype_name(t)));
  }
}

// float, double and the integer types.
template <typename F>
Status dispatch_numeric(DataType t, F&& f) {
  if (t == DataType::kFloat32 || t == DataType::kFloat64) return dispatch_float(t, f);
  return dispatch_integer(t, f);
}

// Every storable type, by element size where only bytes move (bool as uint8, fp16/bf16 as
// uint16). For data-movement ops (Transpose, Gather, Concat, ...).
template <typename F>
Status dispatch_bytes(DataType t, F&& f) {
  switch (dtype_size(t)) {
    case 1: return f.template operator()<uint8_t>();
    case 2: return f.template operator()<uint16_t>();
    case 4: return f.template operator()<uint32_t>();
    case 8: return f.template operator()<uint64_t>();
    default: return unsupported(std::string("dtype ") + std::string(dtype_name(t)));
  }
}

}  // namespace slimrt::cpu
