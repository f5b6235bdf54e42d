// Tests of the reduction family: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, CumSum,
// TopK, against reference loops written here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::random_tensor;
using testing::rel_l2;
using testing::run_single_op;

Tensor i64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>(DataType::kInt64, {n}, v);
}

std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Reference reduction: groups input elements by their output index (multi-index arithmetic),
// then folds each group with `fold` and maps the result with `finish`.
Tensor ref_reduce(const Tensor& x, std::vector<int64_t> axes, bool keep, bool noop, DataType out_type,
                  const std::function<double(const std::vector<double>&)>& fold) {
  const int64_t r = static_cast<int64_t>(x.rank());
  std::vector<bool> red(static_cast<size_t>(r), axes.empty() && !noop);
  for (int64_t a : axes) red[static_cast<size_t>(a < 0 ? a + r : a)] = true;
  std::vector<int64_t> kept_shape, out_shape;
  for (int64_t d = 0; d < r; ++d) {
    if (!red[static_cast<size_t>(d)]) kept_shape.push_back(x.dim(static_cast<size_t>(d)));
    if (!red[static_cast<size_t>(d)] || keep) out_shape.push_back(red[static_cast<size_t>(d)] ? 1 : x.dim(static_cast<size_t>(d)));
  }
  const int64_t n_out = numel_of(kept_shape);
  std::vector<std::vector<double>> groups(static_cast<size_t>(n_out));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const auto idx = unravel(i, x.shape());
    int64_t o = 0;
    for (int64_t d = 0; d < r; ++d) {
      if (!red[static_cast<size_t>(d)]) o = o * x.dim(static_cast<size_t>(d)) + idx[static_cast<size_t>(d)];
    }
    groups[static_cast<size_t>(o)].push_back(x.get_as_double(i));
  }
  Tensor out = Tensor::allocate(out_type, out_shape).value();
  for (int64_t o = 0; o < n_out; ++o) {
    const double v = fold(groups[static_cast<size_t>(o)]);
    switch (out_type) {
      case DataType::kFloat32: out.data<float>()[o] = static_cast<float>(v); break;
      case DataType::kFloat64: out.data<double>()[o] = v; break;
      case DataType::kInt32: out.data<int32_t>()[o] = static_cast<int32_t>(v); break;
      case DataType::kInt64: out.data<int64_t>()[o] = static_cast<int64_t>(v); break;
      default: ADD_FAILURE() << "type";
    }
  }
  return out;
}

double fold_op(const std::string& op, const std::vector<double>& g) {
  double s = 0;
  if (op == "ReduceSum") { for (double v : g) s += v; return s; }
  if (op == "ReduceMean") { for (double v : g) s += v; return s / static_cast<double>(g.size()); }
  if (op == "ReduceMax") return g.empty() ? -INFINITY : *std::max_element(g.begin(), g.end());
  if (op == "ReduceMin") return g.empty() ? INFINITY : *std::min_element(g.begin(), g.end());
  if (op == "ReduceProd") { s = 1; for (double v : g) s *= v; return s; }
  if (op == "ReduceL1") { for (double v : g) s += std::fabs(v); return s; }
  if (op == "ReduceL2") { for (double v : g) s += v * v; return std::sqrt(s); }
  if (op == "ReduceSumSquare") { for (double v : g) s += v * v; return s; }
  if (op == "ReduceLogSum") { for (double v : g) s += v; return std::log(s); }
  if (op == "ReduceLogSumExp") { for (double v : g) s += std::exp(v); return std::log(s); }
  ADD_FAILURE() << op;
  return 0;
}

const char* kReduceOps[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                            "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"};

