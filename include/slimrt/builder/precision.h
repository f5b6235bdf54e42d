// slimrt/builder/precision.h: how a half-precision (fp16 / bf16) engine runs each op, and the
// pass that turns a float32 graph into one. BUILDER side (library slimrt_builder): a loaded
// engine's weights are already in the dtypes its kernels read, so the runtime never includes it.
//
//   PrecisionReport report;
//   SLIMRT_RETURN_IF_ERROR(convert_precision(graph, Precision::kFp16, {}, &report));
//   // every MatMul/Conv/... now takes and gives fp16; Exp, ReduceSum, ... still run in fp32
//
// THE TABLE (op_precision_table(), src/passes/precision.cpp) is the one place that says, for
// every IR op, how it runs in a half engine. Three classes:
//
//   kHalf   runs in fp16/bf16: its float32 inputs are converted to half (weights at build time,
//           activations by a Cast node) and its outputs are half. The kernels accumulate in fp32
//           (GEMM, convolution, softmax and normalization statistics), only storage is half.
//           MatMul, Gemm, Conv, the fused ops, Softmax, the normalizations, pooling averages.
//   kFloat  kept in float32 because its numerics need it: outputs that overflow or lose all
//           precision in half (Exp, Pow, Reciprocal, Sinh, sums of many terms such as ReduceSum
//           and CumSum, Range positions above 2048, Sin/Cos of rotary angles, sampling grids).
//           Half inputs it meets are cast back to fp32 (Cast node) and its outputs stay fp32.
//   kAny    follows its inputs: data movement (Reshape, Transpose, Gather, Concat, Slice, ...)
//           and cheap element-wise math whose result is as representable as its inputs (Add,
//           Mul, Div, Relu, Sigmoid, Max, ...). Such a node runs in half when none of its float
//           activation inputs is fp32; if one is, it runs in fp32 (promotion: a half input is
//           widened, never an fp32 one narrowed), so a chain such as Pow -> ReduceMean -> Add ->
//           Sqrt stays in fp32 once Pow produced it. Constant inputs follow the node for free.
//
// Ops missing from the table are kFloat (the safe default); a test checks that every op of the
// IR registry is listed, so a new op cannot be forgotten.
//
// THE PASS only converts values whose dtype is float32. An fp16 or bf16 model keeps its own
// half values as they are (its kFloat ops are not widened), and float64 is never touched.
// Graph inputs and outputs KEEP their dtypes: an fp32 model built as fp16 still takes and
// returns fp32 (a Cast sits at each boundary that needs one; the output keeps its name), and an
// fp16 model's bindings stay fp16.
//
// Weights. A float32 constant that feeds half ops becomes half. Small ones (up to
// PrecisionOptions::eager_weight_bytes) are converted in memory; bigger ones are only MARKED:
// the Value's dtype becomes fp16/bf16 while its constant Tensor stays float32 (aliasing the
// source, e.g. the mmapped ONNX external data), and write_engine converts them chunk by chunk
// as they stream into the file. No converted copy of a big weight is ever held in memory.
// A constant shared by a half and a float consumer is written twice (the alias shares memory).
// Values beyond the half range (|x| > 65504 for fp16) are CLAMPED to the largest finite half
// value, never turned into inf; the count per tensor is reported (PrecisionReport::lines for
// eager ones, the build report's warnings for streamed ones). NaN and inf stay NaN and inf.
//
// After convert_precision, a graph with marked weights is only fit for the planner and
// write_engine (is_deferred_conversion() tells them apart); run it after writing and reading
// the engine, or convert with eager_weight_bytes = UINT64_MAX to run it in memory.
//
// Layout. Weights are written in the layout the kernels read, which today is the IR's own
// (row-major, as each op defines its inputs: Conv OIHW, MatMul [K, N], Gemm as transB says), so
// loading an engine is a pure copy. A backend that wants another layout (e.g. CUDA tensor-core
// friendly blocked weights) will request it through EngineWriteHooks
// (slimrt/builder/engine_writer.h), the place where the writer already transforms each piece of a
// weight as it streams (conversion); no backend asks yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/dtype.h"
#include "slimrt/engine_format.h"
#include "slimrt/graph.h"
#include "slimrt/status.h"

namespace slimrt {

enum class OpPrecision : uint8_t { kHalf, kFloat, kAny };
std::string_view op_precision_name(OpPrecision p);  // "half", "float", "any"

struct OpPrecisionEntry {
  std::string_view op_type;
  OpPrecision precision;
  // Bit i set: input i keeps its dtype whatever the node runs in (Resize's roi and scales are
  // float32 by definition).
  uint32_t fixed_inputs = 0;
  std::string_view why;
};

// The table, sorted by op type.
const std::vector<OpPrecisionEntry>& op_precision_table();
// nullptr for ops not in the table.
const OpPrecisionEntry* find_op_precision(std::string_view op_type);
// The class of an op: its table entry, or kFloat when it has none.
OpPrecision op_precision(std::string_view op_type);

struct PrecisionOptions {
  // Float32 constants of at most this many bytes are converted in memory; bigger ones are
  // marked and converted by write_engine as they stream. UINT64_MAX converts everything now.
  uint64_t eager_weight_bytes = uint64_t{64} << 10;
  // A half FusedMatMul's exact (erf) GELU becomes the tanh form (activation "GeluTanh"), which
  // cuBLASLt applies in the GEMM's epilogue instead of a second pass over the output. The two
  // differ by at most 4.7e-4 (at x = -2.70), about one fp16 step at 1.0; the engine says which
  // it computes, and the CPU reference runs the same. false keeps erf.
  bool tanh_gelu = true;
};

struct PrecisionReport {
  int64_t half_nodes = 0, float_nodes = 0, any_nodes = 0;  // how each node ran, casts excluded
  int64_t casts_inserted = 0;
  int64_t weights_converted = 0;    // converted now
  int64_t weights_deferred = 0;     // marked for write_engine
  int64_t weights_aliased = 0;      // constants needed in both precisions
  uint64_t weight_bytes_before = 0, weight_bytes_after = 0;  // float32 constants touched
  int64_t gelu_tanh = 0;            // FusedMatMul GELUs turned into the tanh form (tanh_gelu)
  std::vector<std::string> lines;   // saturation warnings and other notes
};

// Converts `g` (which must have been through infer_shapes) to run in `p` as described at the
// top of this file. kFp32 is a no-op. Ends with topological_sort and infer_shapes.
Status convert_precision(Graph& g, Precision p, const PrecisionOptions& options = {},
                         PrecisionReport* report = nullptr);

// A constant whose Value dtype differs from its Tensor's: write_engine converts it.
bool is_deferred_conversion(const Value& v);

// Converts n float elements between float32, float16 and bfloat16 (any pair, including the
// same type: a copy), clamping finite values beyond the target's range to its largest finite
// value. Returns how many were clamped. The precision pass and the engine writer use it
// (src/builder/weight_conversion.cpp).
uint64_t convert_float_elements(const void* src, DataType from, void* dst, DataType to, size_t n);

}  // namespace slimrt
