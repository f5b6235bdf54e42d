// Values that depend only on the input shapes resolve at build time (issue 13, item 15): shape
// subgraphs that symbolic shape inference cannot express (Mod, a 2-D Reshape/Slice/Transpose of
// pads as PyTorch exports F.pad, floor division, Where/Equal, Range, Min, Ceil) are evaluated per
// profile once the profile fixes the dims they read; planned sizes equal the sizes a run
// produces, and outputs equal an independent reference. A range over a dim such a subgraph
// reads is refused, naming the value, its node and the varying dims.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include "slimrt/backend.h"
#include "slimrt/builder/builder.h"
#include "slimrt/graph.h"
#include "slimrt/memory_plan.h"
#include "slimrt/npy.h"
#include "support/cli_runner.h"
#include "support/model_cache.h"
#include "support/test_util.h"

namespace slimrt {
namespace {

namespace fs = std::filesystem;

using testing::make_rng;
using testing::random_tensor;

constexpr int64_t kWindow = 7;
constexpr int64_t kChannels = 4;

Tensor i64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>(DataType::kInt64, {n}, v);
}
Tensor scalar_i64(int64_t v) { return Tensor::from_vector<int64_t>(DataType::kInt64, {}, {v}); }

class Builder {
 public:
  Graph g;
  Value* node(const std::string& op, std::vector<Value*> in, std::vector<std::pair<std::string, Attribute>> attrs = {}) {
    Node* n = g.add_node(op, op + "_" + std::to_string(count_++), in, 1);
    for (auto& [k, v] : attrs) n->set_attr(k, v);
    return n->output(0);
  }
  Value* ints(std::vector<int64_t> v) { return g.add_initializer("c" + std::to_string(count_++), i64(std::move(v))); }
  Value* scalar(int64_t v) { return g.add_initializer("c" + std::to_string(count_++), scalar_i64(v)); }
  Value* unsq(Value* v) { return node("Unsqueeze", {v, ints({0})}); }

 private:
  int count_ = 0;
};

// Swin's window attention, as PyTorch 1.13 exports it: pads (7 - H % 7) % 7 and (7 - W % 7) % 7
// from Shape(x), through torch's F.pad lowering (Concat, ConstantOfShape, a [-1, 2] Reshape, a
// reversing Slice, Transpose, Reshape, Cast), then the window partition: Reshape to
// [N, Hp/7, 7, Wp/7, 7, C] with Div of the padded shape, Transpose, Reshape [-1, 49, C]; y = 2 * that.
// x is [N, H, W, C] with `h` and `w` its declared H and W (symbols or numbers).
Graph window_graph(const Dim& h, const Dim& w) {
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), h, w, Dim(kChannels)});
  Value* s = b.node("Shape", {x});
  auto pad_of = [&](int64_t axis) {
    Value* d = b.node("Gather", {s, b.scalar(axis)}, {{"axis", int64_t{0}}});
    Value* rem = b.node("Mod", {d, b.scalar(kWindow)});
    return b.node("Mod", {b.node("Sub", {b.scalar(kWindow), rem}), b.scalar(kWindow)});
  };
  Value* pad_b = pad_of(1);
  Value* pad_r = pad_of(2);
  Value* p6 = b.node("Concat", {b.ints({0}), b.ints({0}), b.ints({0}), b.unsq(pad_r), b.ints({0}), b.unsq(pad_b)},
                     {{"axis", int64_t{0}}});
  Value* rest = b.node("Sub", {b.ints({8}), b.node("Shape", {p6})});
  Tensor zero = Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {0});
  Value* zeros = b.node("ConstantOfShape", {rest}, {{"value", zero}});
  Value* p8 = b.node("Concat", {p6, zeros}, {{"axis", int64_t{0}}});
  Value* pairs = b.node("Reshape", {p8, b.ints({-1, 2})});
  Value* reversed = b.node("Slice", {pairs, b.ints({-1}), b.ints({-std::numeric_limits<int64_t>::max()}), b.ints({0}),
                                     b.ints({-1})});
  Value* t = b.node("Transpose", {reversed}, {{"perm", std::vector<int64_t>{1, 0}}});
  Value* pads = b.node("Cast", {b.node("Reshape", {t, b.ints({-1})})}, {{"to", static_cast<int64_t>(DataType::kInt64)}});
  Value* xp = b.node("Pad", {x, pads}, {{"mode", std::string("constant")}});

  Value* sp = b.node("Shape", {xp});
  Value* n = b.node("Gather", {sp, b.scalar(0)}, {{"axis", int64_t{0}}});
  Value* nh = b.node("Div", {b.node("Gather", {sp, b.scalar(1)}, {{"axis", int64_t{0}}}), b.scalar(kWindow)});
  Value* nw = b.node("Div", {b.node("Gather", {sp, b.scalar(2)}, {{"axis", int64_t{0}}}), b.scalar(kWindow)});
  Value* shape6 = b.node("Concat", {b.unsq(n), b.unsq(nh), b.ints({kWindow}), b.unsq(nw), b.ints({kWindow}),
                                    b.ints({kChannels})}, {{"axis", int64_t{0}}});
  Value* windows = b.node("Reshape", {xp, shape6});
  Value* moved = b.node("Transpose", {windows}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4, 5}}});
  Value* flat = b.node("Reshape", {moved, b.ints({-1, kWindow * kWindow, kChannels})});
  Value* two = b.g.add_initializer("two", Tensor::from_vector<float>(DataType::kFloat32, {}, {2.0f}));
  Node* y = b.g.add_node("Mul", "scale", {flat, two}, 1, {"y"});
  b.g.add_output(y->output(0));
  return std::move(b.g);
}

