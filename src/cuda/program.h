// A graph compiled for the CUDA backend, and its per-shape bindings (host-only header).
//
//   Program (once per graph/engine + profile):
//     value table, where each value lives (graph input, constant on the device, planned
//     activation at an arena offset), the arena size (activations + one shared workspace).
//   Binding (once per set of input shapes; cached by the context):
//     concrete dims of every value, host copies of values known before the run (shape
//     arithmetic), one Kernel per node that runs on the device, and flat pointer tables.
//   enqueue(binding, pointers, stream):
//     walks the nodes and calls Kernel::enqueue: no allocation, no synchronisation.
//
// Values known on the host. Shape subgraphs (Shape -> Gather -> Concat -> Reshape) are
// evaluated at resolve time: an integer output whose elements shape inference knows, or the
// output of a node whose inputs are all host-known (evaluated by the CPU reference backend, up to
// kMaxHostValueElements elements), becomes a host tensor. Such a node launches nothing, unless a
// device kernel (or a graph output) reads its data, in which case the known elements are written
// into the value's planned buffer by a tiny kernel that takes them by value.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda/kernel.h"
#include "slimrt/graph.h"
#include "slimrt/memory_plan.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt::cuda {

inline constexpr int64_t kMaxHostValueElements = 64;
inline constexpr uint64_t kDefaultWorkspaceBytes = uint64_t{32} << 20;
inline constexpr uint64_t kArenaAlignment = 256;

struct ProgramOptions {
  uint64_t workspace_bytes = kDefaultWorkspaceBytes;
  bool allow_tf32 = false;
};

// Where an activation lives in the arena: name -> (offset, planned bytes).
struct ArenaSlot {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};
using ArenaLayout = std::unordered_map<std::string, ArenaSlot>;
ArenaLayout arena_layout_from_plan(const ActivationPlan& plan);

class Binding;
class DeviceResources;
class Resolver;

class Program {
 public:
  // `device_constants`: the device address of every constant Value a kernel may read on the
  // device (weights). `layout`/`activation_bytes`: the planned arena for this profile.
  static Result<std::unique_ptr<Program>> create(const Graph& graph,
                                                 std::unordered_map<const Value*, const void*> device_constants,
                                                 ArenaLayout layout, uint64_t activation_bytes,
                                                 const ProgramOptions& options);

  const Graph& graph() const { return graph_; }
  // Activations, then the shared workspace: what a context needs.
  uint64_t arena_bytes() const { return workspace_offset_ + options_.workspace_bytes; }
  uint64_t activation_bytes() const { return activation_bytes_; }
  uint64_t workspace_bytes() const { return options_.workspace_bytes; }
  size_t num_inputs() const { return graph_.inputs().size(); }
  size_t num_outputs() const { return graph_.outputs().size(); }
  // Per graph input: whether its data reaches a kernel input that must be known on the host
  // (Clip's bounds, Trilu's k, CumSum's axis, ReduceSum's axes, ...). The execution context
  // makes such small inputs host inputs (set_host_only_inputs): read from host memory at enqueue.
  const std::vector<bool>& needs_host_value() const { return needs_host_value_; }
  // Graph inputs given only on the host (input_host at resolve, no device address). resolve
  // fails, naming the node, when a device kernel reads one of them.
  void set_host_only_inputs(std::vector<bool> host_only) { host_only_ = std::move(host_only); }

  // Places the activations (by value name) in an arena of `activation_bytes`, replacing the
  // layout given to create(). Call it before any Binding of this program first enqueues (a
  // Binding keeps the pointer tables of the addresses it last bound): the convenience path
  // resolves once with no layout, plans at the binding's exact sizes (Binding::plan_concrete)
  // and sets that plan here, without resolving again.
  Status set_arena_layout(const ArenaLayout& layout, uint64_t activation_bytes);

  // Resolves every value's dims for these input dims (graph-input order), creates the kernels:
  // the steps of Resolver (program_resolve.h: shapes, host values, kernels, launches), node by
  // node. Errors name the node (unsupported op, data-dependent shape, a value larger than its
  // planned slot: shapes outside the profile).
  // `input_host` (optional, graph-input order): host copies of inputs whose data is known before
  // the run (small integer inputs of the convenience path); they become host-known values.
  // Does not check the memory plan: see Binding::check_planned.
  Result<std::unique_ptr<Binding>> resolve(const std::vector<std::vector<int64_t>>& input_dims,
                                           DeviceResources& res,
                                           const std::vector<const Tensor*>* input_host = nullptr) const;

