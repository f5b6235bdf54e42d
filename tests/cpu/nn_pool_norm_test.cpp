// Pooling (incl. MaxUnpool), normalizations, LRN and Dropout against direct double-precision loops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::max_abs_diff;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_single_op;
using Attrs = std::vector<std::pair<std::string, Attribute>>;
using Ints = std::vector<int64_t>;

void for_each_index(const Ints& dims, const std::function<void(const Ints&)>& f) {
  for (int64_t d : dims) {
    if (d <= 0) return;
  }
  Ints idx(dims.size(), 0);
  while (true) {
    f(idx);
    size_t d = dims.size();
    while (true) {
      if (d == 0) return;
      --d;
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
}

int64_t flat(const Ints& dims, const Ints& idx) {
  int64_t f = 0;
  for (size_t i = 0; i < dims.size(); ++i) f = f * dims[i] + idx[i];
  return f;
}

Tensor make_f32(const Ints& shape, const std::vector<double>& v) {
  Tensor t = Tensor::allocate(DataType::kFloat32, shape).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

enum class Kind { kAvg, kMax, kLp };

struct PoolSpec {
  Ints kernel, strides, dilations, pads;
  Ints out;  // expected spatial output dims, worked out by hand in each test
  bool count_include_pad = false;
  int64_t p = 2;
  bool column_major = false;
};

// Direct pooling. Returns values; `indices` gets MaxPool's flat argmax indices.
std::vector<double> ref_pool(const Tensor& x, Kind kind, const PoolSpec& s, std::vector<int64_t>* indices) {
  const size_t nd = x.rank() - 2;
  Ints in(x.shape().begin() + 2, x.shape().end());
  Ints yshape = {x.dim(0), x.dim(1)};
  yshape.insert(yshape.end(), s.out.begin(), s.out.end());
  std::vector<double> y;
  for_each_index(yshape, [&](const Ints& yi) {
    double sum = 0, best = -std::numeric_limits<double>::infinity();
    int64_t count = 0, padded = 0, best_idx = -1;
    for_each_index(s.kernel, [&](const Ints& ki) {
      Ints pos;
      bool inside = true, in_padded = true;
      for (size_t i = 0; i < nd; ++i) {
        const int64_t p = yi[i + 2] * s.strides[i] - s.pads[i] + ki[i] * s.dilations[i];
        inside &= p >= 0 && p < in[i];
        in_padded &= p >= -s.pads[i] && p < in[i] + s.pads[i + nd];
        pos.push_back(p);
      }
      padded += in_padded;
      if (!inside) return;
      Ints xi = {yi[0], yi[1]};
      xi.insert(xi.end(), pos.begin(), pos.end());
      const double v = x.get_as_double(flat(x.shape(), xi));
      ++count;
      sum += kind == Kind::kLp ? std::pow(std::fabs(v), static_cast<double>(s.p)) : v;
      if (v > best) {
        best = v;
        int64_t spatial = 0;
        if (s.column_major) {
          for (size_t i = nd; i-- > 0;) spatial = spatial * in[i] + pos[i];
        } else {
          for (size_t i = 0; i < nd; ++i) spatial = spatial * in[i] + pos[i];
        }
        best_idx = (yi[0] * x.dim(1) + yi[1]) * numel_of(in) + spatial;
      }
    });
    if (kind == Kind::kMax) {
      y.push_back(best);
      if (indices) indices->push_back(best_idx);
    } else if (kind == Kind::kLp) {
      y.push_back(std::pow(sum, 1.0 / static_cast<double>(s.p)));
    } else {
      y.push_back(sum / static_cast<double>(s.count_include_pad ? padded : count));
    }
  });
  return y;
}

Attrs pool_attrs(const PoolSpec& s) {
  return {{"kernel_shape", s.kernel}, {"strides", s.strides}, {"dilations", s.dilations}, {"pads", s.pads}};
}

Ints out_shape(const Tensor& x, const PoolSpec& s) {
  Ints shape = {x.dim(0), x.dim(1)};
  shape.insert(shape.end(), s.out.begin(), s.out.end());
  return shape;
}

TEST(NnPool, MaxPoolCeilDilationsIndicesBothStorageOrders) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 8, 7}, rng);
  // H: ceil((8+2-3)/2)+1 = 5; W: k_eff 3, ceil((7+1-3)/2)+1 = 4.
  PoolSpec s{{3, 2}, {2, 2}, {1, 2}, {1, 0, 1, 1}, {5, 4}};
  for (int64_t order : {0, 1}) {
    s.column_major = order == 1;
    Attrs attrs = pool_attrs(s);
    attrs.push_back({"ceil_mode", int64_t{1}});
    attrs.push_back({"storage_order", order});
    auto r = run_single_op("MaxPool", {x}, attrs, 2);
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    std::vector<int64_t> idx;
    Tensor want = make_f32(out_shape(x, s), ref_pool(x, Kind::kMax, s, &idx));
    EXPECT_EQ(max_abs_diff(r.outputs[0], want), 0.0);
    ASSERT_EQ(r.outputs[1].dtype(), DataType::kInt64);
    EXPECT_EQ(r.outputs[1].to_int64_vector(), idx) << "storage_order " << order;
  }
}

