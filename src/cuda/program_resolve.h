// Program::resolve in named steps (internal header: program.cpp runs them; tests call them one at
// a time). One Resolver turns one Program at one set of input shapes into a Binding:
//
//   Resolver r(program);
//   r.seed(input_dims, input_host);        // 1. graph inputs' and constants' dims, host inputs
//   for (size_t i = 0; i < nodes; ++i) {   //    node by node, in graph order:
//     r.shapes(i);                         // 1. the node's output dims
//     r.host_values(i);                    // 2. which outputs are known on the host; launches nothing?
//     if (r.launches_kernel(i)) r.kernel(i, res);  // 3. its device kernel
//   }
//   r.launches();                          // 4. launch list, pointer tables, output copies
//   std::unique_ptr<Binding> b = r.take();
//
// Steps 1 to 3 interleave per node rather than running as whole-graph passes: a node's output
// dims may depend on an earlier node's host values (Shape -> Gather -> Concat -> Reshape's
// target). Only step 3 needs the device (DeviceResources: properties, cuBLASLt and cuDNN
// handles); kernel(i, given) runs its checks with a given kernel instead, so steps 1, 2 and 4
// are testable without a GPU. Every step returns what Program::resolve returns for the same
// failure (the code and message name the node).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "cuda/kernel.h"
#include "cuda/program.h"
#include "ir/op_registry.h"
#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt::cuda {

class Resolver {
 public:
  explicit Resolver(const Program& program);
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Step 1, before the nodes. Graph inputs take `input_dims` (graph-input order; kInvalidArgument
  // when the count differs), constants their tensors' dims. `input_host` (optional, graph-input
  // order): host copies of inputs whose data is known before the run; they become host values,
  // marked as derived from input data unless the input is host-only (Program::set_host_only_inputs).
  Status seed(const std::vector<std::vector<int64_t>>& input_dims, const std::vector<const Tensor*>* input_host);

  // Step 1 for node i (nodes in graph order, after seed and after steps 2-3 of node i-1): the
  // dims of its outputs, by the op's shape inference on its inputs' concrete dims, with inputs
  // known on the host given to inference as constants. An op without a CUDA kernel whose inputs
  // are all known on the host is evaluated on the CPU when its outputs are small (NonZero: its
  // shape is its data). kUnsupported for an unknown op or a shape that depends on the input data,
  // the inference's error otherwise; each names the node.
  Status shapes(size_t i);

  // Step 2 for node i (after shapes(i)): its outputs' host values, when known before the run:
  // folded by inference (a constant, or integer elements inference knows), evaluated on the CPU
  // (at most kMaxHostValueElements elements each, all inputs known on the host), or the outputs
  // step 1 evaluated. A node whose outputs are all known launches no kernel, unless it has a CUDA
  // kernel and its outputs are too large to be written from a kernel parameter or derive from
  // input data given on the host (the CUDA backend computes what it is asked to). Cannot fail
  // except when called out of order.
  Status host_values(size_t i);
  // After host_values(i): whether node i needs a device kernel (step 3).
  bool launches_kernel(size_t i) const { return !nodes_[i].host_evaluated; }

  // Step 3 for node i (after host_values(i), when launches_kernel(i)): creates its kernel from the
  // KernelRegistry with the concrete dims and host inputs (PrepareArgs), and marks the values it
  // reads on the device. kUnsupported when the op has no CUDA kernel or an input the kernel reads
  // on the host is not known there; the factory's error; kInternal when the kernel asks for more
  // workspace than ProgramOptions::workspace_bytes.
  Status kernel(size_t i, DeviceResources& res);
  // The same checks and marks with `given` in place of the factory's kernel: needs no device
  // (tests give stub kernels).
  Status kernel(size_t i, std::unique_ptr<Kernel> given);

  // Step 4, after every node: the launches in node order (a kernel per device node; a write of
  // the known bytes for each host value that a device kernel or a graph output reads), the
  // pointer tables sized, and the copies of graph outputs that are graph inputs or constants.
  // kUnsupported when a host-only graph input is read on the device (naming its consumers) or a
  // host value read on the device exceeds kMaxSmallValueBytes (naming the node).
  Status launches();

  // The Binding, after launches().
  std::unique_ptr<Binding> take() { return std::move(b_); }

  // What the steps found (before take()).
  const std::vector<int64_t>& dims(const Value* v) const { return b_->dims_[index(v)]; }
  // v's host value found at resolve (graph inputs given on the host included; not the
  // program's constants); nullptr when not known on the host.
  const Tensor* host_value(const Value* v) const { return b_->host_[index(v)].get(); }
  // Some device kernel (step 3) or graph output (step 4) reads v's data on the device.
  bool read_on_device(const Value* v) const { return on_device_[index(v)]; }
  const Binding& binding() const { return *b_; }
  size_t input_slots() const { return b_->in_table_.size(); }
  size_t output_slots() const { return b_->out_table_.size(); }
  size_t num_copies() const { return b_->copies_.size(); }
  // Launch l writes a host value's bytes (no kernel).
  bool writes_known_value(size_t l) const { return !b_->launches_[l].kernel; }

 private:
  // One per node resolved so far.
  struct NodeResult {
    const Node* node = nullptr;
    bool host_evaluated = false;     // step 2: known on the host; launches no kernel
    std::unique_ptr<Kernel> kernel;  // step 3
    uint32_t host_mask = 0;          // step 3: the kernel's host inputs (KernelDef::host_inputs)
  };
  // What step 1 of the node being resolved leaves for its steps 2 and 3.
  struct Current {
    const KernelDef* kdef = nullptr;          // null: no CUDA kernel for the op
    std::vector<Shape> shapes;                // its inputs' shapes (ctx points into them)
    std::vector<const Tensor*> host_inputs;   // per input: its host data, or null
    bool all_host = true;                     // every present input is known on the host
    bool tainted = false;                     // some input derives from input data given on the host
    std::optional<ShapeContext> ctx;          // the inference's outputs
    std::vector<Tensor> evaluated;            // outputs evaluated on the CPU by step 1, or empty
  };

  int32_t index(const Value* v) const { return p_.index_.at(v); }
  // kInternal unless node i is the next one (step 1) or the current one (steps 2 and 3).
  Status check_order(size_t i, bool next, const char* step) const;
  Status make_kernel(size_t i, DeviceResources* res, std::unique_ptr<Kernel> given);

  const Program& p_;
  std::unique_ptr<Binding> b_;
  std::vector<bool> known_;  // per value: dims known
  // Per value: derived from input data the caller gave on the host: usable for shapes and host
  // inputs, but the node still runs its device kernel (the CUDA backend must compute what it is
  // asked to).
  std::vector<bool> from_input_;
  std::vector<bool> on_device_;  // per value: some device kernel or output reads the data
  std::unique_ptr<ConstantEvaluator> evaluator_;
  std::vector<NodeResult> nodes_;
  Current cur_;
};

}  // namespace slimrt::cuda
