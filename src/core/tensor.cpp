#include "slimrt/tensor.h"

#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "slimrt/shape.h"

namespace slimrt {

namespace {

std::string human_bytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= (int64_t{1} << 40)) return fmt::format("{:.1f} TiB", b / static_cast<double>(int64_t{1} << 40));
  if (bytes >= (int64_t{1} << 30)) return fmt::format("{:.1f} GiB", b / static_cast<double>(int64_t{1} << 30));
  return fmt::format("{:.1f} MiB", b / static_cast<double>(int64_t{1} << 20));
}

}  // namespace

std::string_view memory_kind_name(MemoryKind k) {
  switch (k) {
    case MemoryKind::kHost: return "host";
    case MemoryKind::kPinnedHost: return "pinned";
    case MemoryKind::kDevice: return "device";
  }
  return "unknown";
}

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape) {
  if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; })) return std::nullopt;
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

std::optional<int64_t> checked_bytes(DataType dtype, const std::vector<int64_t>& shape) {
  const std::optional<int64_t> n = checked_numel(shape);
  int64_t bytes = 0;
  if (!n || __builtin_mul_overflow(*n, static_cast<int64_t>(dtype_size(dtype)), &bytes)) return std::nullopt;
  return bytes;
}

Status check_tensor_size(std::string_view what, DataType dtype, const std::vector<int64_t>& shape) {
  if (checked_bytes(dtype, shape)) return Status::OK();
  const std::string head = fmt::format("{} {} of {}", what, shape_to_string(shape), dtype_name(dtype));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) return invalid_argument(fmt::format("{}: dim {} is negative ({})", head, i, shape[i]));
  }
  if (!checked_numel(shape)) {
    return invalid_argument(fmt::format("{}: the element count (the product of the dims) overflows int64 (at most {})",
                                        head, std::numeric_limits<int64_t>::max()));
  }
  return invalid_argument(fmt::format("{}: {} elements of {} bytes overflow int64 (at most {} bytes)", head,
                                      *checked_numel(shape), dtype_size(dtype), std::numeric_limits<int64_t>::max()));
}

int64_t host_memory_limit_bytes() {
  // Asked once: every tensor allocation compares against it.
  static const int64_t limit = [] {
    struct sysinfo si {};
    if (sysinfo(&si) != 0) return std::numeric_limits<int64_t>::max();
    const unsigned __int128 total = (static_cast<unsigned __int128>(si.totalram) + si.totalswap) * si.mem_unit;
    return total > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                                        : static_cast<int64_t>(total);
  }();
  return limit;
}

Result<Tensor> Tensor::allocate(DataType dtype, std::vector<int64_t> shape) {
  if (dtype == DataType::kUndefined) return invalid_argument("cannot allocate a tensor of undefined dtype");
  SLIMRT_RETURN_IF_ERROR(check_tensor_size("cannot allocate a tensor", dtype, shape));
  const int64_t bytes = *checked_bytes(dtype, shape);
  // An allocation beyond RAM and swap can only fail, or (with overcommit) be killed when touched.
  const int64_t limit = host_memory_limit_bytes();
  if (bytes > limit) {
    return out_of_memory(fmt::format("host allocation of {} bytes ({}) for a {} {} tensor exceeds this machine's "
                                     "memory ({} bytes of RAM and swap)",
                                     bytes, human_bytes(bytes), shape_to_string(shape), dtype_name(dtype), limit));
  }
  const size_t rounded = (std::max<size_t>(static_cast<size_t>(bytes), 1) + 63) / 64 * 64;
  auto failed = [&](int err) {
    return out_of_memory(fmt::format("host allocation of {} bytes ({}) for a {} {} tensor failed: {}", bytes,
                                     human_bytes(bytes), shape_to_string(shape), dtype_name(dtype), std::strerror(err)));
  };
  Tensor t;
  // Large tensors are mapped: the kernel's pages are already zero and are only taken when
  // touched, so a tensor that a short stream or a failed run never fills costs nothing.
  constexpr size_t kMapFrom = size_t{1} << 20;
  if (rounded >= kMapFrom) {
    void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return failed(errno);
    t.data_ = p;
    t.storage_ = std::shared_ptr<void>(p, [rounded](void* q) { ::munmap(q, rounded); });
  } else {
    void* p = std::aligned_alloc(64, rounded);
    if (!p) return failed(ENOMEM);
    std::memset(p, 0, rounded);
    t.data_ = p;
    t.storage_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.kind_ = MemoryKind::kHost;
  return t;
}

Tensor Tensor::wrap(void* data, DataType dtype, std::vector<int64_t> shape, MemoryKind kind) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.kind_ = kind;
  t.data_ = data;
  return t;
}

