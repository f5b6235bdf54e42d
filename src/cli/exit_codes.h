// Exit codes of the slimrt CLI (docs/cli.md).
#pragma once

#include "slimrt/status.h"

namespace slimrt::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeFailure = 1;  // the machine or slimrt failed (I/O, memory, internal)
inline constexpr int kExitBadInput = 2;        // bad usage or bad input (arguments, files, models)

// Prints "slimrt: error: <status>" to stderr and returns the matching exit code.
int report_error(const Status& s);

}  // namespace slimrt::cli
