// Host integer alignment shared by the engine writer and parser, the runtime's weight loading
// and the planner-facing code: one definition, so the engine's offsets and the loader's rounding
// cannot disagree. (src/cuda/cuda_backend.cpp and program.cpp still keep local copies.)
#pragma once

#include <cstdint>

namespace slimrt {

// x rounded up to a multiple of a (a > 0; no overflow check: callers bound x well below 2^64).
constexpr uint64_t round_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace slimrt