// The same windows computed directly from x: y[(n*nH + i)*nW + j, r*7 + c, ch] = 2 * xp[n, i*7+r, j*7+c, ch].
std::vector<float> window_reference(const Tensor& x) {
  const int64_t N = x.shape()[0], H = x.shape()[1], W = x.shape()[2], C = x.shape()[3];
  const int64_t nh = (H + kWindow - 1) / kWindow, nw = (W + kWindow - 1) / kWindow;
  std::vector<float> y(static_cast<size_t>(N * nh * nw * kWindow * kWindow * C));
  const float* xd = x.data<float>();
  size_t k = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < nh; ++i)
      for (int64_t j = 0; j < nw; ++j)
        for (int64_t r = 0; r < kWindow; ++r)
          for (int64_t c = 0; c < kWindow; ++c)
            for (int64_t ch = 0; ch < C; ++ch) {
              const int64_t hh = i * kWindow + r, ww = j * kWindow + c;
              y[k++] = hh < H && ww < W ? 2.0f * xd[((n * H + hh) * W + ww) * C + ch] : 0.0f;
            }
  return y;
}

Status infer(Graph& g) {
  std::unique_ptr<ConstantEvaluator> eval = make_cpu_constant_evaluator();
  ShapeInferenceOptions so;
  so.evaluator = eval.get();
  return infer_shapes(g, so);
}

// Plans `g` for one profile of x; returns y's planned bytes.
Result<int64_t> plan_y(const Graph& g, std::vector<int64_t> min, std::vector<int64_t> max) {
  std::vector<OptimizationProfile> profiles = {{{{"x", min, max, max}}}};
  SLIMRT_ASSIGN_OR_RETURN(auto bindings, resolve_profiles(g, &profiles));
  SLIMRT_ASSIGN_OR_RETURN(ActivationPlan plan, plan_profile_activations(g, profiles[0], bindings[0]));
  const ActivationBuffer* y = plan.find("y");
  if (!y) return internal_error("y is not planned");
  return y->size;
}

