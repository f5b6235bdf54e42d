// Tests of the tensor op family's CPU kernels (data movement, shape queries): every output is
// checked against an index-by-index reference computed here, on random inputs with outputs
// poisoned before the run.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>

#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::max_abs_diff;
using testing::random_tensor;
using testing::run_single_op;
using testing::SingleOpResult;
using Idx = std::vector<int64_t>;

Tensor i64(std::vector<int64_t> v, std::vector<int64_t> shape = {-1}) {
  if (shape == std::vector<int64_t>{-1}) shape = {static_cast<int64_t>(v.size())};
  return Tensor::from_vector<int64_t>(DataType::kInt64, shape, v);
}
Tensor scalar_i64(int64_t v) { return Tensor::from_vector<int64_t>(DataType::kInt64, {}, {v}); }

int64_t flat_index(const Idx& shape, const Idx& idx) {
  int64_t f = 0;
  for (size_t k = 0; k < shape.size(); ++k) f = f * shape[k] + idx[k];
  return f;
}
double at(const Tensor& t, const Idx& idx) { return t.get_as_double(flat_index(t.shape(), idx)); }

// A float64 tensor of `shape` whose element at each multi-index is fn(index).
Tensor expected(const Idx& shape, const std::function<double(const Idx&)>& fn) {
  Tensor t = Tensor::allocate(DataType::kFloat64, shape).value();
  Idx idx(shape.size(), 0);
  for (int64_t f = 0; f < t.numel(); ++f) {
    int64_t r = f;
    for (size_t k = shape.size(); k-- > 0;) {
      idx[k] = r % shape[k];
      r /= shape[k];
    }
    t.data<double>()[f] = fn(idx);
  }
  return t;
}

void expect_same(const Tensor& got, const Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_EQ(max_abs_diff(got, want), 0.0);
}

SingleOpResult run_ok(const std::string& op, const std::vector<Tensor>& in,
                      const std::vector<std::pair<std::string, Attribute>>& attrs, size_t outs = 1,
                      const std::vector<size_t>& consts = {}) {
  SingleOpResult r = run_single_op(op, in, attrs, outs, consts);
  EXPECT_TRUE(r.status.ok()) << r.status.to_string();
  return r;
}

TEST(TensorShapeOp, ShapeWithStartEndAndSize) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 5, 7}, rng);
  auto r = run_ok("Shape", {x}, {});
  expect_same(r.outputs[0], i64({2, 3, 5, 7}));
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kInt64);
  r = run_ok("Shape", {x}, {{"start", int64_t{1}}, {"end", int64_t{-1}}});
  expect_same(r.outputs[0], i64({3, 5}));
  r = run_ok("Shape", {x}, {{"start", int64_t{-10}}, {"end", int64_t{100}}});  // clamped
  expect_same(r.outputs[0], i64({2, 3, 5, 7}));
  r = run_ok("Shape", {x}, {{"start", int64_t{3}}, {"end", int64_t{1}}});
  EXPECT_EQ(r.outputs[0].numel(), 0);
  r = run_ok("Size", {x}, {});
  EXPECT_EQ(r.outputs[0].rank(), 0u);
  EXPECT_EQ(r.outputs[0].data<int64_t>()[0], 210);
}

TEST(TensorReshape, ZeroCopiesAndMinusOneInfers) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat16, {2, 3, 4}, rng);
  for (bool constant : {false, true}) {
    std::vector<size_t> consts = constant ? std::vector<size_t>{1} : std::vector<size_t>{};
    auto r = run_ok("Reshape", {x, i64({0, -1})}, {}, 1, consts);
    ASSERT_EQ(r.outputs[0].shape(), (Idx{2, 12}));
    EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat16);
    for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(r.outputs[0].data<uint16_t>()[i], x.data<uint16_t>()[i]);
    r = run_ok("Reshape", {x, i64({-1, 0, 1, 2})}, {}, 1, consts);
    EXPECT_EQ(r.outputs[0].shape(), (Idx{4, 3, 1, 2}));
  }
  Tensor empty = random_tensor(DataType::kFloat32, {0, 3}, rng);
  auto r = run_ok("Reshape", {empty, i64({3, 0})}, {{"allowzero", int64_t{1}}});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{3, 0}));
}

