// CPU reference kernels for the tensor family's generators and data-dependent ops: Range,
// ConstantOfShape, Trilu, EyeLike, OneHot, NonZero, Compress.
#include <cmath>

#include "cpu/kernels/tensor_common.h"

namespace slimrt::cpu {

namespace {

using tensor_kernels::for_each_index;
using tensor_kernels::product;

Status range_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  const Tensor& start = *ctx.input(0);
  const Tensor& delta = *ctx.input(2);
  return dispatch_numeric(out.dtype(), [&]<typename T>() {
    T* dst = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      const int64_t s = start.get_as_int64(0), d = delta.get_as_int64(0);
      for (int64_t i = 0; i < out.numel(); ++i) dst[i] = static_cast<T>(s + i * d);
    } else {
      // start + i * delta in double, rounded once to T.
      const double s = start.get_as_double(0), d = delta.get_as_double(0);
      for (int64_t i = 0; i < out.numel(); ++i) dst[i] = static_cast<T>(s + static_cast<double>(i) * d);
    }
    return Status::OK();
  });
}

Status constant_of_shape_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  const Tensor* value = ctx.node.attr_tensor("value");
  const size_t esize = dtype_size(out.dtype());
  if (!value) {
    std::memset(out.raw(), 0, out.bytes());  // float32 0: all bits zero
    return Status::OK();
  }
  if (value->dtype() != out.dtype() || value->numel() != 1) return ctx.invalid("value attribute changed");
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(dst + static_cast<size_t>(i) * esize, value->raw(), esize);
  return Status::OK();
}

// Zeroes the elements of each trailing matrix outside the kept triangle. Zero is all-zero bits
// in every dtype, so bytes suffice.
Status trilu_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t k = ctx.input(1) ? ctx.input(1)->get_as_int64(0) : 0;
  const int64_t rows = in.dim(in.rank() - 2), cols = in.dim(in.rank() - 1);
  const int64_t mats = product(in.shape(), 0, in.rank() - 2);
  return dispatch_bytes(in.dtype(), [&]<typename T>() {
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (int64_t m = 0; m < mats; ++m) {
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t e = (m * rows + i) * cols + j;
          const bool keep = upper ? j - i >= k : j - i <= k;
          dst[e] = keep ? src[e] : T(0);
        }
      }
    }
    return Status::OK();
  });
}

// Writes the value 1 of `t` at element i of `out`.
void store_one(Tensor& out, int64_t i) {
  switch (out.dtype()) {
    case DataType::kFloat32: out.data<float>()[i] = 1.0f; break;
    case DataType::kFloat64: out.data<double>()[i] = 1.0; break;
    case DataType::kFloat16: out.data<uint16_t>()[i] = float_to_half(1.0f); break;
    case DataType::kBFloat16: out.data<uint16_t>()[i] = float_to_bfloat16(1.0f); break;
    case DataType::kInt8: out.data<int8_t>()[i] = 1; break;
    case DataType::kUInt8: out.data<uint8_t>()[i] = 1; break;
    case DataType::kInt32: out.data<int32_t>()[i] = 1; break;
    case DataType::kInt64: out.data<int64_t>()[i] = 1; break;
    case DataType::kBool: out.data<uint8_t>()[i] = 1; break;
    case DataType::kUndefined: break;
  }
}

Status eye_like_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  const int64_t k = ctx.node.attr_int("k", 0);
  std::memset(out.raw(), 0, out.bytes());
  const int64_t rows = out.dim(0), cols = out.dim(1);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < cols) store_one(out, i * cols + j);
  }
  return Status::OK();
}

Status one_hot_kernel(KernelContext& ctx) {
  const Tensor& ind = *ctx.input(0);
  const Tensor& values = *ctx.input(2);
  Tensor& out = ctx.output(0);
  const int64_t out_rank = static_cast<int64_t>(out.rank());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < 0) axis += out_rank;
  const int64_t depth = out.dim(static_cast<size_t>(axis));
  const int64_t inner = product(ind.shape(), static_cast<size_t>(axis), ind.rank());
  return dispatch_bytes(out.dtype(), [&]<typename T>() {
    const T off = values.data<T>()[0], on = values.data<T>()[1];
    T* dst = out.data<T>();
    for (int64_t e = 0; e < out.numel(); ++e) dst[e] = off;
    for (int64_t p = 0; p < ind.numel(); ++p) {
      // Float indices are truncated toward zero; out-of-range ones leave the row all `off`.
      int64_t i = static_cast<int64_t>(ind.get_as_double(p));
      if (i < -depth || i >= depth) continue;
      if (i < 0) i += depth;
      const int64_t outer_i = p / inner, inner_i = p % inner;
      dst[(outer_i * depth + i) * inner + inner_i] = on;
    }
    return Status::OK();
  });
}

Status non_zero_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  const int64_t n = out.rank() == 2 ? out.dim(1) : 0;
  int64_t col = 0, flat = 0;
  int64_t* dst = out.data<int64_t>();
  const size_t rank = in.rank();
  for_each_index(in.shape(), [&](const std::vector<int64_t>& idx) {
    if (in.get_as_double(flat++) != 0.0 && col < n) {
      for (size_t k = 0; k < rank; ++k) dst[static_cast<int64_t>(k) * n + col] = idx[k];
      ++col;
    }
  });
  if (col != n) return ctx.invalid("nonzero count disagrees with the inferred shape");
  return Status::OK();
}

Status compress_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  const Tensor& cond = *ctx.input(1);
  Tensor& out = ctx.output(0);
  const size_t esize = dtype_size(in.dtype());
  const bool has_axis = ctx.node.has_attr("axis");
  const int64_t rank = static_cast<int64_t>(in.rank());
  int64_t axis = has_axis ? ctx.node.attr_int("axis", 0) : 0;
  if (axis < 0) axis += rank;
  const size_t a = static_cast<size_t>(axis);
  // Without an axis the input is flattened: one outer block, the whole tensor along the axis.
  const int64_t outer = has_axis ? product(in.shape(), 0, a) : 1;
  const int64_t dim = has_axis ? in.dim(a) : in.numel();
  const size_t inner_bytes = (has_axis ? static_cast<size_t>(product(in.shape(), a + 1, in.rank())) : 1) * esize;
  const int64_t m = std::min(dim, cond.numel());
  const auto* src = static_cast<const uint8_t*>(in.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  const auto* end = dst + out.bytes();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < m; ++i) {
      if (cond.get_as_double(i) == 0.0) continue;
      if (dst + inner_bytes > end) return ctx.invalid("selected count disagrees with the inferred shape");
      std::memcpy(dst, src + static_cast<size_t>(o * dim + i) * inner_bytes, inner_bytes);
      dst += inner_bytes;
    }
  }
  if (dst != end) return ctx.invalid("selected count disagrees with the inferred shape");
  return Status::OK();
}

}  // namespace

void register_tensor_generate_kernels(KernelRegistry& r) {
  r.add({"Range", range_kernel, false});
  r.add({"ConstantOfShape", constant_of_shape_kernel, false});
  r.add({"Trilu", trilu_kernel, false});
  r.add({"EyeLike", eye_like_kernel, false});
  r.add({"OneHot", one_hot_kernel, false});
  r.add({"NonZero", non_zero_kernel, false});
  r.add({"Compress", compress_kernel, false});
}

}  // namespace slimrt::cpu
