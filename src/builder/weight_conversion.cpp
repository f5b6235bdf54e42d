// Weight conversion between float32, float16 and bfloat16 (slimrt/builder/precision.h): the
// precision pass converts small weights with it in memory, the engine writer converts the big
// ones piece by piece as they stream into the file. Part of slimrt_builder: a loaded engine's
// weights are already in the dtype its kernels read.
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "slimrt/builder/precision.h"

namespace slimrt {
namespace {

// One element to float32 and back, clamping finite values the target cannot hold.
inline float load_float(const uint8_t* p, DataType t) {
  if (t == DataType::kFloat32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return t == DataType::kFloat16 ? half_to_float(h) : bfloat16_to_float(h);
}

// float32 -> fp16 without clamping: F16C where the CPU has it (8 at a time), else scalar.
#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void f32_to_f16_f16c(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(in + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = float_to_half(in[i]);
}
bool have_f16c() {
  static const bool yes = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    // CPUID leaf 1, ECX bit 29: F16C. __builtin_cpu_supports("avx") also checks the OS saves AVX state.
    return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & (1u << 29)) != 0;
  }();
  return yes;
}
#endif

void f32_to_f16(const float* in, uint16_t* out, size_t n) {
#if defined(__x86_64__)
  if (have_f16c()) return f32_to_f16_f16c(in, out, n);
#endif
  for (size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}

// float32 -> bfloat16, round to nearest even (NaN stays a quiet NaN).
void f32_to_bf16(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t x;
    std::memcpy(&x, in + i, 4);
    out[i] = (x & 0x7fffffffu) > 0x7f800000u ? static_cast<uint16_t>((x >> 16) | 0x40u)
                                               : static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
  }
}

}  // namespace

uint64_t convert_float_elements(const void* src, DataType from, void* dst, DataType to, size_t n) {
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  const size_t in_size = dtype_size(from);
  if (from == to) {
    std::memcpy(out, in, n * in_size);
    return 0;
  }
  if (to == DataType::kFloat32) {
    for (size_t i = 0; i < n; ++i) {
      const float f = load_float(in + i * in_size, from);
      std::memcpy(out + i * 4, &f, 4);
    }
    return 0;
  }
  const bool fp16 = to == DataType::kFloat16;
  const uint16_t inf = fp16 ? 0x7C00 : 0x7F80;
  const uint16_t max_finite = fp16 ? 0x7BFF : 0x7F7F;
  auto* o = reinterpret_cast<uint16_t*>(out);
  if (from == DataType::kFloat32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0 &&
      reinterpret_cast<uintptr_t>(dst) % alignof(uint16_t) == 0) {
    const auto* f = static_cast<const float*>(src);
    if (fp16) {
      f32_to_f16(f, o, n);
    } else {
      f32_to_bf16(f, o, n);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      const float f = load_float(in + i * in_size, from);
      const uint16_t h = fp16 ? float_to_half(f) : float_to_bfloat16(f);
      std::memcpy(o + i, &h, 2);
    }
  }
  // Finite values that rounded to inf are clamped to the largest finite value.
  uint64_t clamped = 0;
  for (size_t i = 0; i < n; ++i) {
    if ((o[i] & 0x7FFFu) == inf && std::isfinite(load_float(in + i * in_size, from))) {
      o[i] = static_cast<uint16_t>((o[i] & 0x8000u) | max_finite);
      ++clamped;
    }
  }
  return clamped;
}

}  // namespace slimrt
