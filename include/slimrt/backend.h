// slimrt/backend.h: choosing where a graph runs.
//
//   Result<std::unique_ptr<Backend>> be = create_backend("cpu");
//   Result<std::unique_ptr<Executable>> exe = (*be)->prepare(graph);
//   std::vector<NamedTensor> outputs;
//   Status s = (*exe)->run({{"x", input}}, &outputs);
//
// A backend turns a Graph into an Executable. The CPU reference backend is the ground truth
// every other backend is tested against. Later backends (CUDA) keep this interface and add
// engines and execution contexts with planned memory; inputs carry their MemoryKind so a device
// backend can take host, pinned or device tensors.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "slimrt/graph.h"
#include "slimrt/status.h"
#include "slimrt/tensor.h"

namespace slimrt {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct RunOptions {
  // Poison every intermediate and output buffer before it is written, so an element a kernel
  // forgets to write shows up as NaN (float) or 0x5A bytes. Slower; on in tests.
  bool poison_outputs = false;
};

class Executable {
 public:
  virtual ~Executable() = default;
  // Runs the graph. Every graph input must be given (by name), with a dtype equal to the
  // input's and a shape that matches its static dims (symbolic dims bind to any size, the same
  // symbol to the same size). Outputs come back in graph-output order.
  virtual Status run(const std::vector<NamedTensor>& inputs, std::vector<NamedTensor>* outputs,
                     const RunOptions& options = {}) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Where this backend expects input and output tensors by default.
  virtual MemoryKind memory_kind() const = 0;
  // Checks that every node is supported and prepares the graph. The Graph must outlive the
  // Executable.
  virtual Result<std::unique_ptr<Executable>> prepare(const Graph& graph) = 0;
};

// Names the backends this build has ("cpu", and "cuda" in CUDA builds).
std::vector<std::string> available_backends();
// kNotFound listing the available backends when `name` is unknown.
Result<std::unique_ptr<Backend>> create_backend(std::string_view name);

// Evaluates single nodes on the CPU reference backend; plug into ShapeInferenceOptions to fold
// constant subgraphs.
std::unique_ptr<ConstantEvaluator> make_cpu_constant_evaluator();

}  // namespace slimrt
