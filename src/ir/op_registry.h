// The table of ops the IR knows: arity and a shape-inference function for each.
//
// Each op family lives in src/ir/ops/<family>.cpp and registers itself from a
// register_<family>_ops(OpRegistry&) function listed in op_registry.cpp. Shape inference runs
// both at build time (symbolic dims, partially known values) and at run time in the CPU
// backend (every input concrete), so one function defines each op's output shapes for both.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "slimrt/graph.h"

namespace slimrt {

// What an inference function sees of one node.
class ShapeContext {
 public:
  struct InputInfo {
    DataType dtype = DataType::kUndefined;
    const Shape* shape = nullptr;              // nullptr when unknown
    const Tensor* constant = nullptr;          // full data when known
    const std::vector<Dim>* value = nullptr;   // element values of small int tensors, when known
  };
  struct OutputInfo {
    DataType dtype = DataType::kUndefined;
    std::optional<Shape> shape;
    std::optional<std::vector<Dim>> value;
  };

  ShapeContext(const Node& node, std::vector<InputInfo> inputs, size_t num_outputs);

  const Node& node() const { return node_; }
  size_t num_inputs() const { return inputs_.size(); }
  size_t num_outputs() const { return outputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].dtype != DataType::kUndefined; }
  DataType input_dtype(size_t i) const { return has_input(i) ? inputs_[i].dtype : DataType::kUndefined; }
  bool has_shape(size_t i) const { return has_input(i) && inputs_[i].shape != nullptr; }
  const Shape& input_shape(size_t i) const;  // check has_shape first
  int64_t input_rank(size_t i) const { return has_shape(i) ? static_cast<int64_t>(inputs_[i].shape->size()) : -1; }
  const Tensor* input_constant(size_t i) const { return has_input(i) ? inputs_[i].constant : nullptr; }
  // Element values of an integer input of rank <= 1, from its constant or from symbolic
  // propagation; nullptr when unknown. Float inputs have values only when every element is an
  // exact integer (a constant such as 1.0, or Cast(int -> float) of a known value).
  const std::vector<Dim>* input_value(size_t i) const;
  // Same, but only when every element is a static integer.
  std::optional<std::vector<int64_t>> input_static_value(size_t i) const;
  // A float or integer scalar/vector input known as a constant, converted to double.
  std::optional<std::vector<double>> input_constant_as_doubles(size_t i) const;

  void set_output(size_t i, DataType dtype, Shape shape);
  void set_output_dtype(size_t i, DataType dtype);  // shape unknown (rank unknown)
  void set_output_value(size_t i, std::vector<Dim> value);
  const OutputInfo& output(size_t i) const { return outputs_[i]; }

  // A fresh symbol for a dim that cannot be known before run time (data-dependent sizes).
  Dim fresh_dim(size_t output, size_t axis) const;

  // kShapeError naming the node, its op type and every input shape, followed by `why`.
  Status error(const std::string& why) const;
  // kUnsupported naming the node, for attribute values slimrt does not handle.
  Status unsupported(const std::string& why) const;

 private:
  const Node& node_;
  std::vector<InputInfo> inputs_;
  std::vector<OutputInfo> outputs_;
  mutable std::vector<std::vector<Dim>> converted_values_;
};

using ShapeInferFn = Status (*)(ShapeContext&);

struct OpDef {
  std::string op_type;
  int min_inputs = 0;
  int max_inputs = 0;   // -1: variadic
  int min_outputs = 1;
  int max_outputs = 1;  // -1: variadic
  ShapeInferFn infer = nullptr;
  // Bit i set: the runtime reads input i's values on the host before the node runs (Reshape's
  // shape, Slice's starts/ends/axes/steps, Clip's bounds, a Reduce's axes, ...): they decide
  // output shapes or kernel parameters. A graph input whose values reach such an input is a host
  // input (inputs_read_on_host, IoTensor::is_host_input). The CUDA kernel registry states the
  // same bits per kernel (KernelDef::host_inputs); a GPU test checks that the two agree.
  uint32_t host_inputs = 0;
};

class OpRegistry {
 public:
  static const OpRegistry& get();
  void add(OpDef def);
  const OpDef* find(const std::string& op_type) const;
  std::vector<std::string> names() const;

 private:
  std::unordered_map<std::string, OpDef> defs_;  // names() sorts
};

// Registration functions, one per op family (src/ir/ops/*.cpp).
void register_elementwise_ops(OpRegistry& r);  // unary math, binary arithmetic, logic, compare, Cast, Where, Clip, activations
void register_reduction_ops(OpRegistry& r);    // Reduce*, ArgMax/ArgMin, Softmax family, CumSum, TopK
void register_linalg_ops(OpRegistry& r);       // MatMul, Gemm, Einsum
void register_nn_ops(OpRegistry& r);           // Conv, ConvTranspose, pooling, normalizations, LRN, Dropout
void register_tensor_ops(OpRegistry& r);       // shape/data movement: Reshape, Transpose, Concat, Gather, ...
void register_image_ops(OpRegistry& r);        // Resize, Pad, DepthToSpace, SpaceToDepth
// Fused ops the builder's passes emit (domain "slimrt"; never read from ONNX files).
void register_fused_epilogue_ops(OpRegistry& r);  // Conv/Gemm/MatMul + bias, activation, residual
void register_fused_pattern_ops(OpRegistry& r);   // RMSNormalization, SiLU, Attention, ...
void register_fused_elementwise_ops(OpRegistry& r);  // FusedElementwise (ir/elementwise_program.h)
void register_input_convert_ops(OpRegistry& r);      // InputConvert (ir/input_convert.h)

// Shared helpers for inference functions.
// Numpy-style multidirectional broadcasting; error names the shapes.
Status broadcast_shapes(const ShapeContext& ctx, const std::vector<const Shape*>& shapes, Shape* out);
// Normalizes a possibly negative axis against rank; error if out of [-rank, rank).
Status normalize_axis(const ShapeContext& ctx, int64_t axis, int64_t rank, int64_t* out);

}  // namespace slimrt
