// slimrt/dtype.h: element types and fp16/bf16 conversion.
//
//   DataType t = DataType::kFloat16;
//   size_t bytes = dtype_size(t) * numel;          // 2 * numel
//   uint16_t h = float_to_half(1.5f); float f = half_to_float(h);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace slimrt {

enum class DataType : uint8_t {
  kUndefined = 0,
  kFloat32,
  kFloat16,
  kBFloat16,
  kFloat64,
  kInt8,
  kUInt8,
  kInt32,
  kInt64,
  kBool,
};

inline constexpr DataType kAllDataTypes[] = {
    DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64, DataType::kInt8,
    DataType::kUInt8,   DataType::kInt32,   DataType::kInt64,    DataType::kBool};

// Bytes per element; 0 for kUndefined.
size_t dtype_size(DataType t);
// "float32", "float16", "bfloat16", "float64", "int8", "uint8", "int32", "int64", "bool".
std::string_view dtype_name(DataType t);
std::optional<DataType> dtype_from_name(std::string_view name);
bool dtype_is_float(DataType t);    // fp32, fp16, bf16, fp64
bool dtype_is_integer(DataType t);  // int8, uint8, int32, int64
bool dtype_is_signed(DataType t);

// IEEE binary16 and bfloat16, round to nearest even; NaN and Inf are preserved.
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bfloat16(float f);
float bfloat16_to_float(uint16_t b);

}  // namespace slimrt
