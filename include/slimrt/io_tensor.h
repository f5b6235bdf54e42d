// slimrt/io_tensor.h: an engine's inputs and outputs as a program binds them (runtime).
//
//   std::shared_ptr<Engine> engine = (*rt)->load_file("bert.engine").value();
//   for (const IoTensor& t : engine->io_tensors())       // inputs, then outputs, in graph order
//     std::printf("%s %s %s\n", io_direction_name(t.direction).data(), t.name.c_str(),
//                 shape_to_string(t.dims).c_str());         // "input input_ids [-1,-1]"
//   const IoTensor* ids = engine->io_tensor("input_ids");  // nullptr: no such tensor
//   ids->dim_names;                                        // {"batch", "seq"}
//   ids->profiles[0].max;                                  // {8, 512}
//   Result<uint32_t> k = engine->select_profile({{"input_ids", {4, 128}}});   // 0
//   Status s = engine->check_input_shapes(0, {{"input_ids", {4, 4096}}});
//   // kInvalidArgument: "input 'input_ids' [4,4096]: dim 1 = 4096 is outside profile 0's
//   //                    range [1, 512]"
//
// What an IoTensor says, computed once when the engine loads (Engine::io_tensors()):
//   - name, direction, index (position among the inputs or among the outputs), dtype;
//   - dims: the declared dims, -1 (kDynamicDim) where a dim is only known at run time, and in
//     dim_names the symbol or expression that dim follows ("batch", "past+seq"; "" for a static
//     dim). has_shape is false when not even the rank is known (dims then empty);
//   - profiles: one entry per optimization profile of the engine (Engine::num_profiles()). For an
//     input, its min/opt/max dims in that profile. For an output, its dims when the inputs are at
//     the profile's min, opt and max shapes: symbols bound by the inputs are substituted, and a
//     dim that depends on input VALUES rather than shapes stays -1 (data_dependent_shape);
//   - is_host_input: an input whose values (not only its dims) the runtime reads on the host
//     before the kernels launch (TensorRT's shape tensors: Reshape's target shape, Slice's
//     starts, Clip's bounds, a Reduce's axes given as graph inputs). Bind host memory for it even
//     on the GPU (ExecutionContext::set_tensor_address). Host inputs hold at most
//     kMaxHostInputElements elements at every profile's max shape; a larger input whose values a
//     kernel reads on the host cannot run on the GPU (resolving names the node). It is the input
//     ExecutionContext::is_host_input reports, unless it fits the limit in some profiles only
//     (then a context of such a profile still makes it a host input);
//   - data_dependent_shape: an output with a dim that follows input values rather than shapes
//     (NonZero's count): its size is known only after the run; a bound for it is not given.
//
// I/O formats. An engine built with --input-format / --output-format / --normalize (docs/cli.md,
// slimrt/builder/io_formats.h) takes or gives some tensors in another dtype or layout than the
// model declared, and converts them on the device itself. Such a tensor's dtype and dims are the
// BOUND ones (uint8 [N,H,W,3] for a camera frame); `format` says what the model had and what the
// engine does in between:
//   const IoTensor* img = engine->io_tensor("image");
//   img->dtype;                       // kUInt8
//   img->format->model_dtype;         // kFloat32
//   img->format->channels_last;       // true: bound [N,H,W,C], the model reads [N,C,H,W]
//   img->format->to_string(img->dtype);  // "uint8 NHWC, normalized (x*0.00392157 - mean) / std,
//                                        //  mean [0.485,0.456,0.406], std [0.229,0.224,0.225];
//                                        //  the model has float32 NCHW"
//
// Shape checks. check_input_shapes(profile, shapes) checks concrete input shapes against one
// profile: every name must be an input, the rank must match, static dims must be equal and
// dynamic dims within [min, max]; the kInvalidArgument message names the input, the dim, the
// value and the allowed range. Inputs missing from `shapes` are not checked. select_profile
// returns the first profile that holds every shape given (an engine without profiles has one
// implicit profile, 0, in which only the static dims are checked).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/dtype.h"
#include "slimrt/shape.h"
#include "slimrt/status.h"

