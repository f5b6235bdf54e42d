// Writes valid engines for the engine-parser fuzzer to start from (scripts/sanitize-check.sh).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine_test_util.h"

namespace slimrt {
namespace {

TEST(EngineFuzzSeeds, WriteValidEngines) {
  const auto dir = std::filesystem::path(SLIMRT_BINARY_DIR) / "test_tmp" / "engine_fuzz_seeds";
  std::filesystem::create_directories(dir);
  EngineOptions chunked = engine_test::test_options();
  EngineOptions single = chunked;
  single.chunk_size = 1 << 20;
  single.profiles.clear();
  single.memory_plans.clear();
  int written = 0;
  for (const auto& [name, options] : {std::pair{"chunked", chunked}, std::pair{"single_chunk", single}}) {
    const std::vector<uint8_t> bytes = engine_test::write_to_bytes(engine_test::build_test_graph(), options);
    ASSERT_FALSE(bytes.empty());
    std::ofstream out(dir / (std::string(name) + ".engine"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good());
    ++written;
  }
  EXPECT_EQ(written, 2);
}

}  // namespace
}  // namespace slimrt