TEST(TensorReshape, BadShapesAreErrors) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4}, rng);
  auto r = run_single_op("Reshape", {x, i64({5, -1})}, {}, 1, {1});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("cannot reshape [2,3,4] to [5,-1]"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("node 'op' (Reshape)"), std::string::npos) << r.status.message();
  r = run_single_op("Reshape", {x, i64({-1, -1})}, {}, 1, {1});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("more than one -1"), std::string::npos);
  r = run_single_op("Reshape", {x, i64({7, 4})}, {}, 1, {1});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
}

TEST(TensorFlatten, AxesIncludingNegativeAndEnds) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kInt8, {2, 3, 4, 5}, rng, -100, 100);
  const std::vector<std::pair<int64_t, Idx>> cases = {{0, {1, 120}}, {1, {2, 60}}, {-1, {24, 5}}, {4, {120, 1}}, {-4, {1, 120}}};
  for (const auto& [axis, shape] : cases) {
    auto r = run_ok("Flatten", {x}, {{"axis", axis}});
    ASSERT_EQ(r.outputs[0].shape(), shape) << axis;
    for (int64_t i = 0; i < 120; ++i) EXPECT_EQ(r.outputs[0].data<int8_t>()[i], x.data<int8_t>()[i]);
  }
  EXPECT_EQ(run_single_op("Flatten", {x}, {{"axis", int64_t{5}}}).status.code(), StatusCode::kShapeError);
}

TEST(TensorSqueeze, AxesInputsAndAll) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 3, 1, 5}, rng);
  auto r = run_ok("Squeeze", {x, i64({-2})}, {}, 1, {1});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{1, 3, 5}));
  r = run_ok("Squeeze", {x}, {});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{3, 5}));
  expect_same(r.outputs[0].reshaped({1, 3, 1, 5}).value(), x);
  auto bad = run_single_op("Squeeze", {x, i64({1})}, {}, 1, {1});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("cannot squeeze axis 1 of size 3"), std::string::npos);
  r = run_ok("Unsqueeze", {x, i64({0, -1, 3})}, {}, 1, {1});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{1, 1, 3, 1, 1, 5, 1}));
  Tensor s = Tensor::from_vector<float>(DataType::kFloat32, {}, {2.5f});
  r = run_ok("Unsqueeze", {s, i64({0})}, {});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{1}));
  EXPECT_EQ(r.outputs[0].data<float>()[0], 2.5f);
  EXPECT_EQ(run_single_op("Unsqueeze", {x, i64({1, 1})}, {}, 1, {1}).status.code(), StatusCode::kShapeError);
}

TEST(TensorTranspose, PermutationsOnSeveralDtypes) {
  auto rng = make_rng();
  for (DataType dt : {DataType::kFloat32, DataType::kFloat16, DataType::kInt64, DataType::kBool, DataType::kFloat64}) {
    Tensor x = random_tensor(dt, {2, 3, 4, 5}, rng, -50, 50);
    const Idx perm = {2, 0, 3, 1};
    auto r = run_ok("Transpose", {x}, {{"perm", perm}});
    expect_same(r.outputs[0], expected({4, 2, 5, 3}, [&](const Idx& o) {
                  Idx i(4);
                  for (size_t k = 0; k < 4; ++k) i[static_cast<size_t>(perm[k])] = o[k];
                  return at(x, i);
                }));
  }
  Tensor y = random_tensor(DataType::kFloat32, {3, 7}, rng);
  auto r = run_ok("Transpose", {y}, {});
  expect_same(r.outputs[0], expected({7, 3}, [&](const Idx& o) { return at(y, {o[1], o[0]}); }));
  EXPECT_EQ(run_single_op("Transpose", {y}, {{"perm", Idx{0, 0}}}).status.code(), StatusCode::kShapeError);
}