void run_and_compare(const Graph& g, const std::vector<int64_t>& x_shape) {
  auto rng = make_rng(static_cast<uint64_t>(x_shape[0] * 1000 + x_shape[1] * 10 + x_shape[2]));
  Tensor x = random_tensor(DataType::kFloat32, x_shape, rng);
  auto backend = create_backend("cpu");
  ASSERT_TRUE(backend.ok());
  auto exe = backend.value()->prepare(g);
  ASSERT_TRUE(exe.ok()) << exe.status().to_string();
  std::vector<NamedTensor> outs;
  RunOptions opts;
  opts.poison_outputs = true;
  ASSERT_TRUE(exe.value()->run({{"x", x}}, &outs, opts).ok());
  const std::vector<float> want = window_reference(x);
  ASSERT_EQ(outs[0].tensor.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(outs[0].tensor.data<float>()[i], want[i]) << i;
}

int64_t window_bytes(int64_t n, int64_t h, int64_t w) {
  return n * ((h + kWindow - 1) / kWindow) * ((w + kWindow - 1) / kWindow) * kWindow * kWindow * kChannels * 4;
}

TEST(ShapeValues, PadFromShapeArithmeticResolvesForAFixedProfile) {
  Graph g = window_graph(Dim::symbol("h"), Dim::symbol("w"));
  ASSERT_TRUE(infer(g).ok());
  // Symbolic inference alone cannot size the padded map (the precondition of this test).
  const Value* y = g.find_value("y");
  ASSERT_TRUE(y->has_shape());
  EXPECT_FALSE(plan_activations(g, {{"batch", 2}, {"h", 20}, {"w", 30}}).ok()) << shape_to_string(y->shape());
  for (auto [h, w] : {std::pair<int64_t, int64_t>{20, 30}, {14, 7}, {1, 13}}) {
    Result<int64_t> bytes = plan_y(g, {2, h, w, kChannels}, {2, h, w, kChannels});
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
    EXPECT_EQ(*bytes, window_bytes(2, h, w)) << h << "x" << w;
    run_and_compare(g, {2, h, w, kChannels});
  }
}

// With H and W static, the pads resolve symbolically at import (Mod of numbers, the 2-D
// Reshape/Slice/Transpose carrying their values): every shape is in `batch`, and the plan needs
// no per-profile walk.
TEST(ShapeValues, PadsOfStaticDimsResolveSymbolically) {
  Graph g = window_graph(Dim(20), Dim(30));
  ASSERT_TRUE(infer(g).ok());
  const Value* y = g.find_value("y");
  ASSERT_TRUE(y->has_shape());
  EXPECT_EQ(shape_to_string(y->shape()), "[15*batch,49,4]");
  for (const Node* n : g.nodes()) {
    if (n->op_type() != "Pad") continue;
    EXPECT_EQ(shape_to_string(n->output(0)->shape()), "[batch,21,35,4]");
    ASSERT_NE(n->input(1)->known_value(), nullptr);
    EXPECT_EQ(shape_to_string(*n->input(1)->known_value()), "[0,0,0,0,0,1,5,0]");
  }
  auto plan = plan_activations(g, {{"batch", 3}});
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  EXPECT_EQ(plan->find("y")->size, window_bytes(3, 20, 30));
}

// Mod of shape values: numbers with both sign conventions, and polynomials whose symbolic terms
// are multiples of the divisor.
TEST(ShapeValues, ModOfShapeValues) {
  struct Case {
    Dim x;
    int64_t y, fmod;
    std::optional<int64_t> want;
  };
  const Dim h = Dim::symbol("h");
  for (const Case& c : {Case{Dim(56), 7, 0, 0}, Case{Dim(-7), 3, 0, 2}, Case{Dim(-7), 3, 1, -1}, Case{Dim(7), -3, 0, -2},
                        Case{Dim(7), -3, 1, 1}, Case{h * Dim(4) + Dim(2), 4, 0, 2}, Case{h * Dim(8) - Dim(1), 4, 0, 3},
                        Case{h, 7, 0, std::nullopt}, Case{h * Dim(4), 4, 1, std::nullopt}, Case{Dim(5), 0, 0, std::nullopt}}) {
    Builder b;
    Value* x = b.g.add_input("x", DataType::kFloat32, Shape{h});
    Value* s = b.node("Gather", {b.node("Shape", {x}), b.scalar(0)}, {{"axis", int64_t{0}}});
    // x0 = c.x as a shape value: (Shape(x)[0] - h) + c.x.
    Value* zero = b.node("Sub", {s, s});
    Value* terms = zero;
    for (const Dim::Term& t : c.x.terms()) {
      Value* term = b.scalar(t.coeff);
      if (!t.factors.empty()) term = b.node("Mul", {term, s});
      terms = b.node("Add", {terms, term});
    }
    Value* m = b.node("Mod", {terms, b.scalar(c.y)}, {{"fmod", c.fmod}});
    ASSERT_TRUE(infer(b.g).ok());
    const std::string label = c.x.to_string() + " mod " + std::to_string(c.y) + " fmod=" + std::to_string(c.fmod);
    if (!c.want) {
      EXPECT_TRUE(m->known_value() == nullptr || !(*m->known_value())[0].is_static()) << label;
      continue;
    }
    ASSERT_NE(m->known_value(), nullptr) << label;
    EXPECT_EQ((*m->known_value())[0], Dim(*c.want)) << label;
    if (c.x.is_static()) {  // the kernel agrees
      std::unique_ptr<ConstantEvaluator> eval = make_cpu_constant_evaluator();
      Tensor xa = scalar_i64(*c.x.value()), ya = scalar_i64(c.y);
      auto r = eval->evaluate(*m->producer(), {&xa, &ya});
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ((*r)[0].get_as_int64(0), *c.want) << label;
    }
  }
}

TEST(ShapeValues, RangeOverDimsTheSubgraphDoesNotReadPlansAtTheMax) {
  // H and W static in the model, batch ranging: the pads depend on H and W only.
  Graph g = window_graph(Dim(20), Dim(30));
  ASSERT_TRUE(infer(g).ok());
  Result<int64_t> bytes = plan_y(g, {1, 20, 30, kChannels}, {6, 20, 30, kChannels});
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(*bytes, window_bytes(6, 20, 30));
  run_and_compare(g, {3, 20, 30, kChannels});
  // The same with symbolic H and W that the profile fixes while batch ranges.
  Graph s = window_graph(Dim::symbol("h"), Dim::symbol("w"));
  ASSERT_TRUE(infer(s).ok());
  bytes = plan_y(s, {1, 15, 16, kChannels}, {4, 15, 16, kChannels});
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  EXPECT_EQ(*bytes, window_bytes(4, 15, 16));
}

TEST(ShapeValues, RangeOverADimTheSubgraphReadsNamesTheValue) {
  Graph g = window_graph(Dim::symbol("h"), Dim::symbol("w"));
  ASSERT_TRUE(infer(g).ok());
  Result<int64_t> bytes = plan_y(g, {1, 14, 16, kChannels}, {2, 28, 16, kChannels});
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kUnsupported);
  const std::string m = bytes.status().message();
  for (const char* want : {"(Pad)", "'x' dim 0 (1..2), 'x' dim 1 (14..28)", "--min = --opt = --max"})
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
  EXPECT_EQ(m.find("'x' dim 2"), std::string::npos) << m;
}

