// Graph passes on an ONNX model written by onnx.helper at test time (SLIMRT_PYTHON): a small
// CNN with unfolded BatchNormalization (torch's exporter folds BN itself, so the cached models
// have none), Identity, Dropout and the Shape -> Gather -> Concat -> Reshape subgraph exporters
// emit. The imported graph must give the same outputs before and after run_passes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "slimrt/backend.h"
#include "slimrt/builder/onnx_importer.h"
#include "slimrt/builder/passes.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

constexpr const char* kScript = R"PY(
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

rng = np.random.default_rng(7)
def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)
def bn_params(p, m):
    return [init(p + "_g", rng.uniform(0.5, 1.5, m).astype(np.float32)),
            init(p + "_b", rng.uniform(-1, 1, m).astype(np.float32)),
            init(p + "_m", rng.uniform(-1, 1, m).astype(np.float32)),
            init(p + "_v", rng.uniform(0.5, 1.5, m).astype(np.float32))]
inits = [init("w1", rng.uniform(-1, 1, (8, 3, 3, 3)).astype(np.float32)),
         init("w2", rng.uniform(-1, 1, (8, 2, 3, 3)).astype(np.float32)),
         init("b2", rng.uniform(-1, 1, 8).astype(np.float32)),
         init("w3", rng.uniform(-1, 1, (8, 1, 3, 3)).astype(np.float32)),
         init("idx0", np.array(0, dtype=np.int64)),
         init("axes0", np.array([0], dtype=np.int64)),
         init("minus1", np.array([-1], dtype=np.int64))]
inits += bn_params("bn1", 8) + bn_params("bn2", 8) + bn_params("bn3", 8)
nodes = [
    helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
    helper.make_node("BatchNormalization", ["c1", "bn1_g", "bn1_b", "bn1_m", "bn1_v"], ["n1"], epsilon=1e-3),
    helper.make_node("Relu", ["n1"], ["r1"]),
    helper.make_node("Identity", ["r1"], ["i1"]),
    helper.make_node("Conv", ["i1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=4),
    helper.make_node("BatchNormalization", ["c2", "bn2_g", "bn2_b", "bn2_m", "bn2_v"], ["n2"]),
    helper.make_node("Dropout", ["n2"], ["d2"]),
    helper.make_node("Add", ["d2", "r1"], ["a2"]),
    # depthwise conv whose output is also read by a Sigmoid: BN3 must stay
    helper.make_node("Conv", ["a2", "w3"], ["c3"], pads=[1, 1, 1, 1], group=8),
    helper.make_node("BatchNormalization", ["c3", "bn3_g", "bn3_b", "bn3_m", "bn3_v"], ["n3"]),
    helper.make_node("Sigmoid", ["c3"], ["s3"]),
    helper.make_node("Mul", ["n3", "s3"], ["m3"]),
    helper.make_node("Shape", ["m3"], ["shp"]),
    helper.make_node("Gather", ["shp", "idx0"], ["b0"], axis=0),
    helper.make_node("Unsqueeze", ["b0", "axes0"], ["b1"]),
    helper.make_node("Concat", ["b1", "minus1"], ["newshape"], axis=0),
    helper.make_node("Reshape", ["m3", "newshape"], ["y"]),
    helper.make_node("Neg", ["r1"], ["dangling"]),
]
graph = helper.make_graph(
    nodes, "passes_cnn",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 9, 10])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "flat"])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
)PY";

class PassesOnnxTest : public ::testing::TestWithParam<bool> {};

TEST_P(PassesOnnxTest, SmallCnnOutputsUnchanged) {
  const bool static_shapes = GetParam();
  const fs::path dir = fs::path(SLIMRT_BINARY_DIR) / ("passes_fixture." + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string script = (dir / "make.py").string();
  const std::string model = (dir / "cnn.onnx").string();
  std::ofstream(script) << kScript;
  const std::string cmd = std::string(SLIMRT_PYTHON) + " " + script + " " + model;
  const int rc = std::system(cmd.c_str());
  if (rc != 0) fs::remove_all(dir);
  ASSERT_EQ(rc, 0) << cmd;

  ImportOptions io;
  if (static_shapes) io.input_shapes = {{"x", {2, 3, 9, 10}}};
  Result<Graph> g = import_onnx_file(model, io);
  fs::remove_all(dir);
  ASSERT_TRUE(g.ok()) << g.status().to_string();

  auto rng = testing::make_rng(static_shapes ? 1 : 2);
  const std::vector<NamedTensor> inputs = {{"x", testing::random_tensor(DataType::kFloat32, {2, 3, 9, 10}, rng)}};
  auto run = [&]() {
    auto be = create_backend("cpu");
    auto exe = (*be)->prepare(*g);
    EXPECT_TRUE(exe.ok()) << exe.status().to_string();
    std::vector<NamedTensor> outs;
    RunOptions opts;
    opts.poison_outputs = true;
    Status s = (*exe)->run(inputs, &outs, opts);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return outs;
  };
  const std::vector<NamedTensor> before = run();
  const size_t nodes_before = g->num_nodes();
  PassReport report;
  Status s = run_passes(*g, PassOptions{}, &report);
  ASSERT_TRUE(s.ok()) << s.to_string();
  const std::vector<NamedTensor> after = run();
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].name, "y");
  EXPECT_LT(testing::rel_l2(after[0].tensor, before[0].tensor), 1e-6);

  size_t bn = 0;
  size_t shape_ops = 0;
  for (const Node* n : g->nodes()) {
    bn += n->op_type() == "BatchNormalization";
    shape_ops += n->op_type() == "Shape";
    EXPECT_NE(n->op_type(), "Identity");
    EXPECT_NE(n->op_type(), "Dropout");
    EXPECT_NE(n->op_type(), "Neg");
  }
  EXPECT_EQ(bn, 1u) << report.to_string();  // bn3 stays: its Conv output has a second user
  EXPECT_EQ(shape_ops, static_shapes ? 0u : 1u) << report.to_string();
  std::printf("small cnn (%s): %zu -> %zu nodes\n%s", static_shapes ? "static" : "dynamic", nodes_before,
              g->num_nodes(), report.to_string().c_str());
}

INSTANTIATE_TEST_SUITE_P(Shapes, PassesOnnxTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Static" : "Dynamic");
                         });

}  // namespace
}  // namespace slimrt