TEST(TensorConcat, NegativeAxisOddSizesAndEmpty) {
  auto rng = make_rng();
  Tensor a = random_tensor(DataType::kInt32, {2, 3, 5}, rng, -9, 9);
  Tensor b = random_tensor(DataType::kInt32, {2, 1, 5}, rng, -9, 9);
  Tensor c = random_tensor(DataType::kInt32, {2, 0, 5}, rng, -9, 9);
  Tensor d = random_tensor(DataType::kInt32, {2, 4, 5}, rng, -9, 9);
  auto r = run_ok("Concat", {a, b, c, d}, {{"axis", int64_t{-2}}});
  expect_same(r.outputs[0], expected({2, 8, 5}, [&](const Idx& o) {
                const int64_t j = o[1];
                if (j < 3) return at(a, o);
                if (j < 4) return at(b, {o[0], j - 3, o[2]});
                return at(d, {o[0], j - 4, o[2]});
              }));
  auto bad = run_single_op("Concat", {a, random_tensor(DataType::kInt32, {3, 3, 5}, rng)}, {{"axis", int64_t{1}}});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("inputs differ in dim 0 (2 vs 3)"), std::string::npos) << bad.status.message();
}

TEST(TensorSplit, SplitInputNumOutputsAndEqual) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {3, 7}, rng);
  auto check = [&](const SingleOpResult& r, const Idx& sizes) {
    int64_t off = 0;
    ASSERT_EQ(r.outputs.size(), sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) {
      expect_same(r.outputs[i], expected({3, sizes[i]}, [&](const Idx& o) { return at(x, {o[0], o[1] + off}); }));
      off += sizes[i];
    }
  };
  check(run_ok("Split", {x, i64({2, 0, 5})}, {{"axis", int64_t{-1}}}, 3, {1}), {2, 0, 5});
  check(run_ok("Split", {x, i64({4, 3})}, {{"axis", int64_t{1}}}, 2), {4, 3});
  check(run_ok("Split", {x}, {{"axis", int64_t{1}}, {"num_outputs", int64_t{3}}}, 3), {3, 3, 1});
  Tensor y = random_tensor(DataType::kFloat32, {6, 2}, rng);
  auto r = run_ok("Split", {y}, {}, 3);
  for (int i = 0; i < 3; ++i)
    expect_same(r.outputs[static_cast<size_t>(i)], expected({2, 2}, [&](const Idx& o) { return at(y, {o[0] + 2 * i, o[1]}); }));
  EXPECT_EQ(run_single_op("Split", {x, i64({2, 2})}, {{"axis", int64_t{1}}}, 2, {1}).status.code(), StatusCode::kShapeError);
}

// Reference slice of one axis: the indices it visits, by the ONNX definition.
Idx visited(int64_t dim, int64_t start, int64_t end, int64_t step) {
  auto clampv = [](int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); };
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  Idx out;
  if (step > 0) {
    for (int64_t i = clampv(start, 0, dim); i < clampv(end, 0, dim); i += step) out.push_back(i);
  } else {
    for (int64_t i = clampv(start, 0, dim - 1); i > clampv(end, -1, dim - 1); i += step) out.push_back(i);
  }
  return out;
}