TEST(ReductionTest, AllOpsAxesKeepdimsFloat) {
  auto rng = testing::make_rng();
  struct Case {
    std::vector<int64_t> shape;
    std::vector<int64_t> axes;
  };
  const std::vector<Case> cases = {
      {{3, 5, 7}, {1}}, {{3, 5, 7}, {0, 2}}, {{3, 5, 7}, {-1}}, {{3, 5, 7}, {}}, {{2, 3, 4, 5}, {1, 3}},
      {{2, 3, 4, 5}, {-3, -2}}, {{1, 9, 1, 4}, {0, 2}}, {{6}, {0}}, {{4, 1, 3}, {1}}};
  for (const char* op : kReduceOps) {
    for (const Case& c : cases) {
      for (int keep : {0, 1}) {
        // LogSum needs positive sums; the others take any sign.
        const bool positive = std::string(op) == "ReduceLogSum";
        Tensor x = random_tensor(DataType::kFloat32, c.shape, rng, positive ? 0.1 : -1.0, 1.0);
        std::vector<Tensor> ins = {x};
        if (!c.axes.empty()) ins.push_back(i64(c.axes));
        auto r = run_single_op(op, ins, {{"keepdims", int64_t{keep}}}, 1, {1});
        ASSERT_TRUE(r.status.ok()) << r.status.to_string();
        Tensor want = ref_reduce(x, c.axes, keep, false, DataType::kFloat32,
                                 [&](const std::vector<double>& g) { return fold_op(op, g); });
        ASSERT_EQ(r.outputs[0].shape(), want.shape()) << op;
        EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6) << op << " " << shape_to_string(c.shape) << " keep=" << keep;
      }
    }
  }
}

TEST(ReductionTest, DoublePrecisionAndAxesNotConstant) {
  auto rng = testing::make_rng();
  Tensor x = random_tensor(DataType::kFloat64, {4, 6, 5}, rng);
  for (const char* op : {"ReduceSum", "ReduceL2", "ReduceLogSumExp", "ReduceMean"}) {
    // axes fed as a graph input: shape inference sees no value, the kernel sees the data.
    auto r = run_single_op(op, {x, i64({2, 0})}, {{"keepdims", int64_t{1}}});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    Tensor want = ref_reduce(x, {2, 0}, true, false, DataType::kFloat64,
                             [&](const std::vector<double>& g) { return fold_op(op, g); });
    EXPECT_LT(rel_l2(r.outputs[0], want), 1e-13) << op;
  }
}

TEST(ReductionTest, IntegerTypes) {
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kInt32, DataType::kInt64}) {
    Tensor x = random_tensor(t, {3, 4, 5}, rng, -4, 5);
    for (const char* op : {"ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceSumSquare"}) {
      auto r = run_single_op(op, {x, i64({1})}, {{"keepdims", int64_t{0}}}, 1, {1});
      ASSERT_TRUE(r.status.ok()) << r.status.to_string();
      Tensor want = ref_reduce(x, {1}, false, false, t, [&](const std::vector<double>& g) { return fold_op(op, g); });
      EXPECT_EQ(r.outputs[0].dtype(), t);
      EXPECT_EQ(testing::max_abs_diff(r.outputs[0], want), 0.0) << op;
    }
  }
}

TEST(ReductionTest, EmptyAxesAndNoop) {
  auto rng = testing::make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3}, rng);
  // No axes input: reduce everything.
  auto r = run_single_op("ReduceSum", {x}, {{"keepdims", int64_t{0}}});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_TRUE(r.outputs[0].shape().empty());
  // An empty axes tensor with noop: the identity (ReduceSumSquare squares each element).
  auto n = run_single_op("ReduceSumSquare", {x, i64({})}, {{"noop_with_empty_axes", int64_t{1}}}, 1, {1});
  ASSERT_TRUE(n.status.ok()) << n.status.to_string();
  ASSERT_EQ(n.outputs[0].shape(), x.shape());
  for (int64_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(n.outputs[0].data<float>()[i], x.data<float>()[i] * x.data<float>()[i]);
  // An empty axes tensor without noop: reduce everything, keepdims gives [1, 1].
  auto a = run_single_op("ReduceMax", {x, i64({})}, {}, 1, {1});
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(a.outputs[0].shape(), (std::vector<int64_t>{1, 1}));
}

TEST(ReductionTest, EmptySetFollowsSpec) {
  Tensor x = Tensor::allocate(DataType::kFloat32, {2, 0, 4}).value();
  auto expect_all = [&](const char* op, double want) {
    auto r = run_single_op(op, {x, i64({1})}, {{"keepdims", int64_t{1}}}, 1, {1});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    ASSERT_EQ(r.outputs[0].shape(), (std::vector<int64_t>{2, 1, 4}));
    for (int64_t i = 0; i < 8; ++i) {
      const double v = r.outputs[0].data<float>()[i];
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(v)) << op;
      else EXPECT_EQ(v, want) << op;
    }
  };
  expect_all("ReduceSum", 0);
  expect_all("ReduceProd", 1);
  expect_all("ReduceMax", -INFINITY);
  expect_all("ReduceMin", INFINITY);
  expect_all("ReduceL1", 0);
  expect_all("ReduceL2", 0);
  expect_all("ReduceSumSquare", 0);
  expect_all("ReduceLogSum", -INFINITY);
  expect_all("ReduceLogSumExp", -INFINITY);
  expect_all("ReduceMean", NAN);
  // Integer max of nothing is the lowest value.
  Tensor xi = Tensor::allocate(DataType::kInt32, {0, 3}).value();
  auto r = run_single_op("ReduceMax", {xi, i64({0})}, {{"keepdims", int64_t{0}}}, 1, {1});
  ASSERT_TRUE(r.status.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.outputs[0].data<int32_t>()[i], std::numeric_limits<int32_t>::lowest());
}

