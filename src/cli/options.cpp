// Numeric option values, read as text so that a sign, a fraction or an out-of-range value is
// refused with the option's range instead of wrapping (CLI11 reads -1 into a uint64_t as 2^64-1).
#include <fmt/core.h>

#include <limits>
#include <optional>

#include "cli/commands.h"

namespace slimrt::cli {

namespace {

// The digits of `text` as an unsigned value; nullopt when it is not all digits or exceeds `max`.
std::optional<uint64_t> decimal(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 40 || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (__builtin_mul_overflow(v, uint64_t{10}, &v) || __builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v))
      return std::nullopt;
  }
  if (v > max) return std::nullopt;
  return v;
}

}  // namespace

Result<int64_t> parse_int_option(std::string_view option, const std::string& text, int64_t lo, int64_t hi) {
  const bool negative = !text.empty() && text[0] == '-';
  const std::optional<uint64_t> mag =
      decimal(negative ? std::string_view(text).substr(1) : std::string_view(text), uint64_t{1} << 63);
  if (mag) {
    const __int128 v = negative ? -static_cast<__int128>(*mag) : static_cast<__int128>(*mag);
    if (v >= lo && v <= hi) return static_cast<int64_t>(v);
  }
  return invalid_argument(fmt::format("{} '{}': expected an integer from {} to {}", option, text, lo, hi));
}

Result<uint64_t> parse_seed_option(std::string_view option, const std::string& text) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (const std::optional<uint64_t> v = decimal(text, kMax)) return *v;
  return invalid_argument(fmt::format("{} '{}': expected an integer from 0 to {}", option, text, kMax));
}

}  // namespace slimrt::cli
