// slimrt/builder/builder.h: ONNX model -> engine file (the `slimrt build` pipeline). BUILDER side
// (library slimrt_builder, which links protobuf and ONNX); the runtime never includes it.
//
//   BuildOptions opts;
//   SLIMRT_ASSIGN_OR_RETURN(opts.profiles, parse_profile_args({"x:1x3x64x64"}, {"x:4x3x64x64"},
//                                                             {"x:8x3x64x64"}));
//   BuildReport report;
//   SLIMRT_RETURN_IF_ERROR(build_engine("model.onnx", opts, "model.engine", &report));
//
// Pipeline: import (with symbolic shape inference) -> I/O formats (slimrt/builder/io_formats.h)
// -> graph passes (slimrt/builder/passes.h) ->
// shape inference again -> precision conversion (slimrt/builder/precision.h; fp16/bf16 only) ->
// the I/O conversions merged (finish_io_formats) -> profiles resolved against the graph inputs -> one activation plan per profile at the
// profile's MAX shapes -> write_engine (slimrt/builder/engine_writer.h, with hooks).
//
// Build memory. Weights are never copied: external data stays memory-mapped (Tensor::adopt over
// the mapping), weights to convert to half are only marked (slimrt/builder/precision.h), and the
// writer converts and hashes them piece by piece as they stream into the file. After each piece the
// writer calls EngineWriteHooks::release_source, which the builder points at the importer: for
// memory inside an external-data mapping it drops the pages just read (madvise MADV_DONTNEED;
// the mapping is read-only and private, so a page touched again is simply re-read from the
// file). Heap memory is never released that way. Peak RSS therefore stays near the metadata
// plus one piece, whatever the model size; BuildReport::peak_rss_bytes records it (VmHWM).
//
// Profiles. Each profile gives min/opt/max shapes for graph inputs; what the profiles leave out,
// resolve_profiles chooses and says so (ProfileChoices), like trtexec and Polygraphy do:
//   - an input whose declared shape is fully static may be left out (its shape is filled in);
//   - an input with symbolic dims left out of a profile (or a model built with no profile) gets
//     its symbolic dims at 1 in min, opt and max, except that a symbol another input of the
//     profile gives takes that input's value (inputs sharing "batch" stay consistent);
//   - an input given only some of --min/--opt/--max (kProfileDimUnset in the others) completes
//     them per symbolic dim: a symbol another input gives takes that value; else a missing max
//     is the opt (else the min), a missing opt is the max (else the min), a missing min is 1.
// A model whose inputs are all static gets one implicit profile (min = opt = max = the static
// shapes), so every engine carries at least one profile and one memory plan. Symbols are bound by
// matching each input's declared dims against the max shape ("batch" -> 8); a symbol bound to two
// different values (two inputs sharing "seq" with different max lengths) is an error, as is an
// input with symbolic dims given in some profiles but not in all of them.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/engine_format.h"
#include "slimrt/builder/io_formats.h"
#include "slimrt/graph.h"
#include "slimrt/memory_plan.h"
#include "slimrt/status.h"

