// NumPy .npy reading and writing. Format: magic "\x93NUMPY", version (1.0, 2.0 or 3.0), a header
// length (2 bytes in 1.0, 4 bytes after), a Python dict literal with 'descr', 'fortran_order' and
// 'shape', padded so the data starts on a 64-byte boundary, then the raw little-endian data.
#include "slimrt/npy.h"

#include <cstring>
#include <fstream>
#include <regex>

#include "core/output_file.h"
#include "slimrt/shape.h"

namespace slimrt {

namespace {

struct DescrEntry {
  const char* descr;
  DataType dtype;
};
// numpy has no bfloat16; slimrt writes bf16 as "<V2"-free uint16 would lose the type, so bf16
// tensors are written as float32 by the CLI. Only these descriptors are read.
constexpr DescrEntry kDescrs[] = {
    {"<f4", DataType::kFloat32}, {"<f2", DataType::kFloat16}, {"<f8", DataType::kFloat64},
    {"|i1", DataType::kInt8},    {"|u1", DataType::kUInt8},   {"<i4", DataType::kInt32},
    {"<i8", DataType::kInt64},   {"|b1", DataType::kBool},
};

std::string header_field(const std::string& header, const std::string& key) {
  std::regex re("'" + key + "'\\s*:\\s*('[^']*'|True|False|\\([^)]*\\))");
  std::smatch m;
  if (!std::regex_search(header, m, re)) return {};
  return m[1].str();
}

}  // namespace

Result<Tensor> read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open .npy file '" + path + "'");
  in.seekg(0, std::ios::end);
  const int64_t file_size = static_cast<int64_t>(in.tellg());
  in.seekg(0);
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return invalid_argument("'" + path + "' is not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    return unsupported("'" + path + "': .npy format version " + std::to_string(major) + " is not supported");
  }
  if (!in || static_cast<int64_t>(in.tellg()) + header_len > file_size)
    return data_loss("'" + path + "': .npy header is truncated");
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);

  const std::string descr = header_field(header, "descr");
  const std::string fortran = header_field(header, "fortran_order");
  const std::string shape_str = header_field(header, "shape");
  if (descr.empty() || fortran.empty() || shape_str.empty())
    return invalid_argument("'" + path + "': .npy header lacks descr, fortran_order or shape: " + header);
  if (fortran == "True") return unsupported("'" + path + "': Fortran-order .npy arrays are not supported");
  DataType dtype = DataType::kUndefined;
  const std::string d = descr.substr(1, descr.size() - 2);
  for (const auto& e : kDescrs) {
    if (d == e.descr || (d.size() == 3 && d[0] == '=' && d.substr(1) == std::string(e.descr).substr(1))) dtype = e.dtype;
  }
  if (dtype == DataType::kUndefined)
    return unsupported("'" + path + "': .npy dtype " + descr + " is not supported (float32/16/64, int8/32/64, uint8, bool)");
  std::vector<int64_t> shape;
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(shape_str.begin(), shape_str.end(), num); it != std::sregex_iterator(); ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  const int64_t n = numel_of(shape);
  const int64_t need = n * static_cast<int64_t>(dtype_size(dtype));
  const int64_t have = file_size - static_cast<int64_t>(in.tellg());
  if (have < need)
    return data_loss("'" + path + "': .npy data is truncated: shape " + shape_to_string(shape) + " needs " +
                     std::to_string(need) + " bytes, the file has " + std::to_string(have));
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(dtype, shape));
  in.read(static_cast<char*>(t.raw()), need);
  if (!in) return io_error("'" + path + "': read failed");
  return t;
}

Status write_npy(const std::string& path, const Tensor& t) {
  if (t.memory_kind() == MemoryKind::kDevice) return invalid_argument("write_npy: tensor is in device memory");
  const char* descr = nullptr;
  for (const auto& e : kDescrs) {
    if (e.dtype == t.dtype()) descr = e.descr;
  }
  if (!descr) return unsupported("write_npy: numpy has no " + std::string(dtype_name(t.dtype())) + " type");
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + (t.rank() == 1 || i + 1 < t.rank() ? "," : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  // Written beside the target and renamed over it (core/output_file.h): a full disk leaves no
  // truncated .npy, and directories or special files are refused.
  SLIMRT_ASSIGN_OR_RETURN(OutputFile file, OutputFile::create(path, ".npy file"));
  std::ostream& out = file.stream();
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.bytes()));
  SLIMRT_RETURN_IF_ERROR(file.write_error());
  SLIMRT_RETURN_IF_ERROR(file.commit());
  return Status::OK();
}

}  // namespace slimrt