// Where/Equal, Range, Min, Ceil of a float division and ConstantOfShape/Expand, sized from the
// input's shape: z = Gather(x, Range(0, min(H, 5)), axis 1) + Expand(ConstantOfShape([1]), ...),
// and k = ConstantOfShape([ceil(W / 4) or 1 when W == 8]).
TEST(ShapeValues, MixedShapeOpsResolvePerProfile) {
  Builder b;
  Value* x = b.g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("h"), Dim::symbol("w")});
  Value* s = b.node("Shape", {x});
  Value* h = b.node("Gather", {s, b.scalar(1)}, {{"axis", int64_t{0}}});
  Value* w = b.node("Gather", {s, b.scalar(2)}, {{"axis", int64_t{0}}});
  Value* rows = b.node("Range", {b.scalar(0), b.node("Min", {h, b.scalar(5)}), b.scalar(1)});
  Value* picked = b.node("Gather", {x, rows}, {{"axis", int64_t{1}}});
  Value* wf = b.node("Cast", {w}, {{"to", static_cast<int64_t>(DataType::kFloat32)}});
  Value* four = b.g.add_initializer("four", Tensor::from_vector<float>(DataType::kFloat32, {}, {4.0f}));
  Value* blocks = b.node("Cast", {b.node("Ceil", {b.node("Div", {wf, four})})}, {{"to", static_cast<int64_t>(DataType::kInt64)}});
  Value* count = b.node("Where", {b.node("Equal", {w, b.scalar(8)}), b.scalar(1), blocks});
  Tensor one = Tensor::from_vector<float>(DataType::kFloat32, {1}, {1.0f});
  Node* k = b.g.add_node("ConstantOfShape", "k", {b.unsq(count)}, 1, {"k"});
  k->set_attr("value", one);
  Node* z = b.g.add_node("Add", "z", {picked, b.node("Expand", {b.node("ConstantOfShape", {b.ints({1})}, {{"value", one}}), b.node("Shape", {picked})})}, 1, {"z"});
  b.g.add_output(z->output(0));
  b.g.add_output(k->output(0));
  ASSERT_TRUE(infer(b.g).ok());
  for (auto [hh, ww] : {std::pair<int64_t, int64_t>{3, 8}, {9, 13}}) {
    std::vector<OptimizationProfile> profiles = {{{{"x", {2, hh, ww}, {2, hh, ww}, {2, hh, ww}}}}};
    auto bindings = resolve_profiles(b.g, &profiles);
    ASSERT_TRUE(bindings.ok());
    auto plan = plan_profile_activations(b.g, profiles[0], (*bindings)[0]);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    const int64_t want_rows = std::min<int64_t>(hh, 5);
    const int64_t want_k = ww == 8 ? 1 : (ww + 3) / 4;
    EXPECT_EQ(plan->find("z")->size, 2 * want_rows * ww * 4);
    EXPECT_EQ(plan->find("k")->size, want_k * 4);
    // A run produces exactly those sizes.
    auto rng = make_rng(static_cast<uint64_t>(hh));
    Tensor xt = random_tensor(DataType::kFloat32, {2, hh, ww}, rng);
    auto backend = create_backend("cpu");
    ASSERT_TRUE(backend.ok());
    auto exe = backend.value()->prepare(b.g);
    ASSERT_TRUE(exe.ok()) << exe.status().to_string();
    std::vector<NamedTensor> outs;
    ASSERT_TRUE(exe.value()->run({{"x", xt}}, &outs).ok());
    EXPECT_EQ(outs[0].tensor.shape(), (std::vector<int64_t>{2, want_rows, ww}));
    EXPECT_EQ(outs[1].tensor.shape(), (std::vector<int64_t>{want_k}));
    for (int64_t i = 0; i < outs[0].tensor.numel(); ++i) {
      const int64_t col = i % ww, row = (i / ww) % want_rows, n = i / (ww * want_rows);
      ASSERT_EQ(outs[0].tensor.data<float>()[i], xt.data<float>()[(n * hh + row) * ww + col] + 1.0f);
    }
  }
}