 private:
  friend class Binding;
  friend class Resolver;
  Program(const Graph& g) : graph_(g) {}

  struct ValueInfo {
    const Value* value = nullptr;
    int32_t input_index = -1;        // graph input position
    const Tensor* host_constant = nullptr;  // constant's host data (host constant or mirror)
    const void* device_constant = nullptr;
    bool planned = false;            // has an arena slot
    ArenaSlot slot;
  };

  const Graph& graph_;
  ProgramOptions options_;
  std::vector<Node*> nodes_;
  std::vector<ValueInfo> values_;
  std::unordered_map<const Value*, int32_t> index_;
  std::vector<int32_t> outputs_;  // value index of each graph output
  std::vector<bool> needs_host_value_;  // per graph input
  std::vector<bool> host_only_;         // per graph input (empty: none)
  uint64_t activation_bytes_ = 0;
  uint64_t workspace_offset_ = 0;
};

// Addresses for one run: the arena, and the user's buffer for each graph input and output.
struct BindingAddresses {
  void* arena = nullptr;
  std::vector<const void*> inputs;  // graph-input order
  std::vector<void*> outputs;       // graph-output order; nullptr = leave in the arena
};

// A plan at one binding's exact sizes (the convenience path plans per shape set).
struct ConcretePlan {
  ArenaLayout layout;
  uint64_t activation_bytes = 0;
};

class Binding {
 public:
  // Every value written on the device has a planned slot large enough for these shapes
  // (kOutOfRange naming the value otherwise: shapes outside the profile).
  Status check_planned() const;
  // Plans this binding's values at their exact sizes (lifetimes in launch order).
  Result<ConcretePlan> plan_concrete() const;
  const std::vector<int64_t>& dims(const Value* v) const;
  // Output i's dims and dtype at these shapes.
  const std::vector<int64_t>& output_dims(size_t i) const { return dims_[program_->outputs_[i]]; }
  uint64_t workspace_needed() const { return workspace_needed_; }
  size_t num_launches() const { return launches_.size(); }

  // Recomputes the pointer tables when `addr` differs from the last call (no allocation: the
  // tables were sized by resolve). Then enqueues every node on `stream`.
  // `marks` (profiling only): when non-null, holds num_launches() + 1 events; event i is recorded
  // before launch i and the last one after the final launch.
  Status enqueue(const BindingAddresses& addr, cudaStream_t stream, cublasLtHandle_t cublaslt,
                 cudnnHandle_t cudnn, cudaEvent_t* marks = nullptr);
  // The node of launch i (host-known value writes included).
  const Node* launch_node(size_t i) const { return launches_[i].node; }
  // Where graph output i was written for `addr` (its user buffer or its arena slot).
  const void* output_address(const BindingAddresses& addr, size_t i) const;

 private:
  friend class Resolver;
  struct Launch {
    const Node* node = nullptr;
    std::unique_ptr<Kernel> kernel;  // null: a host-known value written by write_values
    int32_t first_in = 0, num_in = 0, first_out = 0, num_out = 0;  // into the tables
    std::vector<int32_t> in_values, out_values;                     // value indices (-1 omitted)
    std::vector<uint8_t> host_input;  // 1: input read on the host only (no device pointer)
    // write_values: the elements, the element size and the target value.
    std::vector<uint8_t> known;
    int32_t known_value = -1;
  };
  struct Copy {  // graph outputs that are graph inputs or constants: copied at the end
    int32_t value = -1;
    size_t output = 0;
  };

  Status bind(const BindingAddresses& addr);
  void* value_address(int32_t v, const BindingAddresses& addr) const;

  const Program* program_ = nullptr;
  std::vector<std::vector<int64_t>> dims_;       // per value
  std::vector<std::unique_ptr<Tensor>> host_;    // per value: host-known data, or null
  std::vector<Launch> launches_;
  std::vector<Copy> copies_;
  uint64_t workspace_needed_ = 0;
  std::vector<const void*> in_table_;
  std::vector<void*> out_table_;
  BindingAddresses bound_;
  bool bound_valid_ = false;
};

}  // namespace slimrt::cuda
