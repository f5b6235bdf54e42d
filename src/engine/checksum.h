// src/engine/checksum.h: XXH3-64 as the engine format uses it (header, metadata, weights chunks).
//
// xxhash is used header-only (XXH_INLINE_ALL) in exactly one translation unit, checksum.cpp;
// everything else (writer, parser, the loader) goes through these wrappers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace slimrt::engine {

uint64_t xxh3_64(const void* data, size_t bytes);

// Incremental XXH3-64: update() over pieces gives the same digest as xxh3_64() over the
// concatenation. reset() starts a new chunk.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;

  void reset();
  void update(const void* data, size_t bytes);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace slimrt::engine