// The user's path: the window pattern as an ONNX file (written with the onnx package the way
// PyTorch exports it), built by `slimrt build` with a fixed profile and with a batch range, and
// run as an engine: the outputs equal the ONNX model's on the same random input.
constexpr const char* kWindowScript = R"PY(
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper
out = sys.argv[1]
I = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)
inits = [I("one", 1), I("two_i", 2), I("win", 7), I("zero1", [0]), I("eight", [8]), I("m1_2", [-1, 2]),
         I("m1", [-1]), I("big", [-9223372036854775807]), I("ax0", [0]), I("win1", [7]), I("c1", [4]),
         I("shape3", [-1, 49, 4]), numpy_helper.from_array(np.array(2.0, dtype=np.float32), "twof")]
N = helper.make_node
nodes = [N("Shape", ["x"], ["s"]),
         N("Gather", ["s", "one"], ["h"], axis=0), N("Gather", ["s", "two_i"], ["w"], axis=0),
         N("Mod", ["h", "win"], ["hm"]), N("Sub", ["win", "hm"], ["hs"]), N("Mod", ["hs", "win"], ["pb"]),
         N("Mod", ["w", "win"], ["wm"]), N("Sub", ["win", "wm"], ["ws"]), N("Mod", ["ws", "win"], ["pr"]),
         N("Unsqueeze", ["pb", "ax0"], ["pb1"]), N("Unsqueeze", ["pr", "ax0"], ["pr1"]),
         N("Concat", ["zero1", "zero1", "zero1", "pr1", "zero1", "pb1"], ["p6"], axis=0),
         N("Shape", ["p6"], ["p6s"]), N("Sub", ["eight", "p6s"], ["rest"]),
         N("ConstantOfShape", ["rest"], ["zeros"], value=numpy_helper.from_array(np.array([0], dtype=np.int64))),
         N("Concat", ["p6", "zeros"], ["p8"], axis=0), N("Reshape", ["p8", "m1_2"], ["pairs"]),
         N("Slice", ["pairs", "m1", "big", "ax0", "m1"], ["rev"]), N("Transpose", ["rev"], ["t"], perm=[1, 0]),
         N("Reshape", ["t", "m1"], ["flatpads"]), N("Cast", ["flatpads"], ["pads"], to=TensorProto.INT64),
         N("Pad", ["x", "pads"], ["xp"], mode="constant"),
         N("Shape", ["xp"], ["sp"]), N("Gather", ["sp", "ax0"], ["n1"], axis=0),
         N("Gather", ["sp", "one"], ["hp"], axis=0), N("Gather", ["sp", "two_i"], ["wp"], axis=0),
         N("Div", ["hp", "win"], ["nh"]), N("Div", ["wp", "win"], ["nw"]),
         N("Unsqueeze", ["nh", "ax0"], ["nh1"]), N("Unsqueeze", ["nw", "ax0"], ["nw1"]),
         N("Concat", ["n1", "nh1", "win1", "nw1", "win1", "c1"], ["shape6"], axis=0),
         N("Reshape", ["xp", "shape6"], ["windows"]), N("Transpose", ["windows"], ["moved"], perm=[0, 1, 3, 2, 4, 5]),
         N("Reshape", ["moved", "shape3"], ["flat"]), N("Mul", ["flat", "twof"], ["y"])]