TEST(TensorSlice, StepsClampingAndNegativeAxes) {
  auto rng = make_rng();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  Tensor x = random_tensor(DataType::kFloat32, {5, 6, 7}, rng);
  struct Case {
    Idx starts, ends, axes, steps;
  };
  const std::vector<Case> cases = {
      {{1, 0}, {4, kMax}, {0, 2}, {1, 2}},
      {{-1}, {kMin}, {-2}, {-1}},
      {{kMax, 2}, {-kMax, 100}, {1, -1}, {-2, 3}},
      {{-3, 1, 0}, {-1, -1, 7}, {0, 1, 2}, {1, 1, 3}},
      {{4}, {2}, {0}, {1}},  // empty
      {{10}, {-10}, {2}, {-3}},
      {{kMax}, {kMin}, {0}, {kMin}},  // extreme steps visit one element without overflowing
      {{0}, {kMax}, {1}, {kMax}},
  };
  for (const Case& c : cases) {
    std::vector<Idx> sel = {visited(5, 0, 5, 1), visited(6, 0, 6, 1), visited(7, 0, 7, 1)};
    for (size_t k = 0; k < c.starts.size(); ++k) {
      const int64_t a = c.axes[k] < 0 ? c.axes[k] + 3 : c.axes[k];
      sel[static_cast<size_t>(a)] = visited(x.dim(static_cast<size_t>(a)), c.starts[k], c.ends[k], c.steps[k]);
    }
    const Idx shape = {static_cast<int64_t>(sel[0].size()), static_cast<int64_t>(sel[1].size()), static_cast<int64_t>(sel[2].size())};
    for (bool constant : {false, true}) {
      std::vector<size_t> consts = constant ? std::vector<size_t>{1, 2, 3, 4} : std::vector<size_t>{};
      auto r = run_ok("Slice", {x, i64(c.starts), i64(c.ends), i64(c.axes), i64(c.steps)}, {}, 1, consts);
      expect_same(r.outputs[0], expected(shape, [&](const Idx& o) {
                    return at(x, {sel[0][static_cast<size_t>(o[0])], sel[1][static_cast<size_t>(o[1])], sel[2][static_cast<size_t>(o[2])]});
                  }));
    }
  }
  // Optional axes and steps absent.
  auto r = run_ok("Slice", {x, i64({1, 2}), i64({3, 4})}, {});
  expect_same(r.outputs[0], expected({2, 2, 7}, [&](const Idx& o) { return at(x, {o[0] + 1, o[1] + 2, o[2]}); }));
  auto bad = run_single_op("Slice", {x, i64({0}), i64({1}), i64({0}), i64({0})}, {}, 1, {1, 2, 3, 4});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("slice step is 0"), std::string::npos);
}

TEST(TensorGather, AxesNegativeIndicesAndErrors) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kBFloat16, {3, 5, 4}, rng);
  Tensor ind = i64({0, -1, 2, -5, 4, 1}, {2, 3});
  auto r = run_ok("Gather", {x, ind}, {{"axis", int64_t{-2}}});
  expect_same(r.outputs[0], expected({3, 2, 3, 4}, [&](const Idx& o) {
                int64_t j = ind.data<int64_t>()[o[1] * 3 + o[2]];
                if (j < 0) j += 5;
                return at(x, {o[0], j, o[3]});
              }));
  r = run_ok("Gather", {x, scalar_i64(-1)}, {});
  expect_same(r.outputs[0], expected({5, 4}, [&](const Idx& o) { return at(x, {2, o[0], o[1]}); }));
  Tensor ind32 = Tensor::from_vector<int32_t>(DataType::kInt32, {2}, {3, 0});
  r = run_ok("Gather", {x, ind32}, {{"axis", int64_t{2}}});
  expect_same(r.outputs[0], expected({3, 5, 2}, [&](const Idx& o) { return at(x, {o[0], o[1], o[2] == 0 ? 3 : 0}); }));
  // Indices known only at run time and at build time both fail naming the index.
  for (const auto& consts : {std::vector<size_t>{}, std::vector<size_t>{1}}) {
    auto bad = run_single_op("Gather", {x, i64({5})}, {{"axis", int64_t{1}}}, 1, consts);
    EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
    EXPECT_NE(bad.status.message().find("index 5 is out of range for dim 5"), std::string::npos) << bad.status.message();
  }
}

TEST(TensorGatherElements, NegativeIndices) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {3, 4}, rng);
  Tensor ind = i64({0, -1, 2, 1, -3, 3, 0, 0, -4}, {3, 3});
  auto r = run_ok("GatherElements", {x, ind}, {{"axis", int64_t{1}}});
  expect_same(r.outputs[0], expected({3, 3}, [&](const Idx& o) {
                int64_t j = ind.data<int64_t>()[o[0] * 3 + o[1]];
                return at(x, {o[0], j < 0 ? j + 4 : j});
              }));
  Tensor ind0 = i64({2, -1, 0, 1}, {1, 4});
  r = run_ok("GatherElements", {x, ind0}, {{"axis", int64_t{0}}});
  expect_same(r.outputs[0], expected({1, 4}, [&](const Idx& o) {
                int64_t j = ind0.data<int64_t>()[o[1]];
                return at(x, {j < 0 ? j + 3 : j, o[1]});
              }));
  EXPECT_EQ(run_single_op("GatherElements", {x, i64({4}, {1, 1})}, {{"axis", int64_t{1}}}).status.code(), StatusCode::kOutOfRange);
}

