// Builds that scale (issue 13). The one-pass topological sort against the sweep-by-sweep order it
// replaced, element-wise fusion and the planner on long chains, and a 20,000-node model through
// the whole build pipeline (import, every pass, fp32 and fp16 with
// the precision and channels-last passes, planning, writing): the path that used to grow
// quadratically stays exercised. Not a timing test (scripts/build_scaling.py measures the
// curve); it checks that the build succeeds and the layers are what the passes should make.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ir/elementwise_program.h"
#include "slimrt/builder/builder.h"
#include "slimrt/builder/passes.h"
#include "slimrt/engine_format.h"
#include "slimrt/memory_plan.h"
#include "slimrt/stream_reader.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

constexpr int kBlocks = 3600;  // 5 nodes each
constexpr int kRelus = 2000;   // then a plain chain

// Block i: x = Mul(Relu(MatMul(x, W_i) + b_i) + x, s_i): epilogue fusion makes the first four one
// FusedMatMul (bias, Relu, residual); the Mul stays alone (its producer is not element-wise and
// two nodes read it). Then kRelus Relus: element-wise fusion fuses the last block's Mul and the
// first 31 Relus (kMaxEwOps = 32 ops) into one node and keeps the rest, whose chains are too
// long. (The same model with 50 blocks and 100 Relus built by the quadratic passes gave the same
// layer counts.)
constexpr const char* kScript = R"PY(
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

blocks, relus = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(13)
nodes, inits = [], []
def init(name, arr):
    inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
    return name
x = "x"
for i in range(blocks):
    y = f"mm{i}"
    nodes.append(helper.make_node("MatMul", [x, init(f"w{i}", rng.standard_normal((8, 8)) * 0.3)], [y]))
    nodes.append(helper.make_node("Add", [y, init(f"b{i}", rng.standard_normal(8) * 0.1)], [f"ab{i}"]))
    nodes.append(helper.make_node("Relu", [f"ab{i}"], [f"r{i}"]))
    nodes.append(helper.make_node("Add", [f"r{i}", x], [f"res{i}"]))
    nodes.append(helper.make_node("Mul", [f"res{i}", init(f"s{i}", 0.5 + rng.random(8) * 0.1)], [f"x{i}"]))
    x = f"x{i}"
for i in range(relus):
    nodes.append(helper.make_node("Relu", [x], [f"relu{i}"]))
    x = f"relu{i}"
graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [4, 8])], inits)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
)PY";

// The order the sweep-by-sweep sort gave: repeated passes over the list, each placing the nodes
// whose inputs are ready at that moment; the nodes never placed last, in list order.
std::vector<std::string> sweep_order(const Graph& g) {
  std::set<const Value*> ready;
  for (const Value* v : g.values()) {
    if (!v->producer()) ready.insert(v);
  }
  std::vector<Node*> pending = g.nodes(), sorted;
  bool progress = true;
  while (!pending.empty() && progress) {
    progress = false;
    std::vector<Node*> still;
    for (Node* n : pending) {
      const bool ok = std::all_of(n->inputs().begin(), n->inputs().end(),
                                  [&](const Value* in) { return !in || ready.count(in); });
      if (ok) {
        for (const Value* out : n->outputs()) ready.insert(out);
        sorted.push_back(n);
        progress = true;
      } else {
        still.push_back(n);
      }
    }
    pending = std::move(still);
  }
  sorted.insert(sorted.end(), pending.begin(), pending.end());
  std::vector<std::string> names;
  for (const Node* n : sorted) names.push_back(n->name());
  return names;
}

std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> names;
  for (const Node* n : g.nodes()) names.push_back(n->name());
  return names;
}