TEST(NnPool, MaxPoolIntegerAnd1d) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kUInt8, {1, 2, 11}, rng, 0, 250);
  PoolSpec s{{3}, {2}, {1}, {0, 0}, {5}};
  auto r = run_single_op("MaxPool", {x}, pool_attrs(s));
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kUInt8);
  Tensor want = make_f32(out_shape(x, s), ref_pool(x, Kind::kMax, s, nullptr));
  EXPECT_EQ(max_abs_diff(r.outputs[0], want), 0.0);
}

TEST(NnPool, AveragePoolCountIncludePadWithCeilMode) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 2, 6, 6}, rng);
  // ceil((6+2-3)/2)+1 = 4; the last window covers input 5, end pad 6 and 7 past the padding.
  PoolSpec s{{3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {4, 4}};
  for (bool include : {false, true}) {
    s.count_include_pad = include;
    Attrs attrs = pool_attrs(s);
    attrs.push_back({"ceil_mode", int64_t{1}});
    attrs.push_back({"count_include_pad", int64_t{include}});
    auto r = run_single_op("AveragePool", {x}, attrs);
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    Tensor want = make_f32(out_shape(x, s), ref_pool(x, Kind::kAvg, s, nullptr));
    EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6) << "count_include_pad " << include;
  }
}

TEST(NnPool, AveragePool3dDilatedSameUpper) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 2, 5, 6, 4}, rng);
  // SAME_UPPER, stride 2: out ceil(in/2) = 3,3,2; k_eff = 3,3,2: totals 2,1,0.
  PoolSpec s{{2, 3, 2}, {2, 2, 2}, {2, 1, 1}, {1, 0, 0, 1, 1, 0}, {3, 3, 2}};
  Attrs attrs = {{"kernel_shape", s.kernel}, {"strides", s.strides}, {"dilations", s.dilations},
                 {"auto_pad", std::string("SAME_UPPER")}};
  auto r = run_single_op("AveragePool", {x}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  Tensor want = make_f32(out_shape(x, s), ref_pool(x, Kind::kAvg, s, nullptr));
  EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6);
}