g = helper.make_graph(nodes, "windows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "h", "w", 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
with open(out, "wb") as f:
    f.write(m.SerializeToString())
)PY";

TEST(ShapeValues, WindowPatternBuildsAndRunsFromTheCli) {
  const std::string dir = std::string(SLIMRT_BINARY_DIR) + "/test_tmp/shape_values_" + std::to_string(getpid());
  fs::create_directories(dir);
  std::ofstream(dir + "/make.py") << kWindowScript;
  const std::string model = dir + "/windows.onnx";
  const std::string cmd = std::string(SLIMRT_PYTHON) + " " + dir + "/make.py " + model + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto cli = [](const std::string& args) { return testing::run_cli(SLIMRT_CLI_PATH, args); };
  struct Case {
    std::string profile, shapes;
    int64_t rows;
  };
  for (const Case& c : {Case{"--min x:2x20x30x4 --opt x:2x20x30x4 --max x:2x20x30x4", "x:2x20x30x4", 2 * 3 * 5},
                        Case{"--min x:1x15x16x4 --opt x:2x15x16x4 --max x:5x15x16x4", "x:4x15x16x4", 4 * 3 * 3}}) {
    const std::string engine = dir + "/windows.engine";
    testing::CliResult built = cli("build " + model + " -o " + engine + " " + c.profile);
    ASSERT_EQ(built.exit_code, 0) << built.output;
    testing::CliResult a = cli("run " + engine + " --backend cpu --seed 9 --shapes " + c.shapes + " --output-dir " + dir + "/e");
    ASSERT_EQ(a.exit_code, 0) << a.output;
    testing::CliResult b = cli("run " + model + " --backend cpu --seed 9 --shapes " + c.shapes + " --output-dir " + dir + "/o");
    ASSERT_EQ(b.exit_code, 0) << b.output;
    Result<Tensor> ye = read_npy(dir + "/e/y.npy"), yo = read_npy(dir + "/o/y.npy");
    ASSERT_TRUE(ye.ok() && yo.ok());
    EXPECT_EQ(ye->shape(), (std::vector<int64_t>{c.rows, 49, 4}));
    ASSERT_EQ(ye->shape(), yo->shape());
    EXPECT_EQ(testing::max_abs_diff(*ye, *yo), 0.0);
    bool any_nonzero = false;
    for (int64_t i = 0; i < ye->numel(); ++i) any_nonzero = any_nonzero || ye->data<float>()[i] != 0.0f;
    EXPECT_TRUE(any_nonzero);
  }
  // A range over H: exit 2 naming the Pad and what to change.
  testing::CliResult range = cli("build " + model + " -o " + dir + "/r.engine --min x:1x14x16x4 --opt x:1x14x16x4 --max x:1x28x16x4");
  EXPECT_EQ(range.exit_code, 2) << range.output;
  EXPECT_NE(range.output.find("'x' dim 1 (14..28)"), std::string::npos) << range.output;
  EXPECT_NE(range.output.find("--min = --opt = --max"), std::string::npos) << range.output;
  fs::remove_all(dir);
}

