// SLIMRT_LOG: how slimrt's own code logs (the sink API is include/slimrt/logging.h).
//
//   SLIMRT_LOG(kInfo, "engine {}: {} bytes of weights in {:.2f} s", path, bytes, seconds);
//
// The level is checked first: below it (or with no sink installed) neither the arguments are
// evaluated nor the message formatted, so a message costs one relaxed atomic load.
#pragma once

#include <fmt/format.h>

#include "slimrt/logging.h"

#define SLIMRT_LOG(severity, ...)                                                                    \
  do {                                                                                               \
    if (::slimrt::log_enabled(::slimrt::LogSeverity::severity))                                      \
      ::slimrt::log_message(::slimrt::LogSeverity::severity, ::fmt::format(__VA_ARGS__));            \
  } while (0)