TEST(ReductionTest, LogSumExpIsStable) {
  Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {3}, {1000.f, 1000.f, -INFINITY});
  auto r = run_single_op("ReduceLogSumExp", {x}, {{"keepdims", int64_t{0}}});
  ASSERT_TRUE(r.status.ok());
  EXPECT_NEAR(r.outputs[0].data<float>()[0], 1000.0 + std::log(2.0), 1e-3);
}

TEST(ReductionTest, BadAxisIsAnError) {
  Tensor x = Tensor::allocate(DataType::kFloat32, {2, 3}).value();
  auto r = run_single_op("ReduceSum", {x, i64({2})}, {}, 1, {1});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("axis 2 is out of range for rank 2"), std::string::npos) << r.status.message();
  auto d = run_single_op("ReduceSum", {x, i64({1, -1})}, {}, 1, {1});
  EXPECT_EQ(d.status.code(), StatusCode::kShapeError);
}

// ---- ArgMax / ArgMin ----------------------------------------------------------------------------

TEST(ArgTest, AxesKeepdimsAndLastIndex) {
  auto rng = testing::make_rng();
  // Few distinct values so ties are common.
  Tensor x = random_tensor(DataType::kInt64, {3, 4, 5}, rng, 0, 3);
  Tensor xf = Tensor::allocate(DataType::kFloat32, x.shape()).value();
  for (int64_t i = 0; i < x.numel(); ++i) xf.data<float>()[i] = static_cast<float>(x.data<int64_t>()[i]);
  for (const char* op : {"ArgMax", "ArgMin"}) {
    const bool is_max = std::string(op) == "ArgMax";
    for (int64_t axis : {0, 1, 2, -1, -3}) {
      for (int64_t keep : {0, 1}) {
        for (int64_t last : {0, 1}) {
          for (const Tensor& in : {x, xf}) {
            auto r = run_single_op(op, {in}, {{"axis", axis}, {"keepdims", keep}, {"select_last_index", last}});
            ASSERT_TRUE(r.status.ok()) << r.status.to_string();
            const int64_t a = axis < 0 ? axis + 3 : axis;
            std::vector<int64_t> oshape = x.shape();
            oshape[static_cast<size_t>(a)] = 1;
            const Tensor& y = r.outputs[0];
            ASSERT_EQ(y.dtype(), DataType::kInt64);
            ASSERT_EQ(y.numel(), numel_of(oshape));
            for (int64_t o = 0; o < y.numel(); ++o) {
              auto idx = unravel(o, oshape);
              int64_t best = -1;
              double bv = 0;
              for (int64_t k = 0; k < x.dim(static_cast<size_t>(a)); ++k) {
                idx[static_cast<size_t>(a)] = k;
                int64_t flat = 0;
                for (size_t d = 0; d < 3; ++d) flat = flat * x.dim(d) + idx[d];
                const double v = in.get_as_double(flat);
                const bool better = best < 0 || (is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv)));
                if (better) {
                  best = k;
                  bv = v;
                }
              }
              ASSERT_EQ(y.data<int64_t>()[o], best) << op << " axis=" << axis << " last=" << last;
            }
          }
        }
      }
    }
  }
}

// ---- Softmax family -----------------------------------------------------------------------------

