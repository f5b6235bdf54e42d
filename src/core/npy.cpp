// NumPy .npy reading and writing. Format: magic "\x93NUMPY", version (1.0, 2.0 or 3.0), a header
// length (2 bytes in 1.0, 4 bytes after), a Python dict literal with 'descr', 'fortran_order' and
// 'shape', padded so the data starts on a 64-byte boundary, then the raw little-endian data.
#include "slimrt/npy.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/output_file.h"
#include "slimrt/shape.h"
#include "core/npy_header.h"

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

std::string os_reason(int err) { return std::strerror(err); }

// An open file descriptor, closed when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads up to `n` bytes, fewer only where the file ends. kIoError with the OS reason on failure.
Result<size_t> read_up_to(int fd, void* buf, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::read(fd, static_cast<char*>(buf) + done, std::min<size_t>(n - done, size_t{1} << 30));
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error(fmt::format("cannot read '{}': {}", path, os_reason(errno)));
    }
    done += static_cast<size_t>(r);
  }
  return done;
}

Status open_error(const std::string& path, int err) {
  const std::string m = fmt::format("cannot open .npy file '{}': {}", path, os_reason(err));
  if (err == ENOENT || err == ENOTDIR) return not_found(m);
  if (err == EACCES || err == EPERM || err == ELOOP || err == ENAMETOOLONG || err == ENXIO) return invalid_argument(m);
  return io_error(m);
}

}  // namespace

Result<Tensor> read_npy(const std::string& path) {
  // O_NONBLOCK: opening a FIFO that no one writes to must not wait for a writer.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return open_error(path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(fmt::format("cannot stat '{}': {}", path, os_reason(errno)));
  if (S_ISDIR(st.st_mode)) return invalid_argument(fmt::format("'{}' is a directory, not a .npy file", path));
  // Anything but a regular file is read as a stream: to its end, without seeking.
  const bool regular = S_ISREG(st.st_mode);
  if (!regular) {
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
      return io_error(fmt::format("cannot read '{}': {}", path, os_reason(errno)));
  }
  const std::string what = regular ? std::string() : fmt::format(" (a {})", file_kind_name(st.st_mode));

  unsigned char prefix[12] = {};  // magic, version, and a 2- or 4-byte header length
  SLIMRT_ASSIGN_OR_RETURN(size_t got, read_up_to(fd.get(), prefix, 8, path));
  if (got == 0)
    return invalid_argument(fmt::format("'{}'{} is empty, not a .npy file{}", path, what,
                                        S_ISFIFO(st.st_mode) ? " (nothing was written to it)" : ""));
  if (got < 8 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    return invalid_argument(fmt::format("'{}'{} is not a .npy file (bad magic: it does not start with \\x93NUMPY)",
                                        path, what));
  const int major = prefix[6];
  const int minor = prefix[7];
  if (major < 1 || major > 3 || minor != 0) {
    return unsupported(fmt::format("'{}': .npy format version {}.{} is not supported (1.0, 2.0 and 3.0 are)", path,
                                   major, minor));
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  SLIMRT_ASSIGN_OR_RETURN(got, read_up_to(fd.get(), prefix + 8, len_bytes, path));
  if (got < len_bytes) return data_loss(fmt::format("'{}': the .npy file ends inside its header length", path));
  uint32_t header_len = 0;
  for (size_t k = 0; k < len_bytes; ++k) header_len |= static_cast<uint32_t>(prefix[8 + k]) << (8 * k);
  constexpr uint32_t kMaxHeader = 1u << 20;
  if (header_len > kMaxHeader) {
    return invalid_argument(fmt::format("'{}': the .npy header length {} is larger than the {} bytes slimrt reads",
                                        path, header_len, kMaxHeader));
  }
  const int64_t data_offset = static_cast<int64_t>(8 + len_bytes + header_len);
  if (regular && data_offset > st.st_size) {
    return data_loss(fmt::format("'{}': the .npy header is truncated: it says {} bytes, the file has {} after the "
                                 "length",
                                 path, header_len, st.st_size - static_cast<int64_t>(8 + len_bytes)));
  }
  std::string header(header_len, '\0');
  SLIMRT_ASSIGN_OR_RETURN(got, read_up_to(fd.get(), header.data(), header_len, path));
  if (got < header_len) {
    return data_loss(fmt::format("'{}'{}: the .npy header is truncated: it says {} bytes, the file has {}", path, what,
                                 header_len, got));
  }

  Result<npy::Header> parsed = npy::parse_header(header);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), fmt::format("'{}': the .npy header \"{}\" is not valid: {}", path,
                                                      npy::printable_header(header), parsed.status().message()));
  }
  const npy::Header& h = *parsed;
  if (h.fortran_order) return unsupported("'" + path + "': Fortran-order .npy arrays are not supported");
  Result<DataType> dtype = npy::dtype_of_descr(h.descr);
  if (!dtype.ok()) return dtype.status().with_context("'" + path + "'");
  const std::optional<int64_t> need = checked_bytes(*dtype, h.shape);
  if (!need) {
    return check_tensor_size(fmt::format("'{}': the .npy header's shape", path), *dtype, h.shape);
  }
  const std::string described = fmt::format("shape {} of {} needs {} bytes of data", shape_to_string(h.shape),
                                            dtype_name(*dtype), *need);
  if (regular) {
    const int64_t have = st.st_size - data_offset;
    if (have < *need) {
      return data_loss(fmt::format("'{}' is shorter than its header says: {} after the {}-byte header, the file has {}",
                                   path, described, data_offset, have));
    }
    if (have > *need) {
      return invalid_argument(fmt::format("'{}' is longer than its header says: {} after the {}-byte header, the file "
                                          "has {} ({} bytes too many)",
                                          path, described, data_offset, have, have - *need));
    }
  }
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, Tensor::allocate(*dtype, h.shape));
  SLIMRT_ASSIGN_OR_RETURN(got, read_up_to(fd.get(), t.raw(), static_cast<size_t>(*need), path));
  if (static_cast<int64_t>(got) < *need) {
    return data_loss(fmt::format("'{}'{} ended early: its header's {}, it gave {}", path, what, described, got));
  }
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
