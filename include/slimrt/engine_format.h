// slimrt/engine_format.h: the engine file (a built graph + its weights) and parsing it. RUNTIME
// side (library slimrt); the writer is the builder's (slimrt/builder/engine_writer.h).
//
//   auto reader = open_file_reader("model.engine");
//   Result<EngineInfo> info = parse_engine((**reader), {.expected_target = "sm_90"});
//   Result<Graph> g = read_engine_graph(**reader, *info);      // CPU load: host tensors
//
// Layout (all integers little-endian; full description in docs/engine-format.md):
//
//   offset            size            section
//   0                 128             header (fixed layout below)
//   128               metadata_size   metadata: a FlatBuffer, schema/engine.fbs
//   ...               < 4096          zero padding up to the next multiple of 4096
//   weights_offset    weights_size    weights region: 4096-aligned start, size a multiple of
//                                     4096; each tensor 256-byte aligned inside it
//   file_size = weights_offset + weights_size (nothing may follow)
//
//   header byte  field                    header byte  field
//   0   char[8]  magic "SLIMRTEN"         64  u64      chunk_size (multiple of 4096)
//   8   u16      format major             72  u64      num_chunks = ceil(weights_size/chunk)
//   10  u16      format minor             80  u64      XXH3-64 of the metadata bytes
//   12  u32      header_size (128)        88  u64      file_size
//   16  u16 x3   slimrt major/minor/patch 96  char[16] target ("sm_90" / "any", NUL padded)
//   22  u16      reserved (0)             112 u8       precision (0 fp32, 1 fp16, 2 bf16)
//   24  u64      flags (none defined: 0)  113 u8       tf32 (0/1)
//   32  u64      metadata_offset          114 u8[6]    reserved (0)
//   40  u64      metadata_size            120 u64      XXH3-64 of header bytes [0, 120)
//   48  u64      weights_offset
//   56  u64      weights_size
//
// Checksums: the header hashes itself, the header carries the metadata's hash, and the metadata
// carries one XXH3-64 per weights chunk (chunk i = region bytes [i*chunk_size, (i+1)*chunk_size),
// the last one shorter). So a loader reading front to back (even from a pipe) knows every hash
// before the bytes it covers arrive.
//
// The writer (slimrt_builder) needs the chunk hashes before the weights are hashed: it builds the metadata with
// zeroed hashes (their count is known from the layout), leaves room for it, streams the weights
// chunk by chunk from the Graph's tensors (which may be mmapped) while hashing, then patches the
// hashes into the FlatBuffer's vector in memory, and finally seeks back to write the metadata
// and the header. The output must therefore be seekable; weights pass through once and are
// never gathered in memory.
//
// Parsing trusts nothing: every size, offset and count is checked (without overflow) against the
// reader's size() and against the other fields BEFORE anything is allocated; the metadata must
// match its hash and pass flatbuffers::Verifier before it is read; every index in it is
// range-checked. Errors: kDataLoss (truncated or corrupt: names the section, the offset, the
// expected and actual sizes or hashes), kInvalidArgument (not an engine, or inconsistent
// fields), kUnsupported (a newer MAJOR format version, or a target GPU arch other than the one
// asked for: the message names both).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/dtype.h"
#include "slimrt/graph.h"
#include "slimrt/io_tensor.h"
#include "slimrt/shape.h"
#include "slimrt/status.h"
#include "slimrt/stream_reader.h"