TEST(SoftmaxTest, AllAxesAgainstReference) {
  auto rng = testing::make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 7}, rng, -5, 5);
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    for (int64_t axis : {0, 1, 2, -1, -2}) {
      auto r = run_single_op(op, {x}, {{"axis", axis}});
      ASSERT_TRUE(r.status.ok()) << r.status.to_string();
      const int64_t a = axis < 0 ? axis + 3 : axis;
      Tensor want = Tensor::allocate(DataType::kFloat32, x.shape()).value();
      for (int64_t i = 0; i < x.numel(); ++i) {
        auto idx = unravel(i, x.shape());
        double mx = -INFINITY, sum = 0;
        int64_t arg = -1;
        for (int64_t k = 0; k < x.dim(static_cast<size_t>(a)); ++k) {
          auto j = idx;
          j[static_cast<size_t>(a)] = k;
          const double v = x.data<float>()[(j[0] * 3 + j[1]) * 7 + j[2]];
          if (v > mx) {
            mx = v;
            arg = k;
          }
        }
        for (int64_t k = 0; k < x.dim(static_cast<size_t>(a)); ++k) {
          auto j = idx;
          j[static_cast<size_t>(a)] = k;
          sum += std::exp(x.data<float>()[(j[0] * 3 + j[1]) * 7 + j[2]] - mx);
        }
        const double v = x.data<float>()[i];
        double w = std::exp(v - mx) / sum;
        if (std::string(op) == "LogSoftmax") w = v - mx - std::log(sum);
        if (std::string(op) == "Hardmax") w = idx[static_cast<size_t>(a)] == arg ? 1 : 0;
        want.data<float>()[i] = static_cast<float>(w);
      }
      EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6) << op << " axis=" << axis;
    }
  }
}

TEST(SoftmaxTest, LargeValuesAreStable) {
  Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {1, 3}, {10000.f, 10001.f, 10002.f});
  auto r = run_single_op("Softmax", {x}, {});
  ASSERT_TRUE(r.status.ok());
  EXPECT_NEAR(r.outputs[0].data<float>()[2], 0.66524096, 1e-6);
  auto l = run_single_op("LogSoftmax", {x}, {});
  EXPECT_NEAR(l.outputs[0].data<float>()[0], -2.40760596, 1e-5);
}

TEST(SoftmaxTest, BadAxisIsAnError) {
  Tensor x = Tensor::allocate(DataType::kFloat32, {2, 3}).value();
  auto r = run_single_op("Softmax", {x}, {{"axis", int64_t{2}}});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("out of range"), std::string::npos);
}

// ---- CumSum -------------------------------------------------------------------------------------

TEST(CumSumTest, AxesExclusiveReverse) {
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kInt32, DataType::kInt64, DataType::kFloat64}) {
    Tensor x = random_tensor(t, {3, 4, 5}, rng, -5, 5);
    for (int64_t axis : {0, 1, 2, -1}) {
      for (int64_t excl : {0, 1}) {
        for (int64_t rev : {0, 1}) {
          Tensor ax = Tensor::from_vector<int32_t>(DataType::kInt32, {}, {static_cast<int32_t>(axis)});
          auto r = run_single_op("CumSum", {x, ax}, {{"exclusive", excl}, {"reverse", rev}}, 1, {1});
          ASSERT_TRUE(r.status.ok()) << r.status.to_string();
          const int64_t a = axis < 0 ? axis + 3 : axis;
          Tensor want = Tensor::allocate(DataType::kFloat64, x.shape()).value();
          for (int64_t i = 0; i < x.numel(); ++i) {
            auto idx = unravel(i, x.shape());
            const int64_t pos = idx[static_cast<size_t>(a)], len = x.dim(static_cast<size_t>(a));
            double s = 0;
            for (int64_t k = 0; k < len; ++k) {
              const bool in = rev ? (excl ? k > pos : k >= pos) : (excl ? k < pos : k <= pos);
              if (!in) continue;
              auto j = idx;
              j[static_cast<size_t>(a)] = k;
              s += x.get_as_double((j[0] * 4 + j[1]) * 5 + j[2]);
            }
            want.data<double>()[i] = s;
          }
          EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6) << dtype_name(t) << " axis=" << axis;
        }
      }
    }
  }
}

// ---- TopK ---------------------------------------------------------------------------------------

