// The CLI's subcommands. Each registers its options on a CLI11 app and runs from them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "slimrt/status.h"

namespace CLI {
class App;
}

namespace slimrt::cli {

struct RunOptions {
  std::string model;
  std::string backend = "auto";
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME:1x3x224x224
  std::string output_dir;
  bool output_dir_given = false;  // --output-dir '' is refused, not taken as "no directory"
  // Numbers are read as text and checked by parse_int_option / parse_seed_option, so that -1 or
  // 1e99 is refused with the option's range instead of wrapping or saturating.
  std::string seed = "0";
  std::string iterations = "1";
  std::string warmup = "0";
  bool json = false;
};

struct BuildCommandOptions {
  std::string model, output;
  bool output_given = false;  // -o given (an empty -o is refused, not taken as "no -o")
  bool fp32 = false, fp16 = false, bf16 = false, tf32 = false;
  std::string target = "any";
  std::vector<std::string> mins, opts, maxs;  // NAME:DIMS, positional per input (docs/cli.md)
  // NAME:DTYPE[:nhwc], NAME:DTYPE, NAME:mean=..:std=..[:scale=..] (slimrt/builder/io_formats.h)
  std::vector<std::string> input_formats, output_formats, normalizes;
  bool no_passes = false;
  bool no_channels_last = false;
  bool exact_gelu = false;
  bool json = false;
};

struct BenchOptions {
  std::string engine;
  std::vector<std::string> batches;
  std::string iterations = "200";
  std::string warmup = "20";
  std::string seed = "0";
  bool no_cuda_graphs = false;
  bool json = false;
  bool profile = false;  // per-layer GPU time after the timed run
  // Host-to-host mode (src/cli/bench_io.cpp): where the request buffers live, the in-flight
  // request counts to compare (repeatable), and an SVG timeline of the last run.
  std::string io;                    // "" (compute only), device, pinned, mapped, pageable
  std::vector<std::string> streams;  // default 1
  std::string timeline;
};

struct InspectOptions {
  std::string engine;
  std::string layers = "20";  // nodes listed
  bool json = false;
};

void add_run_command(CLI::App& app, RunOptions& opts, int& exit_code);
void add_build_command(CLI::App& app, BuildCommandOptions& opts, int& exit_code);
void add_inspect_command(CLI::App& app, InspectOptions& opts, int& exit_code);
void add_ops_command(CLI::App& app, int& exit_code);
void add_bench_command(CLI::App& app, BenchOptions& opts, int& exit_code);

// "1x3x224x224" -> {1,3,224,224}; "NAME:1x3x224x224" -> {"NAME", {...}}. Empty on error with
// `error` set.
bool parse_dims(const std::string& text, std::vector<int64_t>* dims, std::string* error);
bool parse_shape_arg(const std::string& arg, std::pair<std::string, std::vector<int64_t>>* out, std::string* error);
// The limits of the run and bench counts (docs/cli.md).
inline constexpr int64_t kMaxIterations = 1'000'000;
// A decimal integer option in [lo, hi] ("--iterations 0: expected an integer from 1 to 1000000").
Result<int64_t> parse_int_option(std::string_view option, const std::string& text, int64_t lo, int64_t hi);
// A seed: a decimal integer from 0 to 2^64-1.
Result<uint64_t> parse_seed_option(std::string_view option, const std::string& text);

// Replaces every character outside [A-Za-z0-9._-] by '_' (an empty result becomes "output").
std::string sanitize_file_name(const std::string& name);

}  // namespace slimrt::cli
