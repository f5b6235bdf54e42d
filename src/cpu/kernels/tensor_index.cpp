// CPU reference kernels for the tensor family's indexing ops: Slice, Gather, GatherElements,
// GatherND, ScatterElements, ScatterND. Indices may be negative (counted from the end); an
// index out of range is an error naming the node, never a crash.
#include "cpu/kernels/tensor_common.h"

namespace slimrt::cpu {

namespace {

using tensor_kernels::axis_attr;
using tensor_kernels::copy_from_offsets;
using tensor_kernels::for_each_index;
using tensor_kernels::product;
using tensor_kernels::slice_range;
using tensor_kernels::strides_of;

// Wraps a negative index; returns false when it is out of [-dim, dim).
bool wrap_index(int64_t* i, int64_t dim) {
  if (*i < -dim || *i >= dim) return false;
  if (*i < 0) *i += dim;
  return true;
}

Status index_error(const KernelContext& ctx, int64_t i, int64_t dim) {
  return out_of_range(ctx.node.describe() + ": index " + std::to_string(i) + " is out of range for a dim of " +
                      std::to_string(dim));
}

Status slice_kernel(KernelContext& ctx) {
  const Tensor& in = *ctx.input(0);
  Tensor& out = ctx.output(0);
  const int64_t rank = static_cast<int64_t>(in.rank());
  const auto starts = ctx.input(1)->to_int64_vector();
  const auto ends = ctx.input(2)->to_int64_vector();
  std::vector<int64_t> axes, steps(starts.size(), 1);
  if (ctx.input(3)) {
    axes = ctx.input(3)->to_int64_vector();
  } else {
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  }
  if (ctx.input(4)) steps = ctx.input(4)->to_int64_vector();
  // Per input axis: first index and step (untouched axes start at 0 with step 1).
  std::vector<int64_t> first(in.rank(), 0), step(in.rank(), 1);
  for (size_t k = 0; k < starts.size(); ++k) {
    const size_t a = static_cast<size_t>(axes[k] < 0 ? axes[k] + rank : axes[k]);
    const auto r = slice_range(in.dim(a), starts[k], ends[k], steps[k]);
    if (r.count != out.dim(a)) return ctx.invalid("slice size disagrees with the inferred shape");
    first[a] = r.start;
    step[a] = steps[k];
  }
  const auto stride = strides_of(in.shape());
  return copy_from_offsets(in, out, [&](const std::vector<int64_t>& idx) {
    int64_t off = 0;
    for (size_t k = 0; k < idx.size(); ++k) off += (first[k] + idx[k] * step[k]) * stride[k];
    return off;
  });
}

Status gather_kernel(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  Tensor& out = ctx.output(0);
  const size_t a = static_cast<size_t>(axis_attr(ctx.node, "axis", 0, static_cast<int64_t>(data.rank())));
  const auto indices = ctx.input(1)->to_int64_vector();
  const int64_t outer = product(data.shape(), 0, a);
  const int64_t dim = data.dim(a);
  const size_t inner_bytes = static_cast<size_t>(product(data.shape(), a + 1, data.rank())) * dtype_size(data.dtype());
  const auto* src = static_cast<const uint8_t*>(data.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i : indices) {
      int64_t j = i;
      if (!wrap_index(&j, dim)) return index_error(ctx, i, dim);
      if (inner_bytes) std::memcpy(dst, src + static_cast<size_t>(o * dim + j) * inner_bytes, inner_bytes);
      dst += inner_bytes;
    }
  }
  return Status::OK();
}

// GatherElements/ScatterElements: the offset in `shape` of the element at position `idx` of the
// indices tensor, with dim `axis` replaced by the (possibly negative) index `raw`.
Status element_offset(const KernelContext& ctx, const std::vector<int64_t>& shape, const std::vector<int64_t>& stride,
                      size_t axis, const std::vector<int64_t>& idx, int64_t raw, int64_t* off) {
  int64_t j = raw;
  if (!wrap_index(&j, shape[axis])) return index_error(ctx, raw, shape[axis]);
  *off = 0;
  for (size_t k = 0; k < idx.size(); ++k) {
    const int64_t x = k == axis ? j : idx[k];
    if (x >= shape[k]) return ctx.invalid("indices shape exceeds data shape in dim " + std::to_string(k));
    *off += x * stride[k];
  }
  return Status::OK();
}

// GatherElements/ScatterElements: calls f(o, off) for the o-th element of the indices tensor
// (input 1, row-major) and the offset in data (input 0) that it addresses along the axis;
// stops at the first index out of range.
template <typename F>
Status for_each_element_offset(const KernelContext& ctx, F&& f) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const size_t a = static_cast<size_t>(axis_attr(ctx.node, "axis", 0, static_cast<int64_t>(data.rank())));
  const auto stride = strides_of(data.shape());
  const auto indices = ind.to_int64_vector();
  int64_t o = 0;
  Status st;
  for_each_index(ind.shape(), [&](const std::vector<int64_t>& idx) {
    if (!st.ok()) return;
    int64_t off = 0;
    st = element_offset(ctx, data.shape(), stride, a, idx, indices[static_cast<size_t>(o)], &off);
    if (!st.ok()) return;
    f(o++, off);
  });
  return st;
}

