// slimrt/builder/io_formats.h: engine inputs and outputs in the format the caller's data has,
// converted on the device by the engine itself. BUILDER side (library slimrt_builder).
//
//   slimrt build lraspp.onnx -o seg.engine --fp16 --input-format image:uint8:nhwc
//       --normalize image:mean=0.485,0.456,0.406:std=0.229,0.224,0.225 --output-format out:fp16
//
// The engine then takes a uint8 [N,H,W,3] camera frame (a quarter of the fp32 bytes over PCIe)
// and gives a float16 map (half of them), where the model declares float32 [N,3,H,W] and float32.
//
// Inputs (--input-format NAME:DTYPE[:nhwc], --input-format NAME:nhwc, --normalize NAME:...):
//   - DTYPE is fp32, fp16, bf16 or uint8: the dtype the caller binds. Only float inputs of the
//     model take a format (token ids and indices are read as they are).
//   - nhwc: the caller binds the model's axis 1 (channels) last: [N,H,W,C] for [N,C,H,W] (any
//     rank >= 3). Profile shapes (--min/--opt/--max) then follow the bound layout too.
//   - --normalize NAME:mean=M[,M...]:std=S[,S...][:scale=K]: the model reads
//     (x * K - mean[c]) / std[c] for channel c (the model's axis 1; one value applies to every
//     channel). K defaults to 1/255 for uint8 inputs (torchvision's convention: mean and std are
//     given for pixels in [0, 1]) and to 1 otherwise; scale=1 takes mean and std in pixel units.
//   The builder puts one InputConvert node (ir/input_convert.h) between the new input and the
//   model. After precision conversion and the layout pass it absorbs the Cast and Transpose that
//   would follow it; where nothing is left to do (an fp16 input of an fp16 engine) it goes away
//   and the input's readers read the bound buffer directly. Otherwise it is the one pass over
//   the input (cuDNN and cuBLASLt cannot read uint8 or apply per-channel affines on load), and
//   the build report names the node that reads it and why.
// Outputs (--output-format NAME:DTYPE, DTYPE fp32, fp16 or bf16): the output is given in DTYPE.
//   In a half engine whose last op computes in half, the op writes the output directly (no pass);
//   otherwise one Cast remains, named in the report.
//
// Refused with kInvalidArgument naming the tensor: a name that is no input (or no output) of the
// model, a format for a non-float input or output, a format twice for one tensor, nhwc for an
// input of unknown rank or rank < 3, normalization whose channel count is not static or does not
// match mean/std (or exceeds kMaxInputConvertChannels), a zero or non-finite std, an input that
// is also a graph output, and an input whose values the runtime reads on the host.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slimrt/builder/passes.h"
#include "slimrt/graph.h"
#include "slimrt/io_tensor.h"
#include "slimrt/status.h"

namespace slimrt {

// One tensor's requested format, as parsed from the CLI (or set by a program).
struct IoFormatRequest {
  std::string name;
  IoDirection direction = IoDirection::kInput;
  DataType dtype = DataType::kUndefined;  // kUndefined: the model's dtype
  bool channels_last = false;
  std::vector<float> mean, stddev;  // --normalize (inputs)
  std::optional<float> scale;       // --normalize scale=; default 1/255 for uint8, else 1
};

// Parses --input-format, --output-format and --normalize arguments ("image:uint8:nhwc",
// "out:fp16", "image:mean=0.485,0.456,0.406:std=0.229,0.224,0.225"), merging those for one
// input. A name may itself contain ':' (the options are the trailing fields). kInvalidArgument
// quoting the argument for an unknown dtype or field, a missing name, or a number that does not
// parse.
Result<std::vector<IoFormatRequest>> parse_io_format_args(const std::vector<std::string>& input_formats,
                                                          const std::vector<std::string>& output_formats,
                                                          const std::vector<std::string>& normalizes);

// What the formats did: the engine's record per tensor (IoTensor::format) and, once
// finish_io_formats has run, one line per tensor for the build report.
struct IoFormatResult {
  std::map<std::string, IoFormat> formats;
  std::vector<std::string> lines;
};

// Rewrites the graph's edges for `requests` (run right after import, before the passes; the
// graph must have been through infer_shapes). Refusals are listed at the top of this file.
Status apply_io_formats(Graph& g, const std::vector<IoFormatRequest>& requests, IoFormatResult* result);

// After precision conversion and the layout pass: merges the Casts and Transposes that follow
// each InputConvert into it, removes conversions left with nothing to do (and output Casts
// between equal dtypes), and writes the report lines into `result`.
Status finish_io_formats(Graph& g, IoFormatResult* result, PassStats* stats = nullptr);

}  // namespace slimrt
