// TensorProto -> Tensor: raw_data, the typed repeated fields, and external data (memory-mapped).
#include <cstring>
#include <limits>

#include "onnx/onnx_internal.h"
#include "slimrt/shape.h"

namespace slimrt::onnx_import {

namespace {

// ONNX TensorProto.DataType numbers (onnx.proto); listed here because protobuf 1.12's enum lacks
// the newer ones.
enum OnnxType : int32_t {
  kOnnxUndefined = 0, kOnnxFloat = 1, kOnnxUInt8 = 2, kOnnxInt8 = 3, kOnnxUInt16 = 4, kOnnxInt16 = 5,
  kOnnxInt32 = 6, kOnnxInt64 = 7, kOnnxString = 8, kOnnxBool = 9, kOnnxFloat16 = 10, kOnnxDouble = 11,
  kOnnxUInt32 = 12, kOnnxUInt64 = 13, kOnnxComplex64 = 14, kOnnxComplex128 = 15, kOnnxBFloat16 = 16,
  kOnnxFloat8E4M3FN = 17, kOnnxFloat8E4M3FNUZ = 18, kOnnxFloat8E5M2 = 19, kOnnxFloat8E5M2FNUZ = 20,
  kOnnxUInt4 = 21, kOnnxInt4 = 22, kOnnxFloat4E2M1 = 23,
};

// Appends the elements of a typed repeated field, narrowing to the storage type.
template <typename Dst, typename Field>
void copy_field(const Field& field, Tensor& t) {
  Dst* out = t.data<Dst>();
  for (int i = 0; i < field.size(); ++i) out[i] = static_cast<Dst>(field.Get(i));
}

// The number of elements in the typed field that holds data of `type`, -1 when none applies.
int typed_count(const onnx::TensorProto& p, DataType type) {
  switch (type) {
    case DataType::kFloat32: return p.float_data_size();
    case DataType::kFloat64: return p.double_data_size();
    case DataType::kInt64: return p.int64_data_size();
    case DataType::kInt32:
    case DataType::kInt8:
    case DataType::kUInt8:
    case DataType::kBool:
    case DataType::kFloat16:
    case DataType::kBFloat16: return p.int32_data_size();
    case DataType::kUndefined: break;
  }
  return -1;
}

void fill_from_typed(const onnx::TensorProto& p, Tensor& t) {
  switch (t.dtype()) {
    case DataType::kFloat32: copy_field<float>(p.float_data(), t); break;
    case DataType::kFloat64: copy_field<double>(p.double_data(), t); break;
    case DataType::kInt64: copy_field<int64_t>(p.int64_data(), t); break;
    case DataType::kInt32: copy_field<int32_t>(p.int32_data(), t); break;
    case DataType::kInt8: copy_field<int8_t>(p.int32_data(), t); break;
    case DataType::kUInt8: copy_field<uint8_t>(p.int32_data(), t); break;
    case DataType::kBool: {
      uint8_t* out = t.data<uint8_t>();
      for (int i = 0; i < p.int32_data_size(); ++i) out[i] = p.int32_data(i) != 0 ? 1 : 0;
      break;
    }
    // fp16 / bf16 travel as their 16-bit patterns in int32_data.
    case DataType::kFloat16:
    case DataType::kBFloat16: copy_field<uint16_t>(p.int32_data(), t); break;
    case DataType::kUndefined: break;
  }
}

Result<int64_t> parse_int_key(const std::string& key, const std::string& value, const std::string& what) {
  if (value.empty()) return invalid_argument(what + ": external data key '" + key + "' is empty");
  int64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || v > (std::numeric_limits<int64_t>::max() - 9) / 10) {
      return invalid_argument(what + ": external data key '" + key + "' = '" + value +
                              "' is not a non-negative integer");
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<Tensor> tensor_from_external(const onnx::TensorProto& p, const std::string& what, DataType dtype,
                                    const std::vector<int64_t>& dims, uint64_t expected_bytes,
                                    ExternalDataResolver* resolver) {
  if (!resolver) return invalid_argument(what + " uses external data, which is not allowed here");
  std::string location;
  int64_t offset = 0;
  std::optional<int64_t> length;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset") {
      SLIMRT_ASSIGN_OR_RETURN(offset, parse_int_key("offset", kv.value(), what));
    } else if (kv.key() == "length") {
      SLIMRT_ASSIGN_OR_RETURN(length, parse_int_key("length", kv.value(), what));
    }
    // "checksum" and unknown keys are informational.
  }
  if (location.empty()) return invalid_argument(what + " has external data without a 'location'");
  if (length && static_cast<uint64_t>(*length) != expected_bytes) {
    return data_loss(what + ": external data length " + std::to_string(*length) + " does not match shape " +
                     shape_to_string(dims) + " of " + std::string(dtype_name(dtype)) + " (" +
                     std::to_string(expected_bytes) + " bytes)");
  }
  SLIMRT_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file, resolver->map(location, what));
  const uint64_t off = static_cast<uint64_t>(offset);
  if (off > file->size() || expected_bytes > file->size() - off) {
    return data_loss(what + ": external data at offset " + std::to_string(off) + " with length " +
                     std::to_string(expected_bytes) + " runs past the end of '" + location + "' (file size " +
                     std::to_string(file->size()) + " bytes)");
  }
  if (expected_bytes == 0) return Tensor::allocate(dtype, dims);
  const uint8_t* src = file->data() + off;
  if (reinterpret_cast<uintptr_t>(src) % dtype_size(dtype) != 0) {
    // Misaligned for the element type: kernels may assume natural alignment, so copy.
    SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, dims));
    std::memcpy(t.raw(), src, expected_bytes);
    return t;
  }
  // The deleter owns a reference to the mapping: the file stays mapped while any tensor uses it.
  return Tensor::adopt(const_cast<uint8_t*>(src), dtype, dims, MemoryKind::kHost,
                       [file](void*) mutable { file.reset(); });
}

}  // namespace

