// Helpers shared by the tensor family's CPU kernels (src/cpu/kernels/tensor*.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/kernel_registry.h"
#include "ir/ops/tensor_common.h"

namespace slimrt::cpu::tensor_kernels {

// Row-major strides, in elements.
inline std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t k = shape.size(); k-- > 1;) s[k - 1] = s[k] * shape[k];
  return s;
}

inline int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to && k < shape.size(); ++k) p *= shape[k];
  return p;
}

// Calls f(index) for every multi-index of `shape` in row-major order (once for a scalar,
// never for an empty shape).
template <typename F>
void for_each_index(const std::vector<int64_t>& shape, F&& f) {
  for (int64_t d : shape) {
    if (d <= 0) return;
  }
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    f(idx);
    size_t k = shape.size();
    while (k > 0) {
      --k;
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
      if (k == 0) return;
    }
    if (shape.empty()) return;
  }
}

// A normalized axis attribute; the shape inference already validated it.
inline int64_t axis_attr(const Node& n, const char* name, int64_t def, int64_t rank) {
  int64_t a = n.attr_int(name, def);
  return a < 0 ? a + rank : a;
}

// Fills `out` in row-major order with the elements of `in` at offset_of(index) for each
// output index: the gather under Transpose, Expand, Tile and Slice. Any dtype, moved as bytes.
template <typename OffsetOf>
Status copy_from_offsets(const Tensor& in, Tensor& out, OffsetOf&& offset_of) {
  return dispatch_bytes(in.dtype(), [&]<typename T>() {
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    int64_t o = 0;
    for_each_index(out.shape(), [&](const std::vector<int64_t>& idx) { dst[o++] = src[offset_of(idx)]; });
    return Status::OK();
  });
}

inline Status copy_bytes(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  if (in.bytes() != out.bytes()) return ctx.invalid("input and output sizes differ");
  if (in.bytes()) std::memcpy(out.raw(), in.raw(), in.bytes());
  return Status::OK();
}

using tensor_ops::slice_range;  // shared with shape inference (src/ir/ops/tensor_common.h)

}  // namespace slimrt::cpu::tensor_kernels
