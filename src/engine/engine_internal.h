// src/engine/engine_internal.h: pieces shared by the engine parser (runtime) and the engine
// writer (slimrt_builder, src/builder/engine_writer.cpp). All are defined in the runtime: the
// header codec and hex64 in engine_header.cpp, the weight helpers in engine_graph.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/align.h"
#include "slimrt/engine_format.h"

namespace slimrt::engine {

inline constexpr size_t kHeaderHashedBytes = 120;  // the header hash covers [0, 120)
inline constexpr size_t kTargetBytes = 16;

using HeaderBytes = std::array<uint8_t, kEngineHeaderSize>;

// Fills every field (magic, versions, header_size, header_hash) from `h` and hashes.
HeaderBytes encode_header(const EngineHeader& h);
// Field extraction only: no validation.
EngineHeader decode_header(const HeaderBytes& b);

// a + b, false on overflow.
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

std::string hex64(uint64_t v);  // "0x0123456789abcdef"

// Copies the part of weight `w` that lies in region bytes [begin, begin + n) (held at `data`)
// to the same place in `dst`, the weight's own buffer. Returns false when they do not overlap.
bool copy_weight_part(const EngineWeight& w, uint64_t begin, const uint8_t* data, uint64_t n, void* dst);

// "holds 'w1', 'w2', and 3 more" / "padding only": the weights overlapping region bytes
// [begin, end), for checksum messages.
std::string describe_weights_in(const EngineInfo& info, uint64_t begin, uint64_t end);

}  // namespace slimrt::engine