// Seeded sweep of MaxPool / AveragePool geometry (ceil_mode, dilations, pads, both
// count_include_pad settings) against the direct loops.
TEST(NnPool, RandomizedSweep) {
  auto rng = make_rng();
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const size_t nd = static_cast<size_t>(pick(1, 3));
    const bool ceil_mode = pick(0, 1) == 1;
    PoolSpec s;
    s.count_include_pad = pick(0, 1) == 1;
    s.pads.assign(2 * nd, 0);
    Ints xs = {pick(1, 2), pick(1, 3)};
    bool ok = true;
    for (size_t i = 0; i < nd; ++i) {
      const int64_t in = pick(1, nd == 3 ? 6 : 10), k = pick(1, 3), d = pick(1, 2), st = pick(1, 3);
      const int64_t pb = pick(0, k - 1), pe = pick(0, k - 1);
      xs.push_back(in);
      s.kernel.push_back(k);
      s.dilations.push_back(d);
      s.strides.push_back(st);
      s.pads[i] = pb;
      s.pads[i + nd] = pe;
      const int64_t span = in + pb + pe - d * (k - 1) - 1;
      if (span < 0) {
        ok = false;
        continue;
      }
      int64_t out = (ceil_mode ? (span + st - 1) / st : span / st) + 1;
      if (ceil_mode && (out - 1) * st >= in + pb) --out;  // no window may start in the end padding
      s.out.push_back(out);
      // Dilated windows can fall entirely into the padding; that result is implementation
      // defined (NaN in ONNX's reference), so such geometries are skipped.
      for (int64_t o = 0; o < out; ++o) {
        bool any = false;
        for (int64_t j = 0; j < k; ++j) {
          const int64_t p = o * st - pb + j * d;
          any |= p >= 0 && p < in;
        }
        ok &= any;
      }
    }
    if (!ok) continue;
    Tensor x = random_tensor(DataType::kFloat32, xs, rng);
    Attrs attrs = pool_attrs(s);
    attrs.push_back({"ceil_mode", int64_t{ceil_mode}});
    SCOPED_TRACE("iteration " + std::to_string(iter) + " x " + shape_to_string(xs));
    auto mx = run_single_op("MaxPool", {x}, attrs);
    ASSERT_TRUE(mx.status.ok()) << mx.status.to_string();
    EXPECT_EQ(max_abs_diff(mx.outputs[0], make_f32(out_shape(x, s), ref_pool(x, Kind::kMax, s, nullptr))), 0.0);
    attrs.push_back({"count_include_pad", int64_t{s.count_include_pad}});
    auto avg = run_single_op("AveragePool", {x}, attrs);
    ASSERT_TRUE(avg.status.ok()) << avg.status.to_string();
    EXPECT_LT(rel_l2(avg.outputs[0], make_f32(out_shape(x, s), ref_pool(x, Kind::kAvg, s, nullptr))), 1e-6);
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(NnPool, LpPool) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 3, 7, 5}, rng);
  PoolSpec s{{3, 2}, {2, 1}, {1, 1}, {1, 0, 1, 0}, {4, 4}};
  s.p = 3;
  Attrs attrs = pool_attrs(s);
  attrs.push_back({"p", int64_t{3}});
  auto r = run_single_op("LpPool", {x}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  Tensor want = make_f32(out_shape(x, s), ref_pool(x, Kind::kLp, s, nullptr));
  EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6);
}

TEST(NnPool, GlobalPools) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 5, 2}, rng);
  auto avg = run_single_op("GlobalAveragePool", {x}, {});
  auto mx = run_single_op("GlobalMaxPool", {x}, {});
  ASSERT_TRUE(avg.status.ok() && mx.status.ok());
  std::vector<double> want_avg, want_max;
  for (int64_t p = 0; p < 6; ++p) {
    double s = 0, m = -1e30;
    for (int64_t i = 0; i < 40; ++i) {
      s += x.get_as_double(p * 40 + i);
      m = std::max(m, x.get_as_double(p * 40 + i));
    }
    want_avg.push_back(s / 40);
    want_max.push_back(m);
  }
  EXPECT_LT(rel_l2(avg.outputs[0], make_f32({2, 3, 1, 1, 1}, want_avg)), 1e-6);
  EXPECT_EQ(max_abs_diff(mx.outputs[0], make_f32({2, 3, 1, 1, 1}, want_max)), 0.0);
}

