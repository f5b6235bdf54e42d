// Shared pieces of the index and image families (index*.cu, image*.cu): index loading with
// wrap-around, a device buffer owned by a Kernel for tables built at prepare time, and the
// per-file registration hooks that register_index_kernels calls.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "cuda/kernels/common.cuh"

namespace slimrt::cuda {

void register_index_gather_kernels(KernelRegistry& r);    // index.cu
void register_index_scatter_kernels(KernelRegistry& r);   // index_scatter.cu
void register_index_generate_kernels(KernelRegistry& r);  // index_generate.cu
void register_image_resize_kernels(KernelRegistry& r);    // image_resize.cu
void register_image_grid_sample_kernels(KernelRegistry& r);  // image_grid_sample.cu

// Pinned host memory a Kernel fills once in `create` (lookup tables) and frees with itself. The
// kernel copies it into the context's workspace at each enqueue (a capturable H2D copy), so a
// new input shape allocates no device memory.
class PinnedBlob {
 public:
  PinnedBlob() = default;
  PinnedBlob(const PinnedBlob&) = delete;
  PinnedBlob& operator=(const PinnedBlob&) = delete;
  ~PinnedBlob() {
    if (p_) SLIMRT_CUDA_IGNORE(cudaFreeHost(p_));
  }
  Status allocate(uint64_t bytes, const char* what) {
    Status s = SLIMRT_CUDA_ALLOC(cudaMallocHost(&p_, bytes), bytes, std::string("pinned host memory for ") + what);
    if (!s.ok()) {
      p_ = nullptr;
      return s;
    }
    bytes_ = bytes;
    return Status::OK();
  }
  uint8_t* data() const { return static_cast<uint8_t*>(p_); }
  uint64_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  uint64_t bytes_ = 0;
};

// Wraps a possibly negative index into [0, dim); -1 when it is out of [-dim, dim). The CPU
// reference errors on such indices; the device must not write or read out of bounds instead.
template <typename I> __device__ __forceinline__ int64_t wrap_index(I raw, int64_t dim) {
  int64_t i = static_cast<int64_t>(raw);
  if (i < 0) i += dim;
  return (i >= 0 && i < dim) ? i : -1;
}

// Indices live on the device as int32 or int64.
template <typename F> Status dispatch_index(DataType t, F&& f) {
  if (t == DataType::kInt32) { f(TypeTag<int32_t>{}); return Status::OK(); }
  if (t == DataType::kInt64) { f(TypeTag<int64_t>{}); return Status::OK(); }
  return unsupported(std::string("indices of dtype ") + std::string(dtype_name(t)) + " (int32 or int64 expected)");
}

// Data moved by element size (dispatch_bytes) and indices as int32 or int64 (dispatch_index):
// f(TypeTag<T>{}, TypeTag<I>{}). The index dtype was checked when the kernel was made.
template <typename F> Status dispatch_bytes_and_index(DataType data, DataType index, F&& f) {
  return dispatch_bytes(data, [&](auto ttag) {
    (void)dispatch_index(index, [&](auto itag) { f(ttag, itag); });
  });
}

// 32-bit offsets when every tensor the kernel addresses has fewer than 2^30 elements (the
// headroom keeps a grid-stride step past the end from overflowing).
inline bool fits_int32(std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes) {
    if (s >= (int64_t{1} << 30)) return false;
  }
  return true;
}
template <typename F> void dispatch_offset(bool small, F&& f) {
  if (small) f(TypeTag<int32_t>{});
  else f(TypeTag<int64_t>{});
}

inline Dims dims_of(const std::vector<int64_t>& v) {
  Dims d;
  d.rank = static_cast<int>(v.size());
  for (size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}
inline Dims strides_of(const std::vector<int64_t>& v) {
  Dims s;
  s.rank = static_cast<int>(v.size());
  int64_t st = 1;
  for (size_t i = v.size(); i-- > 0;) {
    s.d[i] = st;
    st *= v[i];
  }
  return s;
}
inline int64_t product(const std::vector<int64_t>& v, size_t lo, size_t hi) {
  int64_t p = 1;
  for (size_t i = lo; i < hi && i < v.size(); ++i) p *= v[i];
  return p;
}
// Normalised axis attribute; -1 when out of [-rank, rank).
inline int64_t axis_attr(const Node& n, const char* name, int64_t def, int64_t rank) {
  int64_t a = n.attr_int(name, def);
  if (a < 0) a += rank;
  return (a >= 0 && a < rank) ? a : -1;
}

// The bit pattern of a double value stored as `t` (for fills: ConstantOfShape, EyeLike).
inline uint64_t bits_of_value(DataType t, double v) {
  uint64_t bits = 0;
  auto put = [&](auto x) { std::memcpy(&bits, &x, sizeof(x)); };
  switch (t) {
    case DataType::kFloat32: put(static_cast<float>(v)); break;
    case DataType::kFloat64: put(v); break;
    case DataType::kFloat16: put(float_to_half(static_cast<float>(v))); break;
    case DataType::kBFloat16: put(float_to_bfloat16(static_cast<float>(v))); break;
    case DataType::kInt8: put(static_cast<int8_t>(v)); break;
    case DataType::kUInt8: put(static_cast<uint8_t>(v)); break;
    case DataType::kInt32: put(static_cast<int32_t>(v)); break;
    case DataType::kInt64: put(static_cast<int64_t>(v)); break;
    case DataType::kBool: put(static_cast<uint8_t>(v != 0)); break;
    default: break;
  }
  return bits;
}

// Fills n elements of `esize` bytes with the low bytes of `bits` (memset when all zero).
Status fill_bits(void* dst, int64_t n, size_t esize, uint64_t bits, cudaStream_t stream);

}  // namespace slimrt::cuda
