// `slimrt bench ENGINE --io LOCATION [--streams N ...] [--timeline FILE.svg]`: host data in and
// out through a Pipeline (slimrt/pipeline.h), the way trtexec reports transfers and compute apart.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "slimrt/runtime.h"
#include "slimrt/status.h"

namespace slimrt::cli {

// The bench options as numbers, checked (bench_command.cpp's parse_bench_numbers).
struct BenchNumbers {
  std::vector<int64_t> batches;
  int iterations = 0, warmup = 0;
  uint64_t seed = 0;
  std::vector<int64_t> streams;  // --streams values (1 to 64); {1} when not given
};

// The value at fraction p (0..1) of the sorted samples (nearest rank); 0 for none.
double percentile(std::vector<double> v, double p);

// Runs the I/O benchmark for every --streams value at the first --batch (or the profile's opt
// shapes) and prints its table, or its JSON with --json; writes --timeline when given. `engine`
// is loaded on the CUDA backend.
Status run_io_bench(const BenchOptions& opts, const BenchNumbers& num, const std::shared_ptr<Engine>& engine,
                    const std::string& device_description);

}  // namespace slimrt::cli
