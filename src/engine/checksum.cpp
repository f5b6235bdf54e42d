#include "engine/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace slimrt::engine {

uint64_t xxh3_64(const void* data, size_t bytes) { return XXH3_64bits(data, bytes); }

// XXH3_state_t is a complete type with XXH_INLINE_ALL; holding it by value in a heap object
// keeps its 64-byte alignment requirement with C++17 aligned new.
struct Xxh3Stream::State {
  XXH3_state_t s;
};

Xxh3Stream::Xxh3Stream() : state_(std::make_unique<State>()) { reset(); }
Xxh3Stream::~Xxh3Stream() = default;

void Xxh3Stream::reset() { XXH3_64bits_reset(&state_->s); }
void Xxh3Stream::update(const void* data, size_t bytes) {
  if (bytes) XXH3_64bits_update(&state_->s, data, bytes);
}
uint64_t Xxh3Stream::digest() const { return XXH3_64bits_digest(&state_->s); }

}  // namespace slimrt::engine