TEST(TensorGatherND, BatchDims) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4}, rng);
  Tensor ind = i64({1, 2, 0, -1, 1, 0}, {3, 2});
  auto r = run_ok("GatherND", {x, ind}, {});
  expect_same(r.outputs[0], expected({3, 4}, [&](const Idx& o) {
                int64_t a = ind.data<int64_t>()[o[0] * 2], b = ind.data<int64_t>()[o[0] * 2 + 1];
                return at(x, {a, b < 0 ? b + 3 : b, o[1]});
              }));
  Tensor ind_b = i64({2, 0, 1, 1}, {2, 1, 2});  // batch_dims=1: per batch one (row, col) pair
  r = run_ok("GatherND", {x, ind_b}, {{"batch_dims", int64_t{1}}});
  expect_same(r.outputs[0], expected({2, 1}, [&](const Idx& o) {
                const int64_t* p = ind_b.data<int64_t>() + o[0] * 2;
                return at(x, {o[0], p[0], p[1]});
              }));
}

TEST(TensorScatterElements, Reductions) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {3, 5}, rng);
  Tensor ind = i64({1, 1, -1, 0, 4, 4}, {2, 3});  // repeats within row 0 exercise the reduction
  Tensor upd = random_tensor(DataType::kFloat32, {2, 3}, rng);
  for (const std::string red : {"none", "add", "mul", "max", "min"}) {
    auto r = run_ok("ScatterElements", {x, ind, upd}, {{"axis", int64_t{1}}, {"reduction", red}});
    Tensor want = expected({3, 5}, [&](const Idx& o) { return at(x, o); });
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        int64_t c = ind.data<int64_t>()[i * 3 + j];
        if (c < 0) c += 5;
        double& d = want.data<double>()[i * 5 + c];
        const double u = upd.data<float>()[i * 3 + j];
        if (red == "none") d = u;
        if (red == "add") d += u;
        if (red == "mul") d *= u;
        if (red == "max") d = std::max(d, u);
        if (red == "min") d = std::min(d, u);
      }
    }
    ASSERT_EQ(r.outputs[0].shape(), want.shape());
    EXPECT_LT(max_abs_diff(r.outputs[0], want), 1e-6) << red;
  }
  auto bad = run_single_op("ScatterElements", {x, ind, upd}, {{"reduction", std::string("mean")}});
  EXPECT_EQ(bad.status.code(), StatusCode::kUnsupported);
}

TEST(TensorScatterND, UpdatesSlicesWithReduction) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kInt64, {4, 3}, rng, -20, 20);
  Tensor ind = i64({2, -4, 2}, {3, 1});
  Tensor upd = random_tensor(DataType::kInt64, {3, 3}, rng, -20, 20);
  for (const std::string red : {"none", "add", "max"}) {
    auto r = run_ok("ScatterND", {x, ind, upd}, {{"reduction", red}});
    Tensor want = expected({4, 3}, [&](const Idx& o) { return at(x, o); });
    for (int64_t t = 0; t < 3; ++t) {
      int64_t row = ind.data<int64_t>()[t];
      if (row < 0) row += 4;
      for (int64_t e = 0; e < 3; ++e) {
        double& d = want.data<double>()[row * 3 + e];
        const double u = static_cast<double>(upd.data<int64_t>()[t * 3 + e]);
        d = red == "none" ? u : red == "add" ? d + u : std::max(d, u);
      }
    }
    expect_same(r.outputs[0], want);
  }
}