namespace slimrt {

class Graph;
struct OptimizationProfile;

inline constexpr int64_t kDynamicDim = -1;
// The most elements a host input may have (ExecutionContext reads them at every enqueue).
inline constexpr int64_t kMaxHostInputElements = 64;

enum class IoDirection : uint8_t { kInput, kOutput };
// "input" or "output".
std::string_view io_direction_name(IoDirection d);

// Concrete input shapes by name: what check_input_shapes and select_profile take.
using InputShapes = std::map<std::string, std::vector<int64_t>>;

// One tensor's dims in one optimization profile (-1 where an output's dim depends on data).
struct IoProfileDims {
  std::vector<int64_t> min, opt, max;
};

// How the engine converts between a bound input or output and the model's tensor (see above).
struct IoFormat {
  DataType model_dtype = DataType::kUndefined;  // the dtype the model declared
  // The model's axis 1 (channels) is bound as the last axis: [N,H,W,C] for the model's [N,C,H,W].
  bool channels_last = false;
  // Inputs only: the model reads (x * scale - mean[c]) / stddev[c] at channel c. mean and stddev
  // are empty without normalization; one value each applies to every channel.
  float scale = 1.0f;
  std::vector<float> mean, stddev;

  bool normalizes() const { return !mean.empty(); }
  // "uint8 NHWC, normalized ...; the model has float32 NCHW" given the bound dtype.
  std::string to_string(DataType bound) const;
};

struct IoTensor {
  std::string name;
  IoDirection direction = IoDirection::kInput;
  int32_t index = 0;  // position among the engine's inputs (or among its outputs)
  DataType dtype = DataType::kUndefined;
  bool has_shape = true;               // false: the rank is unknown (dims, dim_names empty)
  std::vector<int64_t> dims;           // kDynamicDim where only known at run time; empty = scalar
  std::vector<std::string> dim_names;  // per dim: "" if static, else its symbol or expression
  std::vector<IoProfileDims> profiles;  // one per optimization profile
  bool is_host_input = false;
  // An output with a dim that follows input values, not input shapes (NonZero's count, ...): its
  // size is known only after the run.
  bool data_dependent_shape = false;
  // Set when the engine converts this tensor (an I/O format given at build time).
  std::optional<IoFormat> format;

  bool is_input() const { return direction == IoDirection::kInput; }
  bool is_output() const { return direction == IoDirection::kOutput; }
  int64_t rank() const { return has_shape ? static_cast<int64_t>(dims.size()) : -1; }
  // Some dim is dynamic, or the rank is unknown.
  bool is_dynamic() const;
  // Elements and bytes for concrete dims; kInvalidArgument (naming the tensor) when they do not
  // match the rank or a static dim, are negative, or their product overflows int64 (bytes: uint64).
  Result<int64_t> element_count(const std::vector<int64_t>& concrete) const;
  Result<uint64_t> byte_size(const std::vector<int64_t>& concrete) const;
};

// The inputs then the outputs of `graph` (its declared dtypes and shapes), with the ranges of
// `profiles` (empty: none). Engine::io_tensors() is this for the engine's graph and profiles; a
// graph that is not an engine (an imported ONNX model) is described the same way.
// `formats` (name -> format) fills IoTensor::format; an engine's come from its file.
std::vector<IoTensor> describe_io(const Graph& graph, const std::vector<OptimizationProfile>& profiles,
                                  const std::map<std::string, IoFormat>& formats = {});

// The checks Engine::check_input_shapes and Engine::select_profile make, over any description
// (`io` from describe_io with `num_profiles` profiles; 0 profiles = one implicit profile).
Status check_input_shapes(const std::vector<IoTensor>& io, size_t num_profiles, uint32_t profile,
                          const InputShapes& shapes);
Result<uint32_t> select_profile(const std::vector<IoTensor>& io, size_t num_profiles, const InputShapes& shapes);

}  // namespace slimrt
