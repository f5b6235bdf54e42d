// libFuzzer target for the engine parser (scripts/sanitize-check.sh runs it in CI under ASan and
// UBSan). Each input is parsed twice: as is, and with the metadata and header checksums
// recomputed, so that mutations get past the hashes to the FlatBuffers Verifier and the index
// checks. Any outcome other than a Status (a crash, a sanitizer report, a hang) is a bug.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "engine/checksum.h"
#include "slimrt/engine_format.h"
#include "slimrt/stream_reader.h"

namespace {

// Header field offsets (docs/engine-format.md).
constexpr size_t kMetadataOffsetAt = 32, kMetadataSizeAt = 40, kMetadataHashAt = 80, kHeaderHashAt = 120;

uint64_t load_u64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
void store_u64(std::vector<uint8_t>& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

void parse(const uint8_t* data, size_t size) {
  auto reader = slimrt::make_span_reader(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz input");
  auto info = slimrt::parse_engine(*reader);
  if (!info.ok()) return;
  auto graph = slimrt::read_engine_graph(*reader, *info);
  (void)graph;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  parse(data, size);
  if (size >= 128 && std::memcmp(data, "SLIMRTEN", 8) == 0) {
    std::vector<uint8_t> b(data, data + size);
    const uint64_t off = load_u64(b, kMetadataOffsetAt), len = load_u64(b, kMetadataSizeAt);
    if (off <= size && len <= size - off) store_u64(b, kMetadataHashAt, slimrt::engine::xxh3_64(b.data() + off, len));
    store_u64(b, kHeaderHashAt, slimrt::engine::xxh3_64(b.data(), kHeaderHashAt));
    parse(b.data(), b.size());
  }
  return 0;
}