Tensor Tensor::adopt(void* data, DataType dtype, std::vector<int64_t> shape, MemoryKind kind,
                     std::function<void(void*)> deleter) {
  Tensor t = wrap(data, dtype, std::move(shape), kind);
  t.storage_ = std::shared_ptr<void>(data, std::move(deleter));
  return t;
}

Result<Tensor> Tensor::reshaped(std::vector<int64_t> shape) const {
  if (numel_of(shape) != numel())
    return invalid_argument("cannot view " + shape_to_string(shape_) + " as " + shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Result<Tensor> Tensor::clone() const {
  if (kind_ == MemoryKind::kDevice) return invalid_argument("Tensor::clone of a device tensor");
  SLIMRT_ASSIGN_OR_RETURN(Tensor t, allocate(dtype_, shape_));
  if (bytes()) std::memcpy(t.data_, data_, bytes());
  return t;
}

double Tensor::get_as_double(int64_t i) const {
  switch (dtype_) {
    case DataType::kFloat32: return data<float>()[i];
    case DataType::kFloat16: return half_to_float(data<uint16_t>()[i]);
    case DataType::kBFloat16: return bfloat16_to_float(data<uint16_t>()[i]);
    case DataType::kFloat64: return data<double>()[i];
    case DataType::kInt8: return data<int8_t>()[i];
    case DataType::kUInt8: return data<uint8_t>()[i];
    case DataType::kInt32: return data<int32_t>()[i];
    case DataType::kInt64: return static_cast<double>(data<int64_t>()[i]);
    case DataType::kBool: return data<uint8_t>()[i] ? 1.0 : 0.0;
    case DataType::kUndefined: break;
  }
  return 0.0;
}

int64_t Tensor::get_as_int64(int64_t i) const {
  switch (dtype_) {
    case DataType::kInt8: return data<int8_t>()[i];
    case DataType::kUInt8: return data<uint8_t>()[i];
    case DataType::kInt32: return data<int32_t>()[i];
    case DataType::kInt64: return data<int64_t>()[i];
    case DataType::kBool: return data<uint8_t>()[i] ? 1 : 0;
    default: return static_cast<int64_t>(get_as_double(i));
  }
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = get_as_int64(i);
  return v;
}

void Tensor::poison() {
  if (!data_ || kind_ == MemoryKind::kDevice) return;
  const int64_t n = numel();
  switch (dtype_) {
    case DataType::kFloat32:
      for (int64_t i = 0; i < n; ++i) data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
      return;
    case DataType::kFloat64:
      for (int64_t i = 0; i < n; ++i) data<double>()[i] = std::numeric_limits<double>::quiet_NaN();
      return;
    case DataType::kFloat16:
      for (int64_t i = 0; i < n; ++i) data<uint16_t>()[i] = 0x7e00;
      return;
    case DataType::kBFloat16:
      for (int64_t i = 0; i < n; ++i) data<uint16_t>()[i] = 0x7fc0;
      return;
    default:
      std::memset(data_, 0x5A, bytes());
  }
}

}  // namespace slimrt