TEST(BuildScaling, TopologicalSortKeepsTheSweepOrder) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    SCOPED_TRACE(trial);
    // A random DAG (each node reads up to 3 earlier values), its nodes added in a shuffled order,
    // some of them removed again (holes in the node list).
    const int n = 5 + trial * 7;
    std::vector<std::vector<int>> reads(n);
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(rng() % 4);
      for (int j = 0; j < k; ++j) reads[i].push_back(static_cast<int>(rng() % (i + 1)) - 1);  // -1: the input
    }
    std::vector<int> perm(n);
    for (int i = 0; i < n; ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    Graph g;
    Value* x = g.add_input("x", DataType::kFloat32, Shape{2});
    std::vector<Value*> out(n, nullptr);
    std::vector<Node*> node(n, nullptr);
    for (int i = 0; i < n; ++i) out[i] = g.add_value("v" + std::to_string(i));
    // Nodes are created in the shuffled order; each writes its own pre-made value through an
    // Identity-like Add fed by its reads (the values are wired afterwards).
    for (int i : perm) {
      std::vector<Value*> ins;
      for (int r : reads[i]) ins.push_back(r < 0 ? x : nullptr);
      node[i] = g.add_node("Sum", "n" + std::to_string(i), ins, 1);
    }
    for (int i = 0; i < n; ++i) {
      for (size_t k = 0; k < reads[i].size(); ++k) {
        if (reads[i][k] >= 0) g.set_node_input(node[i], k, node[reads[i][k]]->output(0));
      }
    }
    // A few dead leaves removed: holes in the list.
    for (int i = n - 1; i >= 0 && i > n - 4; --i) {
      if (!node[i]->output(0)->consumers().empty()) continue;
      ASSERT_TRUE(g.remove_node(node[i]).ok());
    }
    const std::vector<std::string> want = sweep_order(g);
    ASSERT_TRUE(g.topological_sort().ok());
    EXPECT_EQ(node_names(g), want);
  }
  // A cycle: the placed nodes first, the rest in list order; the error names the first of them.
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{2});
  Node* a = g.add_node("Add", "a", {x, nullptr}, 1);
  Node* b = g.add_node("Relu", "b", {a->output(0)}, 1);
  Node* c = g.add_node("Relu", "c", {x}, 1);
  g.set_node_input(a, 1, b->output(0));
  const std::vector<std::string> want = sweep_order(g);
  Status s = g.topological_sort();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("node 'a'"), std::string::npos) << s.to_string();
  EXPECT_EQ(node_names(g), want);
  EXPECT_EQ(g.nodes().front(), c);
}

TEST(BuildScaling, LongElementwiseChainFusesItsFirstPartAndNotesTheRest) {
  // 3,000 Relus: every sink but the 32nd sees a chain over the op limit (noted with its exact op
  // and input counts); the first 32 fuse. Walking each sink's chain made this quadratic.
  constexpr int kLen = 3000;
  Graph g;
  Value* h = g.add_input("x", DataType::kFloat32, Shape{4});
  for (int i = 0; i < kLen; ++i) h = g.add_node("Relu", "r" + std::to_string(i), {h}, 1)->output(0);
  g.add_output(h);
  ASSERT_TRUE(infer_shapes(g).ok());
  PassStats st;
  ASSERT_TRUE(fuse_elementwise(g, &st).ok());
  EXPECT_EQ(g.num_nodes(), static_cast<size_t>(kLen - kMaxEwOps + 1));
  size_t fused = 0;
  for (const Node* n : g.nodes()) fused += n->op_type() == "FusedElementwise" ? 1 : 0;
  EXPECT_EQ(fused, 1u);
  ASSERT_EQ(st.lines.size(), static_cast<size_t>(kLen - kMaxEwOps + 1));
  EXPECT_EQ(st.lines.front(), "kept a chain of 3000 ops ending at node 'r2999' (Relu): 1 inputs or 3000 ops exceed the limits");
  EXPECT_EQ(st.lines[kLen - kMaxEwOps - 1],
            "kept a chain of 33 ops ending at node 'r32' (Relu): 1 inputs or 33 ops exceed the limits");
}