TEST(NnPool, Errors) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 1, 4, 4}, rng);
  auto no_kernel = run_single_op("MaxPool", {x}, {});
  EXPECT_EQ(no_kernel.status.code(), StatusCode::kShapeError);
  EXPECT_NE(no_kernel.status.message().find("kernel_shape"), std::string::npos);
  auto bad_strides = run_single_op("AveragePool", {x}, {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{1}}});
  EXPECT_EQ(bad_strides.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad_strides.status.message().find("strides"), std::string::npos);
}

// Mean and population variance of the values at `idx` (flat indices).
void stats(const Tensor& x, const std::vector<int64_t>& idx, double* mean, double* var) {
  double s = 0, q = 0;
  for (int64_t i : idx) s += x.get_as_double(i);
  *mean = s / static_cast<double>(idx.size());
  for (int64_t i : idx) q += (x.get_as_double(i) - *mean) * (x.get_as_double(i) - *mean);
  *var = q / static_cast<double>(idx.size());
}

TEST(NnNorm, BatchNormalization) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 5}, rng);
  Tensor sc = random_tensor(DataType::kFloat32, {3}, rng), b = random_tensor(DataType::kFloat32, {3}, rng);
  Tensor mean = random_tensor(DataType::kFloat32, {3}, rng), var = random_tensor(DataType::kFloat32, {3}, rng, 0.5, 1.5);
  auto r = run_single_op("BatchNormalization", {x, sc, b, mean, var}, {{"epsilon", 1e-3f}}, 1, {1, 2, 3, 4});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<double> want;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / 20) % 3;
    want.push_back((x.get_as_double(i) - mean.get_as_double(c)) / std::sqrt(var.get_as_double(c) + static_cast<double>(1e-3f)) *
                       sc.get_as_double(c) + b.get_as_double(c));
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32(x.shape(), want)), 1e-6);
  auto train = run_single_op("BatchNormalization", {x, sc, b, mean, var}, {{"training_mode", int64_t{1}}});
  EXPECT_EQ(train.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(train.status.message().find("training"), std::string::npos);
}

TEST(NnNorm, InstanceNormalization) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 5, 3}, rng);
  Tensor sc = random_tensor(DataType::kFloat32, {3}, rng), b = random_tensor(DataType::kFloat32, {3}, rng);
  auto r = run_single_op("InstanceNormalization", {x, sc, b}, {{"epsilon", 1e-3f}});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<double> want(static_cast<size_t>(x.numel()));
  for (int64_t p = 0; p < 6; ++p) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < 15; ++i) idx.push_back(p * 15 + i);
    double m = 0, v = 0;
    stats(x, idx, &m, &v);
    for (int64_t i : idx)
      want[static_cast<size_t>(i)] = (x.get_as_double(i) - m) / std::sqrt(v + static_cast<double>(1e-3f)) *
                                         sc.get_as_double(p % 3) + b.get_as_double(p % 3);
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32(x.shape(), want)), 1e-6);
}

TEST(NnNorm, LayerNormalizationBroadcastScaleAndStatOutputs) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 5}, rng);
  Tensor sc = random_tensor(DataType::kFloat32, {4, 5}, rng), b = random_tensor(DataType::kFloat32, {5}, rng);
  auto r = run_single_op("LayerNormalization", {x, sc, b}, {{"axis", int64_t{-2}}, {"epsilon", 1e-4f}}, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<double> want(static_cast<size_t>(x.numel())), means, invs;
  for (int64_t o = 0; o < 6; ++o) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < 20; ++i) idx.push_back(o * 20 + i);
    double m = 0, v = 0;
    stats(x, idx, &m, &v);
    const double inv = 1 / std::sqrt(v + static_cast<double>(1e-4f));
    means.push_back(m);
    invs.push_back(inv);
    for (int64_t i = 0; i < 20; ++i)
      want[static_cast<size_t>(o * 20 + i)] = (x.get_as_double(o * 20 + i) - m) * inv * sc.get_as_double(i) + b.get_as_double(i % 5);
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32(x.shape(), want)), 1e-6);
  EXPECT_LT(rel_l2(r.outputs[1], make_f32({2, 3, 1, 1}, means)), 1e-6);
  EXPECT_LT(rel_l2(r.outputs[2], make_f32({2, 3, 1, 1}, invs)), 1e-6);
  // axis 0, no bias: one normalization over everything.
  auto all = run_single_op("LayerNormalization", {x, random_tensor(DataType::kFloat32, {2, 3, 4, 5}, rng)}, {{"axis", int64_t{0}}});
  ASSERT_TRUE(all.status.ok()) << all.status.to_string();
  auto bad = run_single_op("LayerNormalization", {x, random_tensor(DataType::kFloat32, {3}, rng)}, {});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
}

