// CPU reference kernels: one function per op, registered per family (src/cpu/kernels/*.cpp).
//
// The backend runs shape inference on the concrete inputs first, allocates every output at its
// inferred shape and dtype (poisoned in tests), then calls the kernel, which only computes. The
// kernels favour clarity and exactness over speed: float32 storage, double accumulation in
// reductions, GEMM and convolution. fp16/bf16 inputs of float ops are widened to float32 by the
// backend before the call and the outputs narrowed after it when the kernel asks for that
// (KernelDef::widen_half), so most kernels only handle float, double and the integer types.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt::cpu {

struct KernelContext {
  const Node& node;
  std::vector<const Tensor*> inputs;  // nullptr for absent optional inputs
  std::vector<Tensor*> outputs;       // allocated at the inferred shapes

  const Tensor* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  Tensor& output(size_t i) const { return *outputs[i]; }
  Status unsupported(const std::string& why) const;  // names the node
  Status invalid(const std::string& why) const;      // kInvalidArgument naming the node
};

using KernelFn = Status (*)(KernelContext&);

struct KernelDef {
  std::string op_type;
  KernelFn fn = nullptr;
  // Widen fp16/bf16 float inputs to fp32 before the call and narrow float outputs back to the
  // inferred dtype after it.
  bool widen_half = true;
};

class KernelRegistry {
 public:
  static const KernelRegistry& get();
  void add(KernelDef def);
  const KernelDef* find(const std::string& op_type) const;

 private:
  std::map<std::string, KernelDef> defs_;
};

void register_elementwise_kernels(KernelRegistry& r);
void register_reduction_kernels(KernelRegistry& r);
void register_linalg_kernels(KernelRegistry& r);
void register_nn_kernels(KernelRegistry& r);
void register_tensor_kernels(KernelRegistry& r);
void register_image_kernels(KernelRegistry& r);
void register_fused_epilogue_kernels(KernelRegistry& r);  // kernels/fused_epilogue*.cpp
void register_fused_pattern_kernels(KernelRegistry& r);   // kernels/fused_pattern*.cpp
void register_fused_elementwise_kernels(KernelRegistry& r);  // kernels/fused_elementwise.cpp
void register_input_convert_kernels(KernelRegistry& r);      // kernels/input_convert.cpp

}  // namespace slimrt::cpu
