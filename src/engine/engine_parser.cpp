// Engine parser: header and metadata, validated before anything in them is trusted.
//
// Order of checks: magic -> format major version -> header hash -> header fields against each
// other -> file size -> target -> metadata size bound -> metadata hash -> FlatBuffers Verifier ->
// every index and offset in the metadata. Nothing sized by the file is allocated before the
// size has been checked against the reader's size() (or, for a stream of unknown length,
// against kEngineMaxMetadataSize, and read in bounded steps).
#include <algorithm>
#include <cstring>

#include <flatbuffers/flatbuffers.h>

#include "engine/checksum.h"
#include "engine/engine_internal.h"
#include "engine_generated.h"
#include "slimrt/version.h"

namespace slimrt {

namespace {

using engine::hex64;

std::string u64s(uint64_t v) { return std::to_string(v); }

Status read_section(StreamReader& r, uint64_t offset, void* dst, uint64_t bytes, const std::string& section) {
  Status s;
  if (r.position() != offset) s = r.seek(offset);
  if (s.ok()) s = r.read(dst, bytes);
  if (!s.ok())
    return s.with_context("engine " + r.describe() + ": reading the " + section + " (offset " + u64s(offset) + ", " +
                          u64s(bytes) + " bytes)");
  return s;
}

// Names the part of the file that byte `at` falls in (for truncation messages).
std::string section_at(const EngineHeader& h, uint64_t at) {
  if (at < h.header_size) return "the header";
  if (at < h.metadata_offset + h.metadata_size) return "the metadata (bytes " + u64s(h.metadata_offset) + ".." +
                                                       u64s(h.metadata_offset + h.metadata_size) + ")";
  if (at < h.weights_offset) return "the padding before the weights region (which starts at " + u64s(h.weights_offset) + ")";
  const uint64_t chunk = (at - h.weights_offset) / h.chunk_size;
  return "weights chunk " + u64s(chunk) + " of " + u64s(h.num_chunks) + " (chunk starts at file offset " +
         u64s(h.weights_offset + chunk * h.chunk_size) + ")";
}

Status check_header_fields(const EngineHeader& h) {
  auto bad = [](const std::string& what) { return invalid_argument("engine header: " + what); };
  if (h.flags != 0) return unsupported("engine header: unknown flags " + hex64(h.flags) + " (this slimrt knows none)");
  if (h.header_size < kEngineHeaderSize)
    return bad("header_size " + u64s(h.header_size) + " is below " + u64s(kEngineHeaderSize));
  if (h.metadata_offset < h.header_size)
    return bad("metadata offset " + u64s(h.metadata_offset) + " overlaps the " + u64s(h.header_size) + "-byte header");
  if (h.metadata_size == 0) return bad("metadata size is 0");
  if (h.metadata_size > kEngineMaxMetadataSize)
    return bad("metadata size " + u64s(h.metadata_size) + " exceeds the " + u64s(kEngineMaxMetadataSize) + "-byte limit");
  uint64_t meta_end = 0, weights_end = 0;
  if (engine::add_overflows(h.metadata_offset, h.metadata_size, &meta_end))
    return bad("metadata offset " + u64s(h.metadata_offset) + " + size " + u64s(h.metadata_size) + " overflows");
  if (h.weights_offset % kEngineRegionAlignment != 0)
    return bad("weights offset " + u64s(h.weights_offset) + " is not a multiple of 4096");
  if (h.weights_offset != round_up(meta_end, kEngineRegionAlignment))
    return bad("weights offset " + u64s(h.weights_offset) + " should be " +
               u64s(round_up(meta_end, kEngineRegionAlignment)) + ", the first 4096-aligned offset after the metadata ending at " +
               u64s(meta_end));
  if (h.weights_size % kEngineRegionAlignment != 0)
    return bad("weights size " + u64s(h.weights_size) + " is not a multiple of 4096");
  if (engine::add_overflows(h.weights_offset, h.weights_size, &weights_end) || weights_end != h.file_size)
    return bad("weights offset " + u64s(h.weights_offset) + " + size " + u64s(h.weights_size) +
               " does not end at the declared file size " + u64s(h.file_size));
  if (h.chunk_size == 0 || h.chunk_size % kEngineRegionAlignment != 0 || h.chunk_size > kEngineMaxChunkSize)
    return bad("chunk size " + u64s(h.chunk_size) + " is not a non-zero multiple of 4096 up to " + u64s(kEngineMaxChunkSize));
  const uint64_t chunks = h.weights_size / h.chunk_size + (h.weights_size % h.chunk_size != 0);
  if (h.num_chunks != chunks)
    return bad("declares " + u64s(h.num_chunks) + " weights chunks, but " + u64s(h.weights_size) + " bytes in chunks of " +
               u64s(h.chunk_size) + " make " + u64s(chunks));
  if (static_cast<uint8_t>(h.precision) > static_cast<uint8_t>(Precision::kBf16))
    return bad("unknown precision code " + u64s(static_cast<uint8_t>(h.precision)));
  if (h.target.empty()) return bad("empty target");
  for (char c : h.target) {
    if (c < 0x21 || c > 0x7e) return bad("target contains a non-printable byte");
  }
  return Status::OK();
}

}  // namespace

Result<EngineHeader> parse_engine_header(StreamReader& reader, const EngineParseOptions& options) {
  const std::string where = "engine " + reader.describe();
  const std::optional<uint64_t> file_size = reader.size();
  if (file_size && *file_size == 0) return data_loss(where + " is empty (0 bytes): not a slimrt engine");
  engine::HeaderBytes b{};
  if (file_size && *file_size < kEngineHeaderSize) {
    // Too short for a header: say "truncated" only if what is there starts like an engine.
    const uint64_t n = std::min<uint64_t>(*file_size, sizeof(kEngineMagic));
    SLIMRT_RETURN_IF_ERROR(read_section(reader, 0, b.data(), n, "header"));
    if (std::memcmp(b.data(), kEngineMagic, n) != 0)
      return invalid_argument(where + " is not a slimrt engine: it does not start with \"SLIMRTEN\"");
    return data_loss(where + " is truncated: " + u64s(*file_size) + " bytes, shorter than the " +
                     u64s(kEngineHeaderSize) + "-byte header");
  }
  SLIMRT_RETURN_IF_ERROR(read_section(reader, 0, b.data(), b.size(), "header"));
  if (std::memcmp(b.data(), kEngineMagic, sizeof(kEngineMagic)) != 0) {
    std::string shown;
    for (size_t i = 0; i < sizeof(kEngineMagic); ++i) {
      const char c = static_cast<char>(b[i]);
      shown += (c >= 0x20 && c < 0x7f) ? c : '.';
    }
    return invalid_argument(where + " is not a slimrt engine: magic is \"" + shown + "\", expected \"SLIMRTEN\"");
  }
  EngineHeader h = engine::decode_header(b);
  // The version sits at a fixed place in every format version, so it is checked before the
  // header hash: a newer format may lay out (and hash) the rest of its header differently.
  if (h.format_major != kEngineFormatMajor) {
    return unsupported(where + " has engine format version " + u64s(h.format_major) + "." + u64s(h.format_minor) +
                       " (written by slimrt " + u64s(h.slimrt_major) + "." + u64s(h.slimrt_minor) + "." +
                       u64s(h.slimrt_patch) + "); this slimrt (" SLIMRT_VERSION_STRING ") reads format " +
                       u64s(kEngineFormatMajor) + ".x" +
                       (h.format_major > kEngineFormatMajor ? ": upgrade slimrt or rebuild the engine" : ": rebuild the engine"));
  }
  const uint64_t computed = engine::xxh3_64(b.data(), engine::kHeaderHashedBytes);
  if (computed != h.header_hash)
    return data_loss(where + ": header checksum mismatch (bytes 0.." + u64s(engine::kHeaderHashedBytes) + "): stored " +
                     hex64(h.header_hash) + ", computed " + hex64(computed) + ": the header is corrupt");
  SLIMRT_RETURN_IF_ERROR(check_header_fields(h).with_context(where));
  if (file_size && *file_size < h.file_size)
    return data_loss(where + " is truncated: the header declares " + u64s(h.file_size) + " bytes but the file has " +
                     u64s(*file_size) + "; the cut is in " + section_at(h, *file_size));
  if (file_size && *file_size > h.file_size)
    return data_loss(where + " has " + u64s(*file_size) + " bytes but the header declares " + u64s(h.file_size) +
                     ": trailing data after the weights region");
  if (!options.expected_target.empty() && h.target != "any" && h.target != options.expected_target)
    return unsupported(where + " was built for target " + h.target + ", but this device is " +
                       options.expected_target + "; rebuild the engine for " + options.expected_target);
  return h;
}

namespace engine {
// In engine_metadata.cpp: decodes and range-checks the verified FlatBuffer into `info`.
Status decode_metadata(const fb::Engine& m, EngineInfo& info);
}  // namespace engine

Result<EngineInfo> parse_engine(StreamReader& reader, const EngineParseOptions& options) {
  EngineInfo info;
  SLIMRT_ASSIGN_OR_RETURN(info.header, parse_engine_header(reader, options));
  const EngineHeader& h = info.header;
  const std::string where = "engine " + reader.describe();

  // Sizes are proven against the file by now; for a stream of unknown length they are only
  // bounded by kEngineMaxMetadataSize, so read in steps and grow as bytes actually arrive.
  std::vector<uint8_t>& meta = info.metadata;
  if (reader.size()) {
    meta.resize(h.metadata_size);
    SLIMRT_RETURN_IF_ERROR(read_section(reader, h.metadata_offset, meta.data(), meta.size(), "metadata"));
  } else {
    constexpr uint64_t kStep = uint64_t{1} << 20;
    for (uint64_t done = 0; done < h.metadata_size;) {
      const uint64_t n = std::min(kStep, h.metadata_size - done);
      meta.resize(done + n);
      SLIMRT_RETURN_IF_ERROR(read_section(reader, h.metadata_offset + done, meta.data() + done, n, "metadata"));
      done += n;
    }
  }
  const uint64_t computed = engine::xxh3_64(meta.data(), meta.size());
  if (computed != h.metadata_hash)
    return data_loss(where + ": metadata checksum mismatch (offset " + u64s(h.metadata_offset) + ", " +
                     u64s(h.metadata_size) + " bytes): stored " + hex64(h.metadata_hash) + ", computed " +
                     hex64(computed) + ": the metadata is corrupt");
  flatbuffers::Verifier verifier(meta.data(), meta.size(), /*max_depth=*/64, /*max_tables=*/1u << 24);
  if (!fb::VerifyEngineBuffer(verifier))
    return data_loss(where + ": the metadata (offset " + u64s(h.metadata_offset) + ", " + u64s(h.metadata_size) +
                     " bytes) matches its checksum but is not a valid schema/engine.fbs FlatBuffer");
  SLIMRT_RETURN_IF_ERROR(engine::decode_metadata(*fb::GetEngine(meta.data()), info).with_context(where + ": metadata"));
  // Leave the reader at the weights, where a streaming loader continues.
  Status s = reader.seek(h.weights_offset);
  if (!s.ok()) return s.with_context(where + ": seeking to the weights region at " + u64s(h.weights_offset));
  return info;
}

}  // namespace slimrt
