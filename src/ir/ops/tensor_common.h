// Helpers shared by the tensor op family's shape inference (src/ir/ops/tensor*.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/op_registry.h"

namespace slimrt::tensor_ops {

// Values are propagated only for integer tensors this small: they are shape subgraphs, not data.
inline constexpr int64_t kMaxPropagatedElements = 1 << 12;

// Slice bounds at or beyond this magnitude mean "to the end" (exporters write INT64_MAX,
// INT32_MAX or -INT64_MAX); no real dim is that large.
inline constexpr int64_t kHugeBound = int64_t{1} << 30;

// Bool included: Equal -> Where chains over shape values (torch's expand(-1) export) need it.
inline bool carries_value(DataType t) { return dtype_is_integer(t) || t == DataType::kBool; }

inline std::string ints_to_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// The length of a 1-D input when its shape is known and static; nullopt otherwise.
inline std::optional<int64_t> input_length(const ShapeContext& ctx, size_t i) {
  if (!ctx.has_shape(i)) return std::nullopt;
  const Shape& s = ctx.input_shape(i);
  if (s.size() == 0) return 1;
  if (s.size() != 1) return std::nullopt;
  return s[0].value();
}

// Normalizes a list of axes against `rank`, rejecting out-of-range and repeated axes.
inline Status normalize_axes(const ShapeContext& ctx, const std::vector<int64_t>& axes, int64_t rank,
                             std::vector<int64_t>* out) {
  out->clear();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    int64_t n = 0;
    SLIMRT_RETURN_IF_ERROR(normalize_axis(ctx, a, rank, &n));
    if (seen[static_cast<size_t>(n)]) return ctx.error("axis " + std::to_string(a) + " is repeated in " + ints_to_string(axes));
    seen[static_cast<size_t>(n)] = true;
    out->push_back(n);
  }
  return Status::OK();
}

// Sets output `i`'s known value when its dtype carries values and it is small.
inline void maybe_set_value(ShapeContext& ctx, size_t i, DataType dtype, std::vector<Dim> value) {
  if (carries_value(dtype) && static_cast<int64_t>(value.size()) <= kMaxPropagatedElements)
    ctx.set_output_value(i, std::move(value));
}

// Element values of input i when it is an integer tensor of rank <= 1 whose values are known.
inline const std::vector<Dim>* value_of(const ShapeContext& ctx, size_t i) {
  if (!ctx.has_input(i) || !carries_value(ctx.input_dtype(i))) return nullptr;
  if (ctx.has_shape(i) && ctx.input_rank(i) > 1) return nullptr;
  return ctx.input_value(i);
}

// Element values of input i at any rank (row-major), when its shape is static and every element
// is known: the small multi-dimensional shape tensors exporters make on the way to a 1-D one
// (PyTorch's F.pad reorders its pads through a [-1, 2] Reshape, a reversing Slice and a
// Transpose). Only Reshape-like ops, Transpose and Slice carry such values on.
inline const std::vector<Dim>* nd_value_of(const ShapeContext& ctx, size_t i) {
  if (!ctx.has_input(i) || !carries_value(ctx.input_dtype(i)) || !ctx.has_shape(i)) return nullptr;
  const std::optional<std::vector<int64_t>> dims = shape_to_static(ctx.input_shape(i));
  const std::vector<Dim>* v = ctx.input_value(i);
  if (!dims || !v) return nullptr;
  int64_t n = 1;
  for (int64_t d : *dims) n *= d;
  return static_cast<int64_t>(v->size()) == n ? v : nullptr;
}

// Also used by the CPU Slice kernel, so build-time and run-time shapes agree.
// The exact ONNX slice of one axis of static size `dim`: first index and element count.
struct SliceRange {
  int64_t start = 0;
  int64_t count = 0;
};

inline SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
  }
  // Unsigned magnitudes: steps as large as INT64_MIN/MAX must not overflow.
  const uint64_t stride = step > 0 ? static_cast<uint64_t>(step) : 0 - static_cast<uint64_t>(step);
  int64_t count = 0;
  if (step > 0 && end > start) count = static_cast<int64_t>(static_cast<uint64_t>(end - start - 1) / stride + 1);
  if (step < 0 && start > end) count = static_cast<int64_t>(static_cast<uint64_t>(start - end - 1) / stride + 1);
  return {start, count};
}

}  // namespace slimrt::tensor_ops