TEST(TensorTileExpand, RepeatsAndBidirectionalBroadcast) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kUInt8, {2, 1, 3}, rng, 0, 200);
  auto r = run_ok("Tile", {x, i64({2, 3, 1})}, {});
  expect_same(r.outputs[0], expected({4, 3, 3}, [&](const Idx& o) { return at(x, {o[0] % 2, 0, o[2]}); }));
  r = run_ok("Tile", {x, i64({1, 0, 2})}, {}, 1, {1});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{2, 0, 6}));
  Tensor y = random_tensor(DataType::kFloat32, {3, 1}, rng);
  r = run_ok("Expand", {y, i64({2, 1, 6})}, {});
  expect_same(r.outputs[0], expected({2, 3, 6}, [&](const Idx& o) { return at(y, {o[1], 0}); }));
  r = run_ok("Expand", {y, i64({1})}, {}, 1, {1});  // target smaller than input: input wins
  expect_same(r.outputs[0], y);
  auto bad = run_single_op("Expand", {y, i64({2, 4})}, {}, 1, {1});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("cannot expand [3,1] to [2,4]"), std::string::npos) << bad.status.message();
}

TEST(TensorRange, IntegerAndFloat) {
  auto r = run_ok("Range", {scalar_i64(10), scalar_i64(-3), scalar_i64(-4)}, {});
  expect_same(r.outputs[0], i64({10, 6, 2, -2}));
  r = run_ok("Range", {scalar_i64(3), scalar_i64(3), scalar_i64(1)}, {}, 1, {0, 1, 2});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{0}));
  auto f = [](float v) { return Tensor::from_vector<float>(DataType::kFloat32, {}, {v}); };
  r = run_ok("Range", {f(1.0f), f(2.05f), f(0.25f)}, {});
  ASSERT_EQ(r.outputs[0].shape(), (Idx{5}));
  for (int64_t i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(r.outputs[0].data<float>()[i], 1.0f + 0.25f * static_cast<float>(i));
  auto i32 = [](int32_t v) { return Tensor::from_vector<int32_t>(DataType::kInt32, {}, {v}); };
  r = run_ok("Range", {i32(-2), i32(5), i32(3)}, {});
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kInt32);
  EXPECT_EQ(max_abs_diff(r.outputs[0], i64({-2, 1, 4})), 0.0);
  EXPECT_EQ(run_single_op("Range", {scalar_i64(0), scalar_i64(3), scalar_i64(0)}, {}).status.code(), StatusCode::kShapeError);
  auto huge = run_single_op("Range", {scalar_i64(std::numeric_limits<int64_t>::min()), scalar_i64(std::numeric_limits<int64_t>::max()),
                                      scalar_i64(1)}, {});
  EXPECT_EQ(huge.status.code(), StatusCode::kShapeError);
  EXPECT_NE(huge.status.message().find("the range is too long"), std::string::npos) << huge.status.message();
}

TEST(TensorConstantOfShape, DefaultAndTypedValue) {
  auto r = run_ok("ConstantOfShape", {i64({2, 3})}, {});
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat32);
  expect_same(r.outputs[0], expected({2, 3}, [](const Idx&) { return 0.0; }));
  Tensor v = Tensor::from_vector<int64_t>(DataType::kInt64, {1}, {-7});
  r = run_ok("ConstantOfShape", {i64({4})}, {{"value", v}}, 1, {0});
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kInt64);
  expect_same(r.outputs[0], i64({-7, -7, -7, -7}));
  Tensor h = Tensor::from_vector<uint16_t>(DataType::kFloat16, {1}, {float_to_half(1.5f)});
  r = run_ok("ConstantOfShape", {i64({0, 2})}, {{"value", h}});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{0, 2}));
  r = run_ok("ConstantOfShape", {i64({}, {0})}, {{"value", h}});
  EXPECT_EQ(r.outputs[0].rank(), 0u);
  EXPECT_EQ(r.outputs[0].get_as_double(0), 1.5);
}