TEST(NnNorm, GroupNormalization) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 6, 3, 4}, rng);
  Tensor sc = random_tensor(DataType::kFloat32, {6}, rng), b = random_tensor(DataType::kFloat32, {6}, rng);
  auto r = run_single_op("GroupNormalization", {x, sc, b}, {{"num_groups", int64_t{3}}, {"epsilon", 1e-3f}});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<double> want(static_cast<size_t>(x.numel()));
  for (int64_t g = 0; g < 6; ++g) {  // (n, group) pairs: 24 contiguous values each
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < 24; ++i) idx.push_back(g * 24 + i);
    double m = 0, v = 0;
    stats(x, idx, &m, &v);
    for (int64_t i : idx) {
      const int64_t c = (i / 12) % 6;
      want[static_cast<size_t>(i)] = (x.get_as_double(i) - m) / std::sqrt(v + static_cast<double>(1e-3f)) * sc.get_as_double(c) + b.get_as_double(c);
    }
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32(x.shape(), want)), 1e-6);
  auto bad = run_single_op("GroupNormalization", {x, sc, b}, {{"num_groups", int64_t{4}}});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad.status.message().find("divisible"), std::string::npos);
}

TEST(NnNorm, LrnEvenAndOddSizes) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 5, 3, 2}, rng);
  for (int64_t size : {3, 4}) {
    auto r = run_single_op("LRN", {x}, {{"size", size}, {"alpha", 2e-2f}, {"beta", 0.6f}, {"bias", 1.5f}});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    std::vector<double> want;
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t c = (i / 6) % 5, n = i / 30, s = i % 6;
      double sq = 0;
      for (int64_t k = c - (size - 1) / 2; k <= c + size / 2; ++k) {
        if (k < 0 || k >= 5) continue;
        const double v = x.get_as_double(n * 30 + k * 6 + s);
        sq += v * v;
      }
      want.push_back(x.get_as_double(i) / std::pow(1.5 + static_cast<double>(2e-2f) / static_cast<double>(size) * sq,
                                                   static_cast<double>(0.6f)));
    }
    EXPECT_LT(rel_l2(r.outputs[0], make_f32(x.shape(), want)), 1e-6) << "size " << size;
  }
}

TEST(NnNorm, MeanVarianceNormalization) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 4, 2}, rng);
  // Default axes {0, 2, 3}: statistics per channel over 16 values.
  auto r = run_single_op("MeanVarianceNormalization", {x}, {});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<double> want(static_cast<size_t>(x.numel()));
  for (int64_t c = 0; c < 3; ++c) {
    std::vector<int64_t> idx;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 8; ++i) idx.push_back((n * 3 + c) * 8 + i);
    double m = 0, v = 0;
    stats(x, idx, &m, &v);
    for (int64_t i : idx) want[static_cast<size_t>(i)] = (x.get_as_double(i) - m) / (std::sqrt(v) + 1e-9);
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32(x.shape(), want)), 1e-6);
  auto last = run_single_op("MeanVarianceNormalization", {x}, {{"axes", Ints{-1}}});
  ASSERT_TRUE(last.status.ok()) << last.status.to_string();
  std::vector<double> want_last;
  for (int64_t o = 0; o < 24; ++o) {
    double m = 0, v = 0;
    stats(x, {2 * o, 2 * o + 1}, &m, &v);
    for (int64_t i = 0; i < 2; ++i) want_last.push_back((x.get_as_double(2 * o + i) - m) / (std::sqrt(v) + 1e-9));
  }
  EXPECT_LT(rel_l2(last.outputs[0], make_f32(x.shape(), want_last)), 1e-6);
  auto bad = run_single_op("MeanVarianceNormalization", {x}, {{"axes", Ints{4}}});
  EXPECT_EQ(bad.status.code(), StatusCode::kShapeError);
}