TEST(TopKTest, LargestSmallestTiesAxes) {
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kInt64}) {
    Tensor x = random_tensor(t, {3, 6, 4}, rng, 0, 4);  // many ties
    for (int64_t axis : {0, 1, -1}) {
      for (int64_t largest : {0, 1}) {
        const int64_t a = axis < 0 ? axis + 3 : axis;
        const int64_t k = std::min<int64_t>(3, x.dim(static_cast<size_t>(a)));
        auto r = run_single_op("TopK", {x, i64({k})}, {{"axis", axis}, {"largest", largest}}, 2, {1});
        ASSERT_TRUE(r.status.ok()) << r.status.to_string();
        std::vector<int64_t> oshape = x.shape();
        oshape[static_cast<size_t>(a)] = k;
        ASSERT_EQ(r.outputs[0].shape(), oshape);
        ASSERT_EQ(r.outputs[1].dtype(), DataType::kInt64);
        for (int64_t o = 0; o < numel_of(oshape); ++o) {
          auto idx = unravel(o, oshape);
          std::vector<std::pair<double, int64_t>> lane;
          for (int64_t j = 0; j < x.dim(static_cast<size_t>(a)); ++j) {
            auto q = idx;
            q[static_cast<size_t>(a)] = j;
            lane.push_back({x.get_as_double((q[0] * 6 + q[1]) * 4 + q[2]), j});
          }
          std::stable_sort(lane.begin(), lane.end(), [&](const auto& p, const auto& q) {
            return largest ? p.first > q.first : p.first < q.first;
          });
          const auto& want = lane[static_cast<size_t>(idx[static_cast<size_t>(a)])];
          ASSERT_EQ(r.outputs[0].get_as_double(o), want.first);
          ASSERT_EQ(r.outputs[1].data<int64_t>()[o], want.second) << "axis=" << axis << " largest=" << largest;
        }
      }
    }
  }
}

TEST(TopKTest, KTooLargeIsAnError) {
  Tensor x = Tensor::allocate(DataType::kFloat32, {2, 3}).value();
  auto r = run_single_op("TopK", {x, i64({4})}, {}, 2, {1});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("K = 4 exceeds the axis length 3"), std::string::npos) << r.status.message();
}

// ---- shape inference with symbolic dims ---------------------------------------------------------

TEST(ReductionShapeTest, SymbolicDimsAndUnknownAxes) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("batch"), Dim::symbol("seq"), Dim(768)});
  Value* axes = g.add_initializer("axes", i64({-1}));
  Value* dyn_axes = g.add_input("dyn", DataType::kInt64, Shape{Dim(2)});
  Node* mean = g.add_node("ReduceMean", "mean", {x, axes}, 1);
  Node* keep_dyn = g.add_node("ReduceSum", "kd", {x, dyn_axes}, 1);
  Node* drop_dyn = g.add_node("ReduceSum", "dd", {x, dyn_axes}, 1);
  drop_dyn->set_attr("keepdims", int64_t{0});
  Node* sm = g.add_node("Softmax", "sm", {x}, 1);
  Node* tk = g.add_node("TopK", "tk", {x, g.add_input("k", DataType::kInt64, Shape{Dim(1)})}, 2);
  for (Node* n : {mean, keep_dyn, drop_dyn, sm, tk}) g.add_output(n->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  EXPECT_EQ(shape_to_string(mean->output(0)->shape()), "[batch,seq,1]");
  EXPECT_EQ(keep_dyn->output(0)->rank(), 3);
  EXPECT_EQ(drop_dyn->output(0)->rank(), 1);
  EXPECT_EQ(shape_to_string(sm->output(0)->shape()), "[batch,seq,768]");
  EXPECT_EQ(tk->output(1)->dtype(), DataType::kInt64);
  EXPECT_EQ(tk->output(0)->shape()[0], Dim::symbol("batch"));
  EXPECT_FALSE(tk->output(0)->shape()[2].is_static());
}

TEST(ReductionShapeTest, ValuePropagationAndUnknownRank) {
  Graph g;
  Value* dims = g.add_initializer("dims", i64({2, 3, 4}));
  Node* prod = g.add_node("ReduceProd", "prod", {dims}, 1);
  prod->set_attr("keepdims", int64_t{0});
  // Axes of unknown length and keepdims=0: the rank is unknown, only the dtype is set.
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim(2), Dim(3)});
  Value* axes = g.add_input("axes", DataType::kInt64, Shape{Dim::symbol("n")});
  Node* sum = g.add_node("ReduceSum", "sum", {x, axes}, 1);
  sum->set_attr("keepdims", int64_t{0});
  g.add_output(prod->output(0));
  g.add_output(sum->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  ASSERT_NE(prod->output(0)->known_value(), nullptr);
  EXPECT_EQ((*prod->output(0)->known_value())[0], Dim(24));
  EXPECT_EQ(prod->output(0)->rank(), 0);
  EXPECT_FALSE(sum->output(0)->has_shape());
  EXPECT_EQ(sum->output(0)->dtype(), DataType::kFloat32);
}

}  // namespace
}  // namespace slimrt
