// Helpers for the GPU suite: skip without a device, and check one op (or a whole graph) on the
// CUDA backend against the CPU reference backend on the same fresh random inputs.
//
//   TEST(CudaElementwise, Add) {
//     SLIMRT_SKIP_WITHOUT_GPU();
//     auto rng = testing::make_rng();
//     testing::OpCheck c{"Add"};
//     c.inputs = {testing::random_tensor(DataType::kFloat16, {3, 17}, rng),
//                 testing::random_tensor(DataType::kFloat16, {17}, rng)};
//     testing::expect_cuda_matches_cpu(c);   // rel L2 < 5e-3 for fp16, outputs poisoned
//   }
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "slimrt/backend.h"
#include "slimrt/builder/io_formats.h"
#include "slimrt/device.h"
#include "slimrt/graph.h"
#include "support/test_util.h"

#define SLIMRT_SKIP_WITHOUT_GPU()                                                  \
  do {                                                                             \
    ::slimrt::DeviceQuery q_ = ::slimrt::query_cuda_devices();                     \
    if (q_.count == 0) GTEST_SKIP() << "no GPU: " << q_.description;               \
  } while (0)

namespace slimrt::testing {

// The bounds on relative L2 error against the CPU reference: 1e-5 for fp32 (and fp64),
// 5e-3 for fp16, 2e-2 for bf16; 0 (exact) for integer and bool outputs.
double cuda_tolerance(DataType t);

struct OpCheck {
  OpCheck() = default;
  explicit OpCheck(std::string op) : op_type(std::move(op)) {}

  std::string op_type;
  std::vector<Tensor> inputs;  // undefined Tensor = omitted optional input
  std::vector<std::pair<std::string, Attribute>> attrs;
  size_t num_outputs = 1;
  std::vector<size_t> constant_inputs;  // these inputs become initializers (weights)
  double tolerance = -1;                // < 0: cuda_tolerance(output dtype)
  // Outputs to compare (empty: all). TopK's indices may differ on ties, for example.
  std::vector<size_t> compare_outputs;
};

// Builds the one-node graph, runs it on the CPU backend and on the CUDA backend (outputs
// poisoned on both), and records a gtest failure per output that differs by more than the
// tolerance (or in shape/dtype), describing the op, attributes and input shapes. Returns the
// largest relative L2 error seen (or +inf when the CUDA run failed).
double expect_cuda_matches_cpu(const OpCheck& check);

// models/tinynet.onnx: beside the test binary in the GPU bundle (scripts/gpu-bundle.sh), else in
// the source tree.
std::string tinynet_onnx();
// The I/O format of an image input bound as `dtype` (NHWC when `nhwc`) with ImageNet's mean and
// std normalized by the engine.
IoFormatRequest normalized_image(const std::string& name, DataType dtype, bool nhwc);

// The same for a whole graph (shapes inferred): feeds are host tensors.
double expect_graph_cuda_matches_cpu(const Graph& g, const std::vector<NamedTensor>& feeds, double tolerance = -1);

}  // namespace slimrt::testing