TEST(NnPool, MaxUnpoolInvertsMaxPoolIndices) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 2, 4, 6}, rng);
  const Attrs attrs = {{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}};
  auto pooled = run_single_op("MaxPool", {x}, attrs, 2);
  ASSERT_TRUE(pooled.status.ok()) << pooled.status.to_string();
  const Tensor& y = pooled.outputs[0];
  const std::vector<int64_t> idx = pooled.outputs[1].to_int64_vector();
  auto un = run_single_op("MaxUnpool", {y, pooled.outputs[1]}, attrs);
  ASSERT_TRUE(un.status.ok()) << un.status.to_string();
  std::vector<double> want(48, 0.0), want_big(2 * 5 * 7, 0.0);
  for (size_t k = 0; k < idx.size(); ++k) {
    want[static_cast<size_t>(idx[k])] = y.get_as_double(static_cast<int64_t>(k));
    // Same (c, h, w) coordinates inside a [1, 2, 5, 7] output.
    const int64_t c = idx[k] / 24, h = idx[k] / 6 % 4, w = idx[k] % 6;
    want_big[static_cast<size_t>((c * 5 + h) * 7 + w)] = y.get_as_double(static_cast<int64_t>(k));
  }
  EXPECT_EQ(max_abs_diff(un.outputs[0], make_f32({1, 2, 4, 6}, want)), 0.0);
  Tensor shape = Tensor::from_vector<int64_t>(DataType::kInt64, {4}, {1, 2, 5, 7});
  auto big = run_single_op("MaxUnpool", {y, pooled.outputs[1], shape}, attrs, 1, {2});
  ASSERT_TRUE(big.status.ok()) << big.status.to_string();
  EXPECT_EQ(max_abs_diff(big.outputs[0], make_f32({1, 2, 5, 7}, want_big)), 0.0);
  Tensor bad_idx = Tensor::from_vector<int64_t>(DataType::kInt64, {1, 2, 2, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99});
  auto bad = run_single_op("MaxUnpool", {y, bad_idx}, attrs);
  EXPECT_EQ(bad.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status.message().find("99"), std::string::npos) << bad.status.message();
}

TEST(NnDropout, InferenceIsIdentityWithTrueMask) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {3, 7}, rng);
  Tensor ratio = Tensor::from_vector<float>(DataType::kFloat32, {}, {0.3f});
  auto r = run_single_op("Dropout", {x, ratio}, {}, 2);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(max_abs_diff(r.outputs[0], x), 0.0);
  ASSERT_EQ(r.outputs[1].dtype(), DataType::kBool);
  for (int64_t i = 0; i < 21; ++i) EXPECT_EQ(r.outputs[1].data<uint8_t>()[i], 1);
  Tensor on = Tensor::from_vector<uint8_t>(DataType::kBool, {}, {1});
  auto train = run_single_op("Dropout", {x, ratio, on}, {}, 1, {1, 2});
  EXPECT_EQ(train.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(train.status.message().find("training_mode"), std::string::npos);
  // Training with ratio 0 is still the identity.
  Tensor zero = Tensor::from_vector<float>(DataType::kFloat32, {}, {0.0f});
  auto train0 = run_single_op("Dropout", {x, zero, on}, {}, 2);
  ASSERT_TRUE(train0.status.ok()) << train0.status.to_string();
  EXPECT_EQ(max_abs_diff(train0.outputs[0], x), 0.0);
}

}  // namespace
}  // namespace slimrt