TEST(BuildScaling, PlannerHandlesLongInPlaceChainsAndManyBuffers) {
  // 100,000 buffers in one in-place chain: one group (its roots used to be walked from every
  // member), planned at the lower bound.
  constexpr int32_t kN = 100000;
  MemoryPlanner chain;
  for (int32_t i = 0; i < kN; ++i) {
    BufferRequest r{.size = 1024, .first_use = i, .last_use = i + 1};
    if (i > 0) r.in_place_of = i - 1;
    chain.add_buffer(r);
  }
  Result<MemoryPlan> p = chain.plan();
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->arena_bytes, 1024);
  EXPECT_EQ(p->refused_in_place, 0);
  // 30,000 buffers of mixed sizes with short lifetimes plus a few long ones (the lower bound is
  // out of reach, so every ordering and the budgeted refinement rounds run): every pair that
  // coexists gets disjoint bytes.
  constexpr int32_t kMixed = 30000;
  MemoryPlanner mixed;
  std::mt19937 rng(3);
  for (int32_t i = 0; i < kMixed; ++i) {
    const int32_t len = i % 5000 == 0 ? 8000 : static_cast<int32_t>(rng() % 4);
    mixed.add_buffer({.size = 256 * (1 + static_cast<int64_t>(rng() % 8)), .first_use = i, .last_use = i + len});
  }
  Result<MemoryPlan> q = mixed.plan();
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  EXPECT_GE(q->arena_bytes, q->lower_bound_bytes);
  for (int32_t i = 0; i < kMixed; ++i) {
    const BufferRequest& a = mixed.request(i);
    for (int32_t j = i + 1; j < kMixed && j <= a.last_use; ++j) {
      const BufferRequest& b = mixed.request(j);
      const bool disjoint = q->offsets[i] + a.size <= q->offsets[j] || q->offsets[j] + b.size <= q->offsets[i];
      ASSERT_TRUE(disjoint) << i << " and " << j;
    }
  }
}

class BuildScalingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path(SLIMRT_BINARY_DIR) / ("build_scaling." + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string script = (dir_ / "make.py").string();
    std::ofstream(script) << kScript;
    const std::string cmd = std::string(SLIMRT_PYTHON) + " " + script + " " + model() + " " + std::to_string(kBlocks) +
                            " " + std::to_string(kRelus);
    made_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string model() { return (dir_ / "chain.onnx").string(); }

  static fs::path dir_;
  static bool made_;
};

fs::path BuildScalingTest::dir_;
bool BuildScalingTest::made_ = false;

TEST_F(BuildScalingTest, TwentyThousandNodeChainBuildsInFp32AndFp16) {
  ASSERT_TRUE(made_) << "could not write the model with " << SLIMRT_PYTHON;
  for (Precision p : {Precision::kFp32, Precision::kFp16}) {
    SCOPED_TRACE(precision_name(p));
    BuildOptions o;
    o.precision = p;
    const std::string engine = (dir_ / "chain.engine").string();
    BuildReport r;
    Status s = build_engine(model(), o, engine, &r);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(r.nodes_imported, 5 * kBlocks + kRelus);
    EXPECT_EQ(r.op_counts["FusedMatMul"], kBlocks);
    EXPECT_EQ(r.op_counts["Mul"], kBlocks - 1);
    EXPECT_EQ(r.op_counts["FusedElementwise"], 1);
    EXPECT_EQ(r.op_counts["Relu"], kRelus - 31);
    // fp16: the input is cast to half once and the output back once.
    const int64_t casts = p == Precision::kFp32 ? 0 : 2;
    EXPECT_EQ(r.op_counts["Cast"], casts);
    EXPECT_EQ(r.layers, 2 * kBlocks - 1 + 1 + (kRelus - 31) + casts);
    ASSERT_EQ(r.memory.size(), 1u);
    EXPECT_GE(r.memory[0].planned_bytes, r.memory[0].lower_bound_bytes);

    Result<std::unique_ptr<StreamReader>> reader = open_file_reader(engine);
    ASSERT_TRUE(reader.ok()) << reader.status().to_string();
    Result<EngineInfo> info = parse_engine(**reader);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(static_cast<int64_t>(info->nodes.size()), r.layers);
  }
}

}  // namespace
}  // namespace slimrt
