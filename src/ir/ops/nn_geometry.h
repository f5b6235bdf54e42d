// Window geometry shared by the nn shape inference and the CPU conv/pool kernels: how the
// auto_pad / pads / strides / dilations attributes turn into per-axis padding and output sizes.
// Kept header-only and free of IR types so both sides compute the same numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slimrt::nn {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid, kInvalid };

inline AutoPad parse_auto_pad(const std::string& s) {
  if (s == "NOTSET" || s.empty()) return AutoPad::kNotSet;
  if (s == "SAME_UPPER") return AutoPad::kSameUpper;
  if (s == "SAME_LOWER") return AutoPad::kSameLower;
  if (s == "VALID") return AutoPad::kValid;
  return AutoPad::kInvalid;
}

// Python-style floor division (ConvTranspose pads may be negative).
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

inline int64_t ceil_div_pos(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One spatial axis of a sliding window (Conv, pools).
struct WindowAxis {
  int64_t in = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t out = 0;
  int64_t effective_kernel() const { return (kernel - 1) * dilation + 1; }
};

// Output size of a window axis for explicit pads; ceil_mode rounds up but drops a last window
// that would start entirely inside the end padding. Returns -1 for an empty output.
inline int64_t window_out_explicit(int64_t in, int64_t k_eff, int64_t stride, int64_t pb, int64_t pe,
                                   bool ceil_mode) {
  const int64_t span = in + pb + pe - k_eff;
  if (span < 0) return -1;
  int64_t out = (ceil_mode ? ceil_div_pos(span, stride) : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pb) --out;
  return out;
}

// Fills pads and out for one axis from the auto_pad mode (pads_attr holds begin/end for kNotSet).
inline bool resolve_window_axis(WindowAxis& a, AutoPad mode, int64_t pb_attr, int64_t pe_attr, bool ceil_mode) {
  const int64_t k_eff = a.effective_kernel();
  if (mode == AutoPad::kSameUpper || mode == AutoPad::kSameLower) {
    a.out = ceil_div_pos(a.in, a.stride);
    int64_t total = (a.out - 1) * a.stride + k_eff - a.in;
    if (total < 0) total = 0;
    const int64_t small = total / 2;
    a.pad_begin = mode == AutoPad::kSameUpper ? small : total - small;
    a.pad_end = total - a.pad_begin;
    return true;
  }
  a.pad_begin = mode == AutoPad::kValid ? 0 : pb_attr;
  a.pad_end = mode == AutoPad::kValid ? 0 : pe_attr;
  a.out = window_out_explicit(a.in, k_eff, a.stride, a.pad_begin, a.pad_end, ceil_mode);
  return a.out >= 0;
}

// ConvTranspose: output size and pads of one axis. output_shape_dim < 0 when not given.
inline void resolve_transpose_axis(WindowAxis& a, AutoPad mode, int64_t pb_attr, int64_t pe_attr,
                                   int64_t output_padding, int64_t output_shape_dim) {
  const int64_t full = a.stride * (a.in - 1) + output_padding + a.effective_kernel();
  if (output_shape_dim >= 0 || mode == AutoPad::kSameUpper || mode == AutoPad::kSameLower) {
    a.out = output_shape_dim >= 0 ? output_shape_dim : a.in * a.stride;
    const int64_t total = full - a.out;
    const int64_t half = floor_div(total, 2);
    if (mode == AutoPad::kSameUpper) {
      a.pad_begin = half;
      a.pad_end = total - half;
    } else {
      a.pad_begin = total - half;
      a.pad_end = half;
    }
    return;
  }
  a.pad_begin = mode == AutoPad::kValid ? 0 : pb_attr;
  a.pad_end = mode == AutoPad::kValid ? 0 : pe_attr;
  a.out = full - a.pad_begin - a.pad_end;
}

}  // namespace slimrt::nn