TEST(TensorTrilu, UpperLowerWithK) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 4, 5}, rng);
  for (int64_t upper : {0, 1}) {
    for (int64_t k : {-5, -1, 0, 2, 7}) {
      auto r = run_ok("Trilu", {x, scalar_i64(k)}, {{"upper", upper}});
      expect_same(r.outputs[0], expected({2, 4, 5}, [&](const Idx& o) {
                    const bool keep = upper ? o[2] - o[1] >= k : o[2] - o[1] <= k;
                    return keep ? at(x, o) : 0.0;
                  }));
    }
  }
  auto r = run_ok("Trilu", {x}, {});
  expect_same(r.outputs[0], expected({2, 4, 5}, [&](const Idx& o) { return o[2] >= o[1] ? at(x, o) : 0.0; }));
  EXPECT_EQ(run_single_op("Trilu", {i64({1, 2})}, {}).status.code(), StatusCode::kShapeError);
}

TEST(TensorEyeLike, OffsetAndDtype) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kInt32, {3, 5}, rng);
  for (int64_t k : {-1, 0, 3, 6}) {
    auto r = run_ok("EyeLike", {x}, {{"k", k}});
    EXPECT_EQ(r.outputs[0].dtype(), DataType::kInt32);
    expect_same(r.outputs[0], expected({3, 5}, [&](const Idx& o) { return o[1] - o[0] == k ? 1.0 : 0.0; }));
  }
  auto r = run_ok("EyeLike", {x}, {{"dtype", static_cast<int64_t>(DataType::kFloat16)}});
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat16);
  expect_same(r.outputs[0], expected({3, 5}, [&](const Idx& o) { return o[1] == o[0] ? 1.0 : 0.0; }));
}

TEST(TensorOneHot, AxisAndNegativeIndices) {
  Tensor ind = i64({0, -7, 9, 3, 10, -11}, {2, 3});  // 10 and -11 are out of range: all off
  Tensor depth = Tensor::from_vector<float>(DataType::kFloat32, {}, {10.0f});
  Tensor values = Tensor::from_vector<float>(DataType::kFloat32, {2}, {-1.0f, 4.0f});
  for (int64_t axis : {-1, 0, 1}) {
    auto r = run_ok("OneHot", {ind, depth, values}, {{"axis", axis}}, 1, {1});
    const int64_t a = axis < 0 ? 2 : axis;
    Idx shape = {2, 3};
    shape.insert(shape.begin() + a, 10);
    expect_same(r.outputs[0], expected(shape, [&](const Idx& o) {
                  Idx pos = o;
                  const int64_t d = pos[static_cast<size_t>(a)];
                  pos.erase(pos.begin() + a);
                  int64_t i = ind.data<int64_t>()[pos[0] * 3 + pos[1]];
                  if (i < 0) i += 10;
                  return i == d ? 4.0 : -1.0;
                }));
  }
}

TEST(TensorNonZeroCompress, DataDependentShapes) {
  Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {2, 3}, {0.0f, 1.5f, -0.0f, 2.0f, 0.0f, -3.0f});
  auto r = run_ok("NonZero", {x}, {});
  expect_same(r.outputs[0], i64({0, 1, 1, 1, 0, 2}, {2, 3}));
  Tensor none = Tensor::from_vector<int32_t>(DataType::kInt32, {3}, {0, 0, 0});
  r = run_ok("NonZero", {none}, {});
  EXPECT_EQ(r.outputs[0].shape(), (Idx{1, 0}));
  auto rng = make_rng();
  Tensor y = random_tensor(DataType::kFloat32, {3, 4}, rng);
  Tensor cond = Tensor::from_vector<uint8_t>(DataType::kBool, {3}, {1, 0, 1});
  r = run_ok("Compress", {y, cond}, {{"axis", int64_t{-1}}});  // shorter than the axis
  expect_same(r.outputs[0], expected({3, 2}, [&](const Idx& o) { return at(y, {o[0], o[1] == 0 ? 0 : 2}); }));
  r = run_ok("Compress", {y, cond}, {{"axis", int64_t{0}}}, 1, {1});
  expect_same(r.outputs[0], expected({2, 4}, [&](const Idx& o) { return at(y, {o[0] == 0 ? 0 : 2, o[1]}); }));
  r = run_ok("Compress", {y, cond}, {});
  expect_same(r.outputs[0], expected({2}, [&](const Idx& o) { return y.get_as_double(o[0] == 0 ? 0 : 2); }));
}

}  // namespace
}  // namespace slimrt