// Swin-T as Debian's PyTorch 1.13 exports it (scripts/export_models.py), built by `slimrt build`
// with a batch range (its pads read H and W, which the profile fixes) and run as an fp32 engine on
// the recorded input: PyTorch's recorded output. ctest's swin_t_engine runs this after the export
// (SLIMRT_REQUIRE_MODELS: a missing model fails); elsewhere it skips without the model cache.
TEST(ShapeValues, SwinTBuildsWithABatchRangeAndMatchesPyTorch) {
  const std::string dir = testing::model_cache() + "/swin_t";
  if (testing::model_cache().empty() || !fs::exists(dir + "/model.onnx")) {
    if (std::getenv("SLIMRT_REQUIRE_MODELS")) FAIL() << "no " << dir << "/model.onnx";
    GTEST_SKIP() << "no " << dir << "/model.onnx (scripts/export_models.py --models swin_t)";
  }
  const std::string tmp = std::string(SLIMRT_BINARY_DIR) + "/test_tmp/swin_t_" + std::to_string(getpid());
  fs::create_directories(tmp);
  auto cli = [](const std::string& args) { return testing::run_cli(SLIMRT_CLI_PATH, args); };
  const std::string engine = tmp + "/swin_t.engine";
  testing::CliResult built = cli("build " + dir + "/model.onnx -o " + engine +
                                 " --min input:1x3x224x224 --opt input:2x3x224x224 --max input:4x3x224x224");
  ASSERT_EQ(built.exit_code, 0) << built.output;
  testing::CliResult run = cli("run " + engine + " --backend cpu --input input=" + dir + "/input_input.npy --output-dir " + tmp);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  Result<Tensor> got = read_npy(tmp + "/output.npy"), want = read_npy(dir + "/output_0.npy");
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->shape(), want->shape());
  EXPECT_LT(testing::rel_l2(*got, *want), 1e-4);
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace slimrt
