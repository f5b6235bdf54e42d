// Bad engine files: every one must give a Status naming what is wrong (never a crash, and no
// allocation sized by an unchecked field). The reference file comes from the writer; damage is
// applied to copies of its bytes.
#include <random>

#include <gtest/gtest.h>

#include "engine_test_util.h"

namespace slimrt {
namespace {

using engine_test::ByteReader;
using engine_test::get_u64;
using engine_test::put_u16;
using engine_test::put_u64;
using engine_test::rehash_header;
using engine_test::rehash_metadata;

class EngineRobustness : public ::testing::Test {
 protected:
  void SetUp() override {
    Graph g = engine_test::build_test_graph();
    bytes_ = engine_test::write_to_bytes(g, engine_test::test_options());
    ByteReader r(bytes_);
    Result<EngineHeader> h = parse_engine_header(r);
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    h_ = *h;
    ASSERT_GE(h_.num_chunks, 3u);
  }

  // Parses, then reads the graph (verifying every chunk). Returns the first error.
  static Status load(const std::vector<uint8_t>& b, bool seekable = true, bool known_size = true,
                     const EngineParseOptions& po = {}) {
    ByteReader r(b, seekable, known_size);
    Result<EngineInfo> info = parse_engine(r, po);
    if (!info.ok()) return info.status();
    Result<Graph> g = read_engine_graph(r, *info);
    return g.ok() ? Status::OK() : g.status();
  }
  static Status verify(const std::vector<uint8_t>& b) {
    ByteReader r(b);
    Result<EngineInfo> info = verify_engine(r);
    return info.ok() ? Status::OK() : info.status();
  }

  std::vector<uint8_t> bytes_;
  EngineHeader h_;
};

#define EXPECT_ERROR(status_expr, code_, needle)                                          \
  do {                                                                                    \
    const Status s_ = (status_expr);                                                      \
    EXPECT_EQ(s_.code(), StatusCode::code_) << s_.to_string();                            \
    EXPECT_NE(s_.message().find(needle), std::string::npos) << "missing '" << (needle)    \
                                                             << "' in: " << s_.message(); \
  } while (0)

TEST_F(EngineRobustness, IntactFileLoadsAndVerifies) {
  EXPECT_TRUE(load(bytes_).ok());
  EXPECT_TRUE(load(bytes_, false, false).ok());
  EXPECT_TRUE(verify(bytes_).ok());
}

TEST_F(EngineRobustness, TruncatedAtEverySectionBoundaryAndMidChunk) {
  const uint64_t meta_end = h_.metadata_offset + h_.metadata_size;
  const uint64_t w = h_.weights_offset, c = h_.chunk_size;
  struct Cut {
    uint64_t at;
    std::string section;
  };
  const std::vector<Cut> cuts = {
      {0, "empty"},
      {5, "shorter than the 128-byte header"},
      {64, "shorter than the 128-byte header"},
      {127, "shorter than the 128-byte header"},
      {128, "the cut is in the metadata"},
      {128 + h_.metadata_size / 2, "the cut is in the metadata"},
      {meta_end - 1, "the cut is in the metadata"},
      {meta_end, "padding before the weights region"},
      {w - 1, "padding before the weights region"},
      {w, "weights chunk 0 of"},
      {w + 100, "weights chunk 0 of"},
      {w + c, "weights chunk 1 of"},
      {w + c + c / 2, "weights chunk 1 of"},
      {w + 2 * c, "weights chunk 2 of"},
      {h_.file_size - 1, "weights chunk " + std::to_string(h_.num_chunks - 1) + " of"},
  };
  ASSERT_LT(meta_end, w) << "the test needs padding between metadata and weights";
  for (const Cut& cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut.at));
    const std::vector<uint8_t> b(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(cut.at));
    EXPECT_ERROR(load(b), kDataLoss, cut.section);
    EXPECT_ERROR(verify(b), kDataLoss, cut.section);
    // The same cut through a pipe (size unknown): the short read names the section being read.
    const Status piped = load(b, false, false);
    EXPECT_EQ(piped.code(), StatusCode::kDataLoss) << piped.to_string();
    if (cut.at >= 128 && cut.at < meta_end) {
      EXPECT_NE(piped.message().find("reading the metadata"), std::string::npos) << piped.message();
    }
    if (cut.at >= w) {
      const std::string chunk = "weights chunk " + std::to_string((cut.at - w) / c) + " of";
      EXPECT_NE(piped.message().find(chunk), std::string::npos) << piped.message();
    }
  }
  // Extra bytes after the region are refused as well.
  std::vector<uint8_t> longer = bytes_;
  longer.push_back(0);
  EXPECT_ERROR(load(longer), kDataLoss, "trailing data");
}

