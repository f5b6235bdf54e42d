// The engine header codec and the names that both sides of the format print: the parser
// (runtime) decodes and reports with them, the writer (slimrt_builder) encodes with them. The
// byte layout is drawn at the top of include/slimrt/engine_format.h.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

#include "engine/checksum.h"
#include "engine/engine_internal.h"

namespace slimrt {

static_assert(std::endian::native == std::endian::little,
              "the engine format is little-endian; a big-endian port must byte-swap");

namespace engine {

namespace {
template <typename T>
void put(HeaderBytes& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}
template <typename T>
T get(const HeaderBytes& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}
}  // namespace

HeaderBytes encode_header(const EngineHeader& h) {
  HeaderBytes b{};
  std::memcpy(b.data(), kEngineMagic, sizeof(kEngineMagic));
  put<uint16_t>(b, 8, h.format_major);
  put<uint16_t>(b, 10, h.format_minor);
  put<uint32_t>(b, 12, h.header_size);
  put<uint16_t>(b, 16, h.slimrt_major);
  put<uint16_t>(b, 18, h.slimrt_minor);
  put<uint16_t>(b, 20, h.slimrt_patch);
  put<uint64_t>(b, 24, h.flags);
  put<uint64_t>(b, 32, h.metadata_offset);
  put<uint64_t>(b, 40, h.metadata_size);
  put<uint64_t>(b, 48, h.weights_offset);
  put<uint64_t>(b, 56, h.weights_size);
  put<uint64_t>(b, 64, h.chunk_size);
  put<uint64_t>(b, 72, h.num_chunks);
  put<uint64_t>(b, 80, h.metadata_hash);
  put<uint64_t>(b, 88, h.file_size);
  std::memcpy(b.data() + 96, h.target.data(), std::min(h.target.size(), kTargetBytes - 1));
  b[112] = static_cast<uint8_t>(h.precision);
  b[113] = h.tf32 ? 1 : 0;
  put<uint64_t>(b, kHeaderHashedBytes, xxh3_64(b.data(), kHeaderHashedBytes));
  return b;
}

EngineHeader decode_header(const HeaderBytes& b) {
  EngineHeader h;
  h.format_major = get<uint16_t>(b, 8);
  h.format_minor = get<uint16_t>(b, 10);
  h.header_size = get<uint32_t>(b, 12);
  h.slimrt_major = get<uint16_t>(b, 16);
  h.slimrt_minor = get<uint16_t>(b, 18);
  h.slimrt_patch = get<uint16_t>(b, 20);
  h.flags = get<uint64_t>(b, 24);
  h.metadata_offset = get<uint64_t>(b, 32);
  h.metadata_size = get<uint64_t>(b, 40);
  h.weights_offset = get<uint64_t>(b, 48);
  h.weights_size = get<uint64_t>(b, 56);
  h.chunk_size = get<uint64_t>(b, 64);
  h.num_chunks = get<uint64_t>(b, 72);
  h.metadata_hash = get<uint64_t>(b, 80);
  h.file_size = get<uint64_t>(b, 88);
  const char* t = reinterpret_cast<const char*>(b.data() + 96);
  h.target.assign(t, strnlen(t, kTargetBytes));
  h.precision = static_cast<Precision>(b[112]);
  h.tf32 = b[113] != 0;
  h.header_hash = get<uint64_t>(b, kHeaderHashedBytes);
  return h;
}

std::string hex64(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace engine

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kFp16: return "fp16";
    case Precision::kBf16: return "bf16";
  }
  return "unknown";
}

}  // namespace slimrt