Status gather_elements_kernel(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  Tensor& out = ctx.output(0);
  return dispatch_bytes(data.dtype(), [&]<typename T>() -> Status {
    const T* src = data.data<T>();
    T* dst = out.data<T>();
    return for_each_element_offset(ctx, [&](int64_t o, int64_t off) { dst[o] = src[off]; });
  });
}

// Offset (in elements) of the slice addressed by one index tuple of GatherND/ScatterND:
// the tuple indexes dims [first, first + k) of `shape`.
Status nd_offset(const KernelContext& ctx, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                 size_t first, const int64_t* tuple, int64_t k, int64_t* off) {
  *off = 0;
  for (int64_t j = 0; j < k; ++j) {
    const size_t d = first + static_cast<size_t>(j);
    int64_t i = tuple[j];
    if (!wrap_index(&i, shape[d])) return index_error(ctx, tuple[j], shape[d]);
    *off += i * strides[d];
  }
  return Status::OK();
}

Status gather_nd_kernel(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  Tensor& out = ctx.output(0);
  const size_t b = static_cast<size_t>(ctx.node.attr_int("batch_dims", 0));
  const int64_t k = ind.shape().back();
  const auto indices = ind.to_int64_vector();
  const int64_t batches = product(data.shape(), 0, b);
  const int64_t batch_size = product(data.shape(), b, data.rank());
  const int64_t tuples = product(ind.shape(), b, ind.rank() - 1);  // per batch
  const size_t slice_bytes = static_cast<size_t>(product(data.shape(), b + static_cast<size_t>(k), data.rank())) *
                             dtype_size(data.dtype());
  const auto strides = strides_of(data.shape());
  const auto* src = static_cast<const uint8_t*>(data.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  if (product(ind.shape(), 0, b) != batches) return ctx.invalid("batch dims of data and indices differ");
  for (int64_t bi = 0; bi < batches; ++bi) {
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      SLIMRT_RETURN_IF_ERROR(nd_offset(ctx, data.shape(), strides, b, &indices[static_cast<size_t>((bi * tuples + t) * k)], k, &off));
      if (slice_bytes) std::memcpy(dst, src + static_cast<size_t>(bi * batch_size + off) * dtype_size(data.dtype()), slice_bytes);
      dst += slice_bytes;
    }
  }
  return Status::OK();
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Reduction reduction_of(const Node& n) {
  const std::string r = n.attr_string("reduction", "none");
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  return Reduction::kNone;
}

template <typename T>
T combine(T a, T b, Reduction r) {
  switch (r) {
    case Reduction::kNone: return b;
    case Reduction::kAdd: return static_cast<T>(a + b);
    case Reduction::kMul: return static_cast<T>(a * b);
    case Reduction::kMax: return a < b ? b : a;
    case Reduction::kMin: return b < a ? b : a;
  }
  return b;
}

// Calls f(combine_fn) with an element combiner for the storage type of `t`: fp16/bf16 combine
// in float32 and round back, bool as logical or/and.
template <typename F>
Status dispatch_combine(DataType t, Reduction r, F&& f) {
  switch (t) {
    case DataType::kFloat32: return f([r](float a, float b) { return combine(a, b, r); });
    case DataType::kFloat64: return f([r](double a, double b) { return combine(a, b, r); });
    case DataType::kInt8: return f([r](int8_t a, int8_t b) { return combine(a, b, r); });
    case DataType::kUInt8: return f([r](uint8_t a, uint8_t b) { return combine(a, b, r); });
    case DataType::kInt32: return f([r](int32_t a, int32_t b) { return combine(a, b, r); });
    case DataType::kInt64: return f([r](int64_t a, int64_t b) { return combine(a, b, r); });
    case DataType::kBool:
      return f([r](uint8_t a, uint8_t b) -> uint8_t {
        if (r == Reduction::kNone) return b;
        const bool x = a != 0, y = b != 0;
        return (r == Reduction::kAdd || r == Reduction::kMax) ? (x || y) : (x && y);
      });
    case DataType::kFloat16:
      return f([r](uint16_t a, uint16_t b) {
        return r == Reduction::kNone ? b : float_to_half(combine(half_to_float(a), half_to_float(b), r));
      });
    case DataType::kBFloat16:
      return f([r](uint16_t a, uint16_t b) {
        return r == Reduction::kNone ? b : float_to_bfloat16(combine(bfloat16_to_float(a), bfloat16_to_float(b), r));
      });
    case DataType::kUndefined: break;
  }
  return unsupported("scatter on dtype " + std::string(dtype_name(t)));
}

Status scatter_elements_kernel(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Tensor& upd = *ctx.input(2);
  Tensor& out = ctx.output(0);
  if (data.bytes()) std::memcpy(out.raw(), data.raw(), data.bytes());
  if (ind.shape() != upd.shape()) return ctx.invalid("indices and updates must have the same shape");
  return dispatch_combine(data.dtype(), reduction_of(ctx.node), [&](auto fn) -> Status {
    using T = decltype(fn(0, 0));
    const T* u = upd.data<T>();
    T* dst = out.data<T>();
    return for_each_element_offset(ctx, [&](int64_t o, int64_t off) { dst[off] = fn(dst[off], u[o]); });
  });
}

Status scatter_nd_kernel(KernelContext& ctx) {
  const Tensor& data = *ctx.input(0);
  const Tensor& ind = *ctx.input(1);
  const Tensor& upd = *ctx.input(2);
  Tensor& out = ctx.output(0);
  if (data.bytes()) std::memcpy(out.raw(), data.raw(), data.bytes());
  const int64_t k = ind.shape().back();
  const auto indices = ind.to_int64_vector();
  const int64_t tuples = product(ind.shape(), 0, ind.rank() - 1);
  const int64_t slice = product(data.shape(), static_cast<size_t>(k), data.rank());
  if (upd.numel() != tuples * slice) return ctx.invalid("updates do not match indices and data");
  const auto strides = strides_of(data.shape());
  return dispatch_combine(data.dtype(), reduction_of(ctx.node), [&](auto fn) -> Status {
    using T = decltype(fn(0, 0));
    const T* u = upd.data<T>();
    T* dst = out.data<T>();
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t off = 0;
      SLIMRT_RETURN_IF_ERROR(nd_offset(ctx, data.shape(), strides, 0, &indices[static_cast<size_t>(t * k)], k, &off));
      for (int64_t e = 0; e < slice; ++e) dst[off + e] = fn(dst[off + e], u[t * slice + e]);
    }
    return Status::OK();
  });
}

}  // namespace

void register_tensor_index_kernels(KernelRegistry& r) {
  r.add({"Slice", slice_kernel, false});
  r.add({"Gather", gather_kernel, false});
  r.add({"GatherElements", gather_elements_kernel, false});
  r.add({"GatherND", gather_nd_kernel, false});
  r.add({"ScatterElements", scatter_elements_kernel, false});
  r.add({"ScatterND", scatter_nd_kernel, false});
}

}  // namespace slimrt::cpu