TEST_F(EngineRobustness, FlippedBitsInTheHeader) {
  for (size_t i = 0; i < 128; ++i) {
    std::vector<uint8_t> b = bytes_;
    b[i] ^= static_cast<uint8_t>(1u << (i % 8));
    SCOPED_TRACE("header byte " + std::to_string(i));
    const Status s = load(b);
    if (i < 8) {
      EXPECT_ERROR(s, kInvalidArgument, "not a slimrt engine");
    } else if (i == 8 || i == 9) {
      EXPECT_ERROR(s, kUnsupported, "engine format version");  // the major version
    } else {
      EXPECT_ERROR(s, kDataLoss, "header checksum mismatch");
    }
  }
}

TEST_F(EngineRobustness, FlippedBitsInTheMetadata) {
  for (uint64_t i = h_.metadata_offset; i < h_.metadata_offset + h_.metadata_size; i += 13) {
    std::vector<uint8_t> b = bytes_;
    b[i] ^= 0x10;
    SCOPED_TRACE("metadata byte " + std::to_string(i));
    EXPECT_ERROR(load(b), kDataLoss, "metadata checksum mismatch (offset 128");
  }
}

TEST_F(EngineRobustness, FlippedBitsInTheWeights) {
  const std::vector<uint64_t> positions = {0, 1, 4095, 4096, 5000, h_.weights_size - 1};
  for (uint64_t p : positions) {
    std::vector<uint8_t> b = bytes_;
    b[h_.weights_offset + p] ^= 0x01;
    const std::string chunk = "weights chunk " + std::to_string(p / h_.chunk_size) + " of " +
                              std::to_string(h_.num_chunks) + " (file offset " +
                              std::to_string(h_.weights_offset + p / h_.chunk_size * h_.chunk_size);
    SCOPED_TRACE("weights byte " + std::to_string(p));
    EXPECT_ERROR(load(b), kDataLoss, chunk);
    EXPECT_ERROR(load(b, false, false), kDataLoss, "checksum mismatch");
    EXPECT_ERROR(verify(b), kDataLoss, chunk);
  }
  // The message says which tensors the chunk holds: W starts at region offset 0.
  std::vector<uint8_t> b = bytes_;
  b[h_.weights_offset] ^= 0x80;
  EXPECT_ERROR(load(b), kDataLoss, "holds 'W'");
  // With verification off the damage goes through (it is the caller's choice).
  ByteReader r(b);
  Result<EngineInfo> info = parse_engine(r);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(read_engine_graph(r, *info, {.verify_checksums = false}).ok());
}

TEST_F(EngineRobustness, WrongMagicAndTinyFiles) {
  std::vector<uint8_t> b = bytes_;
  std::memcpy(b.data(), "GGUF\0\0\0\0", 8);
  EXPECT_ERROR(load(b), kInvalidArgument, "magic is \"GGUF....\", expected \"SLIMRTEN\"");
  const std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', '\n'};
  EXPECT_ERROR(load(text), kInvalidArgument, "not a slimrt engine");
  EXPECT_ERROR(load({}), kDataLoss, "is empty (0 bytes)");
  EXPECT_EQ(load({}, false, false).code(), StatusCode::kDataLoss);
}

TEST_F(EngineRobustness, NewerMajorVersionIsUnsupported) {
  std::vector<uint8_t> b = bytes_;
  put_u16(b, 8, 2);
  rehash_header(b);
  EXPECT_ERROR(load(b), kUnsupported, "engine format version 2.1");
  EXPECT_ERROR(load(b), kUnsupported, "reads format 1.x");
  // Even when the rest of the header no longer matches (a new layout), the version decides.
  put_u64(b, 120, 0);
  EXPECT_ERROR(load(b), kUnsupported, "upgrade slimrt");
  // A newer minor version of the same major is read.
  b = bytes_;
  put_u16(b, 10, 7);
  rehash_header(b);
  EXPECT_TRUE(load(b).ok());
}

TEST_F(EngineRobustness, OtherGpuArchIsUnsupported) {
  EXPECT_ERROR(load(bytes_, true, true, {.expected_target = "sm_80"}), kUnsupported,
               "built for target sm_90, but this device is sm_80");
  EXPECT_TRUE(load(bytes_, true, true, {.expected_target = "sm_90"}).ok());
  // "any" engines load everywhere.
  Graph g = engine_test::build_test_graph();
  EngineOptions o = engine_test::test_options();
  o.target = "any";
  EXPECT_TRUE(load(engine_test::write_to_bytes(g, o), true, true, {.expected_target = "sm_80"}).ok());
}

