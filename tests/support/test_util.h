// Helpers shared by the test suites: fresh random inputs, reference comparison, and running a
// single op or a whole graph on the CPU backend.
//
//   Tensor x = random_tensor(DataType::kFloat32, {2, 3, 5}, rng);
//   auto out = run_single_op("Relu", {x}, {});       // outputs of a one-node graph
//   EXPECT_LT(rel_l2(out[0], expected), 1e-6);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "slimrt/backend.h"
#include "slimrt/graph.h"
#include "slimrt/tensor.h"

namespace slimrt::testing {

// Seeded from the test name unless SLIMRT_TEST_SEED is set, printed on failure by callers.
std::mt19937_64 make_rng(uint64_t salt = 0);

// Uniform in [lo, hi) for floats; integers in [lo, hi).
Tensor random_tensor(DataType dtype, const std::vector<int64_t>& shape, std::mt19937_64& rng,
                     double lo = -1.0, double hi = 1.0);

// Relative L2 error ||a-b|| / max(||b||, tiny), over all elements (any dtypes, host tensors).
// Shapes must match; a mismatch returns +inf. NaN anywhere returns NaN.
double rel_l2(const Tensor& a, const Tensor& b);
// Max |a-b|; +inf on shape mismatch.
double max_abs_diff(const Tensor& a, const Tensor& b);

// Builds a graph with one node of `op_type` whose inputs are graph inputs (or initializers for
// inputs listed in `constant_inputs`), infers shapes and runs it on the CPU backend with outputs
// poisoned. Inputs may be undefined Tensors for absent optional inputs.
struct SingleOpResult {
  Status status;
  std::vector<Tensor> outputs;
};
SingleOpResult run_single_op(const std::string& op_type, const std::vector<Tensor>& inputs,
                             const std::vector<std::pair<std::string, Attribute>>& attrs,
                             size_t num_outputs = 1, const std::vector<size_t>& constant_inputs = {});

// Fresh random inputs for every graph input of `g`. Symbolic dims bind by name through `dims`,
// any other symbol to `other_dims`; float inputs are uniform in [lo, hi), integer inputs are ids
// in [0, 10).
std::vector<NamedTensor> random_inputs(const Graph& g, std::mt19937_64& rng,
                                       const std::map<std::string, int64_t>& dims = {{"batch", 2}, {"seq", 11}},
                                       int64_t other_dims = 11, double lo = -1.0, double hi = 1.0);

// Runs a whole graph on the CPU backend with outputs poisoned; outputs in graph-output order.
Result<std::vector<NamedTensor>> run_on_cpu(const Graph& g, const std::vector<NamedTensor>& feeds);
// The same, recording a test failure (and returning no tensors) when the run fails.
std::vector<Tensor> run_graph(const Graph& g, const std::vector<NamedTensor>& feeds);

// A graph rewrite keeps what the graph computes: runs `g` on each input set, applies `pass`, runs
// it again and records a test failure per output whose shape changed or that moved by `tol` or
// more in relative L2 (`context()`, when given, is appended to each failure: a pass report). A
// failing pass is recorded too, and the comparison skipped.
void expect_pass_keeps_outputs(Graph& g, const std::vector<std::vector<NamedTensor>>& inputs,
                               const std::function<Status(Graph&)>& pass, double tol,
                               const std::function<std::string()>& context = {});

// Nodes of `op` type in the graph.
size_t count_op(const Graph& g, const std::string& op);

// BINARY_DIR/test_tmp/NAME_PID, created on first use: one directory per test process, since
// ctest runs the tests as parallel processes. Pass SLIMRT_BINARY_DIR.
const std::string& process_temp_dir(const std::string& binary_dir, const std::string& name);

}  // namespace slimrt::testing
