// slimrt/tensor.h: a typed n-dimensional array that knows where its memory lives.
//
//   Result<Tensor> t = Tensor::allocate(DataType::kFloat32, {1, 3, 224, 224});
//   float* p = t->data<float>();
//   Tensor view = Tensor::wrap(device_ptr, DataType::kFloat16, {8, 128}, MemoryKind::kDevice);
//
// A Tensor shares its storage (copies are cheap and alias). Storage is either owned (freed by its
// deleter when the last Tensor lets go) or borrowed from the caller (wrap). Host allocations are
// 64-byte aligned. Device and pinned allocations are made by backends, which hand them over with
// Tensor::adopt and a deleter; nothing here assumes the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/dtype.h"
#include "slimrt/status.h"

namespace slimrt {

enum class MemoryKind : uint8_t {
  kHost,        // pageable host memory
  kPinnedHost,  // page-locked host memory, readable by the device
  kDevice,      // device memory
};
std::string_view memory_kind_name(MemoryKind k);

int64_t numel_of(const std::vector<int64_t>& shape);
// The element count and byte size of a shape; nullopt when a dim is negative or the count or the
// size does not fit in int64 (a shape with a 0 dim has 0 elements, whatever its other dims).
std::optional<int64_t> checked_numel(const std::vector<int64_t>& shape);
std::optional<int64_t> checked_bytes(DataType dtype, const std::vector<int64_t>& shape);
// kInvalidArgument naming `what`, the shape and the dtype when checked_bytes fails; OK otherwise.
Status check_tensor_size(std::string_view what, DataType dtype, const std::vector<int64_t>& shape);
// The host memory a single allocation can ever get: physical RAM plus swap, in bytes.
int64_t host_memory_limit_bytes();

class Tensor {
 public:
  Tensor() = default;

  // Allocates zero-filled host memory. Fails with kInvalidArgument on negative dims or a size that
  // overflows int64, and with kOutOfMemory (naming the bytes) when the size exceeds the machine's
  // RAM and swap or the allocation fails.
  static Result<Tensor> allocate(DataType dtype, std::vector<int64_t> shape);
  // Borrows memory the caller keeps alive.
  static Tensor wrap(void* data, DataType dtype, std::vector<int64_t> shape,
                     MemoryKind kind = MemoryKind::kHost);
  // Takes ownership: `deleter(data)` runs when the last reference is dropped.
  static Tensor adopt(void* data, DataType dtype, std::vector<int64_t> shape, MemoryKind kind,
                      std::function<void(void*)> deleter);
  // A host scalar or vector built from values (used by importers and tests).
  template <typename T>
  static Tensor from_vector(DataType dtype, std::vector<int64_t> shape, const std::vector<T>& v);

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_[i]; }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_of(shape_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  MemoryKind memory_kind() const { return kind_; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T> T* data() { return static_cast<T*>(data_); }
  template <typename T> const T* data() const { return static_cast<const T*>(data_); }

  // A view with a new shape over the same storage (numel must match).
  Result<Tensor> reshaped(std::vector<int64_t> shape) const;
  // A deep copy into freshly allocated host memory. Host and pinned tensors only.
  Result<Tensor> clone() const;

  // Reads element i (flat index) of a host tensor of any dtype, converted.
  double get_as_double(int64_t i) const;
  int64_t get_as_int64(int64_t i) const;
  // Returns every element of an integer host tensor as int64 (for shapes, axes, indices).
  std::vector<int64_t> to_int64_vector() const;

  // Fills a host float tensor with a value whose bits are easy to spot (NaN for floats,
  // 0x5A bytes otherwise). Used to poison outputs before a run.
  void poison();

 private:
  DataType dtype_ = DataType::kUndefined;
  std::vector<int64_t> shape_;
  MemoryKind kind_ = MemoryKind::kHost;
  void* data_ = nullptr;
  std::shared_ptr<void> storage_;  // keeps owned memory alive; empty for borrowed memory
};

template <typename T>
Tensor Tensor::from_vector(DataType dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
  Result<Tensor> r = allocate(dtype, std::move(shape));
  SLIMRT_CHECK(r.ok());
  Tensor t = std::move(r).value();
  SLIMRT_CHECK(static_cast<size_t>(t.numel()) == v.size());
  SLIMRT_CHECK(sizeof(T) == dtype_size(dtype));
  for (size_t i = 0; i < v.size(); ++i) t.data<T>()[i] = v[i];
  return t;
}

}  // namespace slimrt