namespace slimrt {

inline constexpr char kEngineMagic[8] = {'S', 'L', 'I', 'M', 'R', 'T', 'E', 'N'};
inline constexpr uint16_t kEngineFormatMajor = 1;
inline constexpr uint16_t kEngineFormatMinor = 1;  // 1: io_formats
inline constexpr uint64_t kEngineHeaderSize = 128;
inline constexpr uint64_t kEngineRegionAlignment = 4096;  // weights start and size (O_DIRECT)
inline constexpr uint64_t kEngineTensorAlignment = 256;   // each tensor inside the region
inline constexpr uint64_t kEngineDefaultChunkSize = uint64_t{4} << 20;
inline constexpr uint64_t kEngineMaxChunkSize = uint64_t{256} << 20;
// A bigger metadata section is refused before allocating: it bounds what a lying header (or a
// pipe, whose size is unknown) can make the parser allocate.
inline constexpr uint64_t kEngineMaxMetadataSize = uint64_t{1} << 30;

enum class Precision : uint8_t { kFp32 = 0, kFp16 = 1, kBf16 = 2 };
std::string_view precision_name(Precision p);

// Shapes a graph input may take in one optimization profile.
struct InputProfile {
  std::string name;
  std::vector<int64_t> min, opt, max;
};
struct OptimizationProfile {
  std::vector<InputProfile> inputs;
};

// The activation arena of one profile, as the planner lays it out.
struct EnginePlannedBuffer {
  uint32_t value = 0;  // index into EngineInfo::values (Graph::values() order at write time)
  uint64_t offset = 0;
  uint64_t size = 0;
};
struct EngineMemoryPlan {
  uint64_t arena_bytes = 0;
  std::vector<EnginePlannedBuffer> buffers;
};

struct EngineOptions {
  // Recorded in the header. Weights are converted by the builder's precision pass, which only
  // marks big ones; write_engine converts those as they stream (slimrt/builder/engine_writer.h).
  Precision precision = Precision::kFp32;
  bool tf32 = false;
  std::string target = "any";  // "sm_90", ... or "any"; at most 15 characters
  uint64_t chunk_size = kEngineDefaultChunkSize;  // multiple of 4096, <= kEngineMaxChunkSize
  std::vector<OptimizationProfile> profiles;
  std::vector<EngineMemoryPlan> memory_plans;  // empty, or one per profile
  // Inputs and outputs bound in another format than the model's (slimrt/io_tensor.h), by name.
  std::map<std::string, IoFormat> io_formats;
};

struct EngineHeader {
  uint16_t format_major = 0, format_minor = 0;
  uint32_t header_size = 0;
  uint16_t slimrt_major = 0, slimrt_minor = 0, slimrt_patch = 0;
  uint64_t flags = 0;
  uint64_t metadata_offset = 0, metadata_size = 0;
  uint64_t weights_offset = 0, weights_size = 0;
  uint64_t chunk_size = 0, num_chunks = 0;
  uint64_t metadata_hash = 0;
  uint64_t file_size = 0;
  std::string target;
  Precision precision = Precision::kFp32;
  bool tf32 = false;
  uint64_t header_hash = 0;
};

struct EngineWeight {
  std::string name;
  DataType dtype = DataType::kUndefined;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // relative to the weights region
  uint64_t size = 0;
};

struct EngineValue {
  std::string name;
  DataType dtype = DataType::kUndefined;
  std::optional<Shape> shape;
  int32_t weight = -1;  // index into EngineInfo::weights, or -1
};

struct EngineNode {
  std::string name, op_type, domain;
  std::vector<int32_t> inputs;   // value indices, -1 = omitted optional input
  std::vector<int32_t> outputs;  // value indices
  std::vector<std::string> attribute_names;
};

// Everything in the header and metadata, validated. Offsets in `weights` are checked against
// the region; indices against `values` / `weights`.
struct EngineInfo {
  EngineHeader header;
  EngineOptions options;  // chunk_size = header.chunk_size
  std::string slimrt_version;
  std::string graph_name;
  int64_t source_opset = 0;
  std::vector<EngineValue> values;
  std::vector<EngineNode> nodes;
  std::vector<int32_t> inputs, outputs;
  std::vector<EngineWeight> weights;
  std::vector<uint64_t> chunk_hashes;
  // The verified FlatBuffer, kept for read_engine_graph (attributes are decoded from it).
  std::vector<uint8_t> metadata;
};

struct EngineParseOptions {
  // Refuse (kUnsupported) an engine built for another GPU arch; empty = accept any target.
  // An engine whose target is "any" is always accepted.
  std::string expected_target;
};

// Reads and validates the 128-byte header at offset 0 (and its relation to reader.size()).
Result<EngineHeader> parse_engine_header(StreamReader& reader, const EngineParseOptions& options = {});
// Header + metadata. On success the reader is positioned at header.weights_offset.
Result<EngineInfo> parse_engine(StreamReader& reader, const EngineParseOptions& options = {});

struct EngineReadOptions {
  bool verify_checksums = true;
};
// Rebuilds the graph with host tensors read from the weights region (the CPU backend's load).
// Reads the region front to back from its start (seeking there; a non-seekable reader must be
// at or before it), one chunk-sized buffer at a time, verifying each chunk's hash.
Result<Graph> read_engine_graph(StreamReader& reader, const EngineInfo& info,
                                const EngineReadOptions& options = {});

// Rebuilds the graph from parsed metadata, weight i's data being tensors[i] (host tensors, or
// device tensors placed by Runtime::load). Tensor attributes refer to the same tensors.
Result<Graph> make_engine_graph(const EngineInfo& info, const std::vector<Tensor>& tensors);

// Parses the engine and hashes every weights chunk without keeping the weights: for inspect.
Result<EngineInfo> verify_engine(StreamReader& reader, const EngineParseOptions& options = {});

}  // namespace slimrt