std::optional<DataType> dtype_from_onnx(int32_t t) {
  switch (t) {
    case kOnnxFloat: return DataType::kFloat32;
    case kOnnxFloat16: return DataType::kFloat16;
    case kOnnxBFloat16: return DataType::kBFloat16;
    case kOnnxDouble: return DataType::kFloat64;
    case kOnnxInt8: return DataType::kInt8;
    case kOnnxUInt8: return DataType::kUInt8;
    case kOnnxInt32: return DataType::kInt32;
    case kOnnxInt64: return DataType::kInt64;
    case kOnnxBool: return DataType::kBool;
    default: return std::nullopt;
  }
}

std::string onnx_dtype_name(int32_t t) {
  switch (t) {
    case kOnnxUndefined: return "undefined";
    case kOnnxFloat: return "float32";
    case kOnnxUInt8: return "uint8";
    case kOnnxInt8: return "int8";
    case kOnnxUInt16: return "uint16";
    case kOnnxInt16: return "int16";
    case kOnnxInt32: return "int32";
    case kOnnxInt64: return "int64";
    case kOnnxString: return "string";
    case kOnnxBool: return "bool";
    case kOnnxFloat16: return "float16";
    case kOnnxDouble: return "float64";
    case kOnnxUInt32: return "uint32";
    case kOnnxUInt64: return "uint64";
    case kOnnxComplex64: return "complex64";
    case kOnnxComplex128: return "complex128";
    case kOnnxBFloat16: return "bfloat16";
    case kOnnxFloat8E4M3FN: return "float8e4m3fn";
    case kOnnxFloat8E4M3FNUZ: return "float8e4m3fnuz";
    case kOnnxFloat8E5M2: return "float8e5m2";
    case kOnnxFloat8E5M2FNUZ: return "float8e5m2fnuz";
    case kOnnxUInt4: return "uint4";
    case kOnnxInt4: return "int4";
    case kOnnxFloat4E2M1: return "float4e2m1";
    default: return "ONNX type " + std::to_string(t);
  }
}

std::optional<int32_t> onnx_dtype_from_string(const std::string& name) {
  static const std::map<std::string, int32_t> kNames = {
      {"FLOAT", kOnnxFloat},     {"UINT8", kOnnxUInt8},   {"INT8", kOnnxInt8},       {"UINT16", kOnnxUInt16},
      {"INT16", kOnnxInt16},     {"INT32", kOnnxInt32},   {"INT64", kOnnxInt64},     {"STRING", kOnnxString},
      {"BOOL", kOnnxBool},       {"FLOAT16", kOnnxFloat16}, {"DOUBLE", kOnnxDouble}, {"UINT32", kOnnxUInt32},
      {"UINT64", kOnnxUInt64},   {"BFLOAT16", kOnnxBFloat16}};
  auto it = kNames.find(name);
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& what,
                                 ExternalDataResolver* resolver) {
  const std::optional<DataType> dtype = dtype_from_onnx(p.data_type());
  if (!dtype) {
    return unsupported(what + " has element type " + onnx_dtype_name(p.data_type()) +
                       ", which slimrt does not support (float32, float16, bfloat16, float64, int8, uint8, "
                       "int32, int64, bool)");
  }
  if (p.has_segment()) return unsupported(what + " is a segmented TensorProto, which slimrt does not support");
  std::vector<int64_t> dims;
  int64_t numel = 1;
  constexpr int64_t kMaxBytes = std::numeric_limits<int64_t>::max() / 16;
  for (int64_t d : p.dims()) {
    if (d < 0) return invalid_argument(what + " has a negative dim (" + std::to_string(d) + ")");
    if (d > 0 && numel > kMaxBytes / d) return invalid_argument(what + " has too many elements");
    numel *= d;
    dims.push_back(d);
  }
  const uint64_t bytes = static_cast<uint64_t>(numel) * dtype_size(*dtype);
  const std::string desc = " for shape " + shape_to_string(dims) + " of " + std::string(dtype_name(*dtype));

  if (p.data_location() == onnx::TensorProto::EXTERNAL)
    return tensor_from_external(p, what, *dtype, dims, bytes, resolver);

  if (p.has_raw_data()) {
    if (p.raw_data().size() != bytes) {
      return data_loss(what + " has " + std::to_string(p.raw_data().size()) + " bytes of raw_data; expected " +
                       std::to_string(bytes) + desc);
    }
    SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(*dtype, dims));
    if (bytes > 0) std::memcpy(t.raw(), p.raw_data().data(), bytes);
    return t;
  }
  const int count = typed_count(p, *dtype);
  if (count != numel) {
    return data_loss(what + " has " + std::to_string(count) + " elements of typed data; expected " +
                     std::to_string(numel) + desc);
  }
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(*dtype, dims));
  fill_from_typed(p, t);
  return t;
}

}  // namespace slimrt::onnx_import