namespace slimrt {

struct BuildOptions {
  Precision precision = Precision::kFp32;  // fp16/bf16: convert_precision (builder/precision.h)
  bool tf32 = false;                       // recorded in the engine header
  std::string target = "any";              // "any" or "sm_XY"
  bool run_passes = true;                  // graph passes (when the pass library is present)
  // fp16/bf16 builds with passes: NHWC regions for 2-D convolutions (convert_to_channels_last).
  bool channels_last = true;
  // fp16/bf16 builds: keep FusedMatMul's erf GELU instead of the tanh form cuBLASLt fuses
  // (PrecisionOptions::tanh_gelu).
  bool exact_gelu = false;
  std::vector<OptimizationProfile> profiles;
  // Inputs and outputs in another dtype or layout than the model's, converted by the engine
  // (slimrt/builder/io_formats.h; the CLI's --input-format, --output-format, --normalize).
  std::vector<IoFormatRequest> io_formats;
  uint64_t chunk_size = kEngineDefaultChunkSize;
  // Called at each stage with a fraction in [0, 1] of the build done; may be empty.
  std::function<void(std::string_view stage, double fraction)> progress;
};

// A dim of a --min/--opt/--max list the user did not give (parse_profile_args): resolve_profiles
// chooses it.
inline constexpr int64_t kProfileDimUnset = -1;

// What resolve_profiles chose where the profiles were silent.
struct ProfileChoices {
  std::vector<std::string> notes;  // one line per input: the shapes chosen, why, and the flags that change them
  // Per profile: input -> the lists chosen for it ("min", "opt", "max"); inputs given in full are absent.
  std::vector<std::map<std::string, std::vector<std::string>>> chosen;
};

struct ProfileMemoryReport {
  std::map<std::string, int64_t> symbols;  // bindings at the max shapes
  int64_t planned_bytes = 0;               // the arena
  int64_t lower_bound_bytes = 0;           // most bytes live at once
  int64_t sum_bytes = 0;                   // every activation with no reuse
  int32_t num_buffers = 0;
  int32_t num_in_place = 0;
};

struct BuildReport {
  std::string model, engine;
  Precision precision = Precision::kFp32;
  bool tf32 = false;
  std::string target;
  bool passes_run = false;
  std::vector<std::string> pass_summary;  // one line per pass: "fold_conv_batchnorm: -4 +0 nodes"
  int64_t nodes_imported = 0;
  int64_t layers = 0;                        // nodes after the passes
  std::map<std::string, int64_t> op_counts;  // op type -> count, after the passes
  int64_t num_weights = 0;
  uint64_t weight_bytes = 0;                 // bytes of tensor data (unpadded)
  uint64_t weights_region_bytes = 0;         // the engine's weights region (aligned)
  uint64_t engine_bytes = 0;
  std::vector<OptimizationProfile> profiles;  // as resolved (implicit one included)
  ProfileChoices profile_choices;             // shapes slimrt chose (a default profile), with notes
  std::vector<ProfileMemoryReport> memory;    // one per profile
  // Precision conversion (fp16/bf16 builds): nodes run in half / float / following inputs.
  int64_t half_nodes = 0, float_nodes = 0, any_nodes = 0, casts_inserted = 0;
  int64_t weights_converted = 0;  // float32 weights written as half
  int64_t channels_last_nodes = 0;  // convolutions and pools given the NHWC layout
  std::vector<std::string> layout_lines;  // the layout pass's decisions (region sizes, refusals)
  // Per formatted input or output: what reads or writes it and whether a conversion pass remains.
  std::vector<std::string> io_lines;
  std::vector<std::string> warnings;  // e.g. weights clamped to the half range
  double import_ms = 0, passes_ms = 0, precision_ms = 0, plan_ms = 0, write_ms = 0, total_ms = 0;
  // Resident memory of the building process (VmHWM and VmRSS of /proc/self/status; 0 where
  // unavailable): the peak over the whole process life, and the RSS when build_engine started.
  uint64_t peak_rss_bytes = 0;
  uint64_t rss_before_bytes = 0;
};

// VmHWM / VmRSS of this process in bytes (0 if /proc/self/status cannot be read).
uint64_t process_peak_rss_bytes();
uint64_t process_rss_bytes();

// Parses the CLI's --min/--opt/--max arguments ("NAME:1x3x224x224") into profiles. For each
// input, its i-th --min, i-th --opt and i-th --max form profile i; each of the three lists is
// given for an input as many times as the others or not at all (a list not given is left at
// kProfileDimUnset, for resolve_profiles to choose). Checks rank agreement and min <= opt <= max
// per dim among the lists given (kInvalidArgument, naming the input and the profile).
Result<std::vector<OptimizationProfile>> parse_profile_args(const std::vector<std::string>& mins,
                                                            const std::vector<std::string>& opts,
                                                            const std::vector<std::string>& maxs);

// Completes `profiles` against the graph's inputs (see the header comment; with no profile at all,
// one default profile) and returns, per profile, the symbol bindings at its max shapes. The
// graph's inputs must have shapes. What it chose goes to `choices` when given.
Result<std::vector<std::map<std::string, int64_t>>> resolve_profiles(
    const Graph& graph, std::vector<OptimizationProfile>* profiles, ProfileChoices* choices = nullptr);

// The activation plan of resolved profile `p` at its max shapes (`bindings`, from
// resolve_profiles). A value whose inferred shape is data-dependent (a fresh dim from a shape
// subgraph shape inference could not express) is sized by infer_profile_shapes
// (slimrt/memory_plan.h) with the dims the profile fixes; if it still varies, the error names the
// value, its node and the profile's varying input dims, and says what to change.
Result<ActivationPlan> plan_profile_activations(const Graph& graph, const OptimizationProfile& p,
                                                const std::map<std::string, int64_t>& bindings);

// Whether concrete input shapes fit profile `p` (every listed input within [min, max]).
bool shapes_fit_profile(const OptimizationProfile& p,
                        const std::map<std::string, std::vector<int64_t>>& shapes);
// "image: [1x3x64x64 .. 8x3x64x64]" for each input of the profile, joined by "; ".
std::string profile_ranges_to_string(const OptimizationProfile& p);

// `engine_path` is checked before the import (docs/cli.md, "Output paths"): an empty path, a
// directory, a device, FIFO or socket, or the model or one of its external data files (compared
// by device and inode) is refused with kInvalidArgument. The engine is written to a temporary
// file beside it and renamed over it when complete.
Status build_engine(const std::string& onnx_path, const BuildOptions& options,
                    const std::string& engine_path, BuildReport* report = nullptr);

}  // namespace slimrt
