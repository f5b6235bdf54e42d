// slimrt/builder/engine_writer.h: Graph -> engine file. BUILDER side (library slimrt_builder):
// a program that only loads and runs engines links the runtime (slimrt) and never needs this.
//
//   EngineOptions opts;  opts.precision = Precision::kFp16;  opts.target = "sm_90";
//   SLIMRT_RETURN_IF_ERROR(write_engine(graph, opts, "model.engine"));
//
// The file layout, EngineOptions and the parser are the runtime's (slimrt/engine_format.h); the
// writer and the parser share its header codec, which lives in the runtime.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "slimrt/engine_format.h"
#include "slimrt/graph.h"
#include "slimrt/status.h"

namespace slimrt {

// Writes the engine. Weights are every Value::constant() and every tensor attribute, streamed
// from their (host) tensors. The graph must have its values' dtypes set.
//
// Conversion rule: a constant is written in its VALUE's dtype. When that differs from its
// Tensor's dtype (a weight marked by convert_precision, slimrt/builder/precision.h: float32
// data, fp16 or bf16 value) the writer converts it piece by piece through a small buffer as it
// streams into the file, clamping finite values beyond the half range to the largest finite half
// value, and hashes the converted bytes; the weight's recorded dtype and size are the converted ones. Only
// float32/float16/bfloat16 pairs convert; other mismatches are kInvalidArgument. No converted
// copy of a weight is ever held in memory. The overloads below add hooks (release the source
// pages of each consumed piece) and statistics (clamped values per weight).
Status write_engine(const Graph& graph, const EngineOptions& options, const std::string& path);
// Same into a stream that supports seekp() (an std::ofstream, an std::stringstream).
Status write_engine(const Graph& graph, const EngineOptions& options, std::ostream& out);

// write_engine with hooks (the builder's: page release behind the writer) and statistics.
//
// Layout: weights are written in the IR's layout, which is what the kernels read, so loading is
// a pure copy. A backend that needs another layout (blocked tensor-core weights, say) adds a
// hook here that names the layout per weight; the writer applies it in stream_weight
// (src/builder/engine_writer.cpp), where each piece of a weight is already transformed
// (converted) on its way to the file, and the engine records it with the weight.
struct EngineWriteHooks {
  // Called after `bytes` of a source tensor's memory at `data` were consumed (converted, hashed
  // and written) and will not be read again by the writer. May be empty.
  std::function<void(const void* data, uint64_t bytes)> release_source;
  // Bytes converted or copied between two release_source calls (rounded to whole elements).
  uint64_t piece_bytes = uint64_t{8} << 20;
};
struct EngineWriteStats {
  uint64_t weights_converted = 0;  // tensors converted while streaming (deferred conversions)
  // Tensors with values clamped to the half range: name, count.
  std::vector<std::pair<std::string, uint64_t>> clamped;
};
Status write_engine(const Graph& graph, const EngineOptions& options, const std::string& path,
                    const EngineWriteHooks& hooks, EngineWriteStats* stats);
Status write_engine(const Graph& graph, const EngineOptions& options, std::ostream& out,
                    const EngineWriteHooks& hooks, EngineWriteStats* stats);

}  // namespace slimrt