TEST_F(EngineRobustness, DeclaredSizesLargerThanTheFileFailBeforeAllocating) {
  // metadata_size = 2^60: refused from the header alone, nothing read past the header.
  {
    std::vector<uint8_t> b = bytes_;
    put_u64(b, 40, uint64_t{1} << 60);
    rehash_header(b);
    ByteReader r(b);
    EXPECT_ERROR(parse_engine(r).status(), kInvalidArgument, "metadata size 1152921504606846976 exceeds");
    EXPECT_LE(r.max_read(), 128u);
  }
  // A self-consistent header describing a 64 GiB file: the size check against the file fires
  // before the metadata is read.
  {
    std::vector<uint8_t> b = bytes_;
    const uint64_t weights = uint64_t{64} << 30;
    put_u64(b, 56, weights);
    put_u64(b, 72, weights / h_.chunk_size);
    put_u64(b, 88, h_.weights_offset + weights);
    rehash_header(b);
    ByteReader r(b);
    EXPECT_ERROR(parse_engine(r).status(), kDataLoss, "declares 68719480832 bytes but the file has");
    EXPECT_LE(r.max_read(), 128u);
  }
  // Same with metadata of 512 MiB (under the hard limit) through a pipe, whose size is unknown:
  // the metadata is read in bounded steps, so the short stream fails after the first one.
  {
    std::vector<uint8_t> b = bytes_;
    const uint64_t meta = uint64_t{512} << 20;
    const uint64_t woff = (128 + meta + 4095) / 4096 * 4096;
    put_u64(b, 40, meta);
    put_u64(b, 48, woff);
    put_u64(b, 88, woff + h_.weights_size);
    rehash_header(b);
    ByteReader r(b, false, false);
    EXPECT_ERROR(parse_engine(r).status(), kDataLoss, "reading the metadata");
    EXPECT_LE(r.max_read(), uint64_t{1} << 20);
  }
  // Offsets and sizes that overflow 64 bits.
  {
    std::vector<uint8_t> b = bytes_;
    put_u64(b, 56, ~uint64_t{0} - 4095);
    rehash_header(b);
    EXPECT_ERROR(load(b), kInvalidArgument, "engine header:");
  }
  // Header fields that disagree with each other.
  {
    std::vector<uint8_t> b = bytes_;
    put_u64(b, 72, h_.num_chunks + 1);
    rehash_header(b);
    EXPECT_ERROR(load(b), kInvalidArgument, "weights chunks");
    b = bytes_;
    put_u64(b, 48, h_.weights_offset + 4096);
    put_u64(b, 88, h_.file_size + 4096);
    rehash_header(b);
    EXPECT_ERROR(load(b), kInvalidArgument, "first 4096-aligned offset after the metadata");
    b = bytes_;
    put_u64(b, 64, 1000);
    rehash_header(b);
    EXPECT_ERROR(load(b), kInvalidArgument, "chunk size 1000");
    b = bytes_;
    put_u64(b, 24, 1);
    rehash_header(b);
    EXPECT_ERROR(load(b), kUnsupported, "unknown flags");
  }
}

TEST_F(EngineRobustness, MetadataThatIsNotAFlatBuffer) {
  // Garbage with a matching checksum: the Verifier must reject it.
  std::vector<uint8_t> b = bytes_;
  for (uint64_t i = 0; i < h_.metadata_size; ++i) b[h_.metadata_offset + i] = static_cast<uint8_t>(i * 7 + 3);
  rehash_metadata(b);
  EXPECT_ERROR(load(b), kDataLoss, "not a valid schema/engine.fbs FlatBuffer");
}

// Random damage behind valid checksums reaches the Verifier and the index checks: whatever
// happens, it is a Status, not a crash (run this under ASan to catch out-of-bounds reads).
TEST_F(EngineRobustness, RandomMetadataDamageWithValidChecksumsNeverCrashes) {
  std::mt19937_64 rng(7);
  int rejected = 0, invalid = 0;
  constexpr int kTrials = 3000;
  for (int t = 0; t < kTrials; ++t) {
    std::vector<uint8_t> b = bytes_;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const uint64_t at = h_.metadata_offset + rng() % h_.metadata_size;
      if (rng() % 2) {
        b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      } else {
        b[at] = static_cast<uint8_t>(rng());
      }
    }
    rehash_metadata(b);
    const Status s = load(b);
    if (!s.ok()) {
      ++rejected;
      invalid += s.code() == StatusCode::kInvalidArgument;
      EXPECT_TRUE(s.code() == StatusCode::kDataLoss || s.code() == StatusCode::kInvalidArgument ||
                  s.code() == StatusCode::kOutOfMemory)
          << s.to_string();
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(invalid, 0) << "no damage reached the index and range checks behind the Verifier";
}

}  // namespace
}  // namespace slimrt
