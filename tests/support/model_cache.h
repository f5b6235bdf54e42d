// Where the exported PyTorch architectures are (scripts/export_models.py, ctest
// pytorch_architectures): $SLIMRT_MODEL_CACHE, else the build tree's cache/models, else the
// source tree's build/ or build-conf/ caches; "" when none exists. Header-only because it uses
// the test binary's SLIMRT_BINARY_DIR / SLIMRT_SOURCE_DIR definitions.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace slimrt::testing {

inline std::string model_cache() {
  if (const char* env = std::getenv("SLIMRT_MODEL_CACHE")) return env;
  for (const std::string& dir : {std::string(SLIMRT_BINARY_DIR) + "/cache/models",
                                std::string(SLIMRT_SOURCE_DIR) + "/build/cache/models",
                                std::string(SLIMRT_SOURCE_DIR) + "/build-conf/cache/models"}) {
    if (std::filesystem::exists(dir)) return dir;
  }
  return "";
}

}  // namespace slimrt::testing
