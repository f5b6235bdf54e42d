// Conv and ConvTranspose: kernels against direct double-precision loops, shape inference with
// symbolic dims, and errors.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::random_tensor;
using testing::rel_l2;
using testing::run_single_op;
using Attrs = std::vector<std::pair<std::string, Attribute>>;
using Ints = std::vector<int64_t>;

// Calls f(index) for every multi-index below dims, row-major.
void for_each_index(const Ints& dims, const std::function<void(const Ints&)>& f) {
  for (int64_t d : dims) {
    if (d <= 0) return;
  }
  Ints idx(dims.size(), 0);
  while (true) {
    f(idx);
    size_t d = dims.size();
    while (d > 0) {
      --d;
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
      if (d == 0) return;
    }
    if (dims.empty()) return;
  }
}

int64_t flat(const Ints& dims, const Ints& idx) {
  int64_t f = 0;
  for (size_t i = 0; i < dims.size(); ++i) f = f * dims[i] + idx[i];
  return f;
}

// Expected values in float64 for float64 inputs, float32 otherwise.
Tensor from_doubles(DataType dt, const Ints& shape, const std::vector<double>& v) {
  if (dt != DataType::kFloat64) dt = DataType::kFloat32;
  Tensor t = Tensor::allocate(dt, shape).value();
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == DataType::kFloat64) t.data<double>()[i] = v[i];
    else t.data<float>()[i] = static_cast<float>(v[i]);
  }
  return t;
}

struct ConvSpec {
  Ints strides, dilations, pads;  // pads: begin..., end...
  int64_t group = 1;
};

// Direct convolution: y[n,m,o] = b[m] + sum_{c,k} x[n, g*cg + c, o*s - pb + k*d] * w[m, c, k].
Tensor ref_conv(const Tensor& x, const Tensor& w, const Tensor* b, const ConvSpec& s) {
  const size_t nd = x.rank() - 2;
  const int64_t n = x.dim(0), c = x.dim(1), m = w.dim(0), cg = c / s.group, mg = m / s.group;
  Ints in(x.shape().begin() + 2, x.shape().end()), k(w.shape().begin() + 2, w.shape().end()), out(nd);
  for (size_t i = 0; i < nd; ++i)
    out[i] = (in[i] + s.pads[i] + s.pads[i + nd] - s.dilations[i] * (k[i] - 1) - 1) / s.strides[i] + 1;
  Ints yshape = {n, m};
  yshape.insert(yshape.end(), out.begin(), out.end());
  std::vector<double> y(static_cast<size_t>(numel_of(yshape)));
  for_each_index(yshape, [&](const Ints& yi) {
    const int64_t g = yi[1] / mg;
    double acc = b ? b->get_as_double(yi[1]) : 0.0;
    for (int64_t ci = 0; ci < cg; ++ci) {
      for_each_index(k, [&](const Ints& ki) {
        Ints xi = {yi[0], g * cg + ci};
        for (size_t i = 0; i < nd; ++i) {
          const int64_t p = yi[i + 2] * s.strides[i] - s.pads[i] + ki[i] * s.dilations[i];
          if (p < 0 || p >= in[i]) return;
          xi.push_back(p);
        }
        Ints wi = {yi[1], ci};
        wi.insert(wi.end(), ki.begin(), ki.end());
        acc += x.get_as_double(flat(x.shape(), xi)) * w.get_as_double(flat(w.shape(), wi));
      });
    }
    y[static_cast<size_t>(flat(yshape, yi))] = acc;
  });
  return from_doubles(x.dtype(), yshape, y);
}

// Direct transposed convolution: every x[n, c, i] * w[c, m', k] lands on output position
// i*s - pb + k*d (when inside the output of size out).
Tensor ref_conv_transpose(const Tensor& x, const Tensor& w, const Tensor* b, const ConvSpec& s, const Ints& out) {
  const size_t nd = x.rank() - 2;
  const int64_t n = x.dim(0), c = x.dim(1), mg = w.dim(1), cg = c / s.group, m = mg * s.group;
  Ints in(x.shape().begin() + 2, x.shape().end()), k(w.shape().begin() + 2, w.shape().end());
  Ints yshape = {n, m};
  yshape.insert(yshape.end(), out.begin(), out.end());
  std::vector<double> y(static_cast<size_t>(numel_of(yshape)), 0.0);
  for_each_index(yshape, [&](const Ints& yi) {
    y[static_cast<size_t>(flat(yshape, yi))] = b ? b->get_as_double(yi[1]) : 0.0;
  });
  for_each_index(x.shape(), [&](const Ints& xi) {
    const int64_t g = xi[1] / cg;
    for (int64_t mi = 0; mi < mg; ++mi) {
      for_each_index(k, [&](const Ints& ki) {
        Ints yi = {xi[0], g * mg + mi};
        for (size_t i = 0; i < nd; ++i) {
          const int64_t p = xi[i + 2] * s.strides[i] - s.pads[i] + ki[i] * s.dilations[i];
          if (p < 0 || p >= out[i]) return;
          yi.push_back(p);
        }
        Ints wi = {xi[1], mi};
        wi.insert(wi.end(), ki.begin(), ki.end());
        y[static_cast<size_t>(flat(yshape, yi))] +=
            x.get_as_double(flat(x.shape(), xi)) * w.get_as_double(flat(w.shape(), wi));
      });
    }
  });
  return from_doubles(x.dtype(), yshape, y);
}

Attrs conv_attrs(const ConvSpec& s) {
  return {{"strides", s.strides}, {"dilations", s.dilations}, {"pads", s.pads}, {"group", s.group}};
}

void expect_conv(const Ints& xs, const Ints& ws, bool bias, const ConvSpec& s, DataType dt = DataType::kFloat32,
                 Attrs extra = {}, const ConvSpec* ref_spec = nullptr) {
  auto rng = make_rng(static_cast<uint64_t>(numel_of(xs) * 31 + numel_of(ws)));
  Tensor x = random_tensor(dt, xs, rng), w = random_tensor(dt, ws, rng);
  Tensor b = bias ? random_tensor(dt, {ws[0]}, rng) : Tensor();
  Attrs attrs = extra.empty() ? conv_attrs(s) : extra;
  auto r = run_single_op("Conv", bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w}, attrs, 1, {1});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  Tensor want = ref_conv(x, w, bias ? &b : nullptr, ref_spec ? *ref_spec : s);
  EXPECT_EQ(r.outputs[0].shape(), want.shape());
  EXPECT_LT(rel_l2(r.outputs[0], want), dt == DataType::kFloat64 ? 1e-13 : 1e-6);
}

TEST(NnConv, Conv2dGroupsStridesDilationsAsymmetricPads) {
  expect_conv({2, 6, 7, 9}, {4, 3, 3, 2}, true, {{2, 1}, {1, 2}, {1, 0, 2, 1}, 2});
}

TEST(NnConv, Conv2dPointwiseAndPlain) {
  expect_conv({3, 5, 6, 7}, {8, 5, 1, 1}, false, {{1, 1}, {1, 1}, {0, 0, 0, 0}, 1});
  expect_conv({1, 3, 11, 10}, {5, 3, 3, 3}, true, {{1, 1}, {1, 1}, {1, 1, 1, 1}, 1});
  // 1x1 with stride 2 goes through im2col.
  expect_conv({1, 4, 9, 9}, {3, 4, 1, 1}, true, {{2, 2}, {1, 1}, {0, 0, 0, 0}, 1});
}

TEST(NnConv, DepthwiseWithMultiplier) {
  expect_conv({2, 4, 9, 8}, {8, 1, 3, 3}, true, {{2, 2}, {1, 1}, {1, 1, 1, 1}, 4});
  expect_conv({1, 3, 7, 7}, {3, 1, 5, 5}, false, {{1, 1}, {2, 2}, {4, 4, 4, 4}, 3});
}

TEST(NnConv, Conv1dAnd3d) {
  expect_conv({2, 3, 13}, {4, 3, 4}, true, {{3}, {2}, {2, 1}, 1});
  expect_conv({1, 4, 5, 6, 7}, {6, 2, 2, 3, 2}, true, {{1, 2, 1}, {2, 1, 1}, {0, 1, 1, 1, 0, 0}, 2});
}

TEST(NnConv, AutoPadSameAndValid) {
  // SAME_UPPER on 7 with k=4, s=2: out 4, total pad 4*... = (4-1)*2+4-7 = 3 -> begin 1, end 2.
  Attrs upper = {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Ints{2, 2}}};
  ConvSpec ref_upper{{2, 2}, {1, 1}, {1, 1, 2, 2}, 1};
  expect_conv({1, 2, 7, 7}, {3, 2, 4, 4}, true, ref_upper, DataType::kFloat32, upper, &ref_upper);
  Attrs lower = {{"auto_pad", std::string("SAME_LOWER")}, {"strides", Ints{2, 2}}};
  ConvSpec ref_lower{{2, 2}, {1, 1}, {2, 2, 1, 1}, 1};
  expect_conv({1, 2, 7, 7}, {3, 2, 4, 4}, false, ref_lower, DataType::kFloat32, lower, &ref_lower);
  Attrs valid = {{"auto_pad", std::string("VALID")}, {"pads", Ints{5, 5, 5, 5}}};
  ConvSpec ref_valid{{1, 1}, {1, 1}, {0, 0, 0, 0}, 1};
  expect_conv({2, 2, 6, 5}, {3, 2, 3, 2}, true, ref_valid, DataType::kFloat32, valid, &ref_valid);
}

TEST(NnConv, DoublePrecision) {
  expect_conv({2, 4, 6, 5}, {6, 2, 3, 3}, true, {{1, 2}, {1, 1}, {1, 1, 0, 1}, 2}, DataType::kFloat64);
}

TEST(NnConv, Float16InputsAreWidened) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat16, {1, 2, 5, 5}, rng), w = random_tensor(DataType::kFloat16, {2, 2, 3, 3}, rng);
  auto r = run_single_op("Conv", {x, w}, {{"pads", Ints{1, 1, 1, 1}}});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat16);
  Tensor want = ref_conv(x, w, nullptr, {{1, 1}, {1, 1}, {1, 1, 1, 1}, 1});
  EXPECT_LT(rel_l2(r.outputs[0], want), 2e-3);
}

// A seeded sweep over ranks, kernels, strides, dilations, pads and groups (incl. depthwise),
// each against the direct loops; catches edge cases of the im2col valid-range arithmetic.
TEST(NnConv, RandomizedSweep) {
  auto rng = make_rng();
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const size_t nd = static_cast<size_t>(pick(1, 3));
    const int64_t group = pick(0, 2) == 0 ? 1 : pick(1, 3);
    const bool depthwise = pick(0, 3) == 0;
    const int64_t cg = depthwise ? 1 : pick(1, 3), c = cg * group, mg = pick(1, 3);
    ConvSpec s;
    s.group = group;
    Ints xs = {pick(1, 2), c}, ws = {mg * group, cg};
    bool ok = true;
    s.pads.assign(2 * nd, 0);
    for (size_t i = 0; i < nd; ++i) {
      const int64_t in = pick(1, nd == 3 ? 6 : 11), k = pick(1, 4), d = pick(1, 3), st = pick(1, 3);
      xs.push_back(in);
      ws.push_back(k);
      s.strides.push_back(st);
      s.dilations.push_back(d);
      s.pads[i] = pick(0, 3);
      s.pads[i + nd] = pick(0, 3);
      ok &= in + s.pads[i] + s.pads[i + nd] >= d * (k - 1) + 1;
    }
    if (!ok) continue;
    SCOPED_TRACE("iteration " + std::to_string(iter) + " x " + shape_to_string(xs) + " w " + shape_to_string(ws));
    expect_conv(xs, ws, pick(0, 1) == 1, s);
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

struct TransposeCase {
  Ints xs, ws;
  ConvSpec spec;
  Ints output_padding;
  Ints want_out;  // spatial
};

void expect_conv_transpose(const TransposeCase& c, bool bias, Attrs attrs = {}) {
  auto rng = make_rng(static_cast<uint64_t>(numel_of(c.xs)));
  Tensor x = random_tensor(DataType::kFloat32, c.xs, rng), w = random_tensor(DataType::kFloat32, c.ws, rng);
  Tensor b = bias ? random_tensor(DataType::kFloat32, {c.ws[1] * c.spec.group}, rng) : Tensor();
  if (attrs.empty()) {
    attrs = conv_attrs(c.spec);
    attrs.push_back({"output_padding", c.output_padding});
  }
  auto r = run_single_op("ConvTranspose", bias ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w}, attrs);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  Tensor want = ref_conv_transpose(x, w, bias ? &b : nullptr, c.spec, c.want_out);
  EXPECT_EQ(r.outputs[0].shape(), want.shape());
  EXPECT_LT(rel_l2(r.outputs[0], want), 1e-6);
}

TEST(NnConvTranspose, StridesPadsDilationsOutputPaddingGroups) {
  // out = s*(in-1) + op + d*(k-1) + 1 - pb - pe: (2*4 + 1 + 2 + 1 - 1 - 0) = 11, (3*2 + 0 + 2 + 1 - 0 - 2) = 7.
  expect_conv_transpose({{2, 4, 5, 3}, {4, 3, 2, 3}, {{2, 3}, {2, 1}, {1, 0, 0, 2}, 2}, {1, 0}, {11, 7}}, true);
  expect_conv_transpose({{1, 3, 6}, {3, 2, 3}, {{1}, {1}, {1, 1}, 1}, {0}, {6}}, false);
  expect_conv_transpose({{1, 2, 3, 2, 3}, {2, 2, 2, 2, 2}, {{2, 2, 1}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, 1}, {0, 1, 0}, {6, 5, 4}},
                        true);
}

TEST(NnConvTranspose, OutputShapeAndSameUpper) {
  // output_shape 10 from a full size of 2*(4-1)+3 = 9: total pad -1 -> begin 0, end -1.
  TransposeCase c{{1, 2, 4}, {2, 3, 3}, {{2}, {1}, {0, 0}, 1}, {0}, {10}};
  expect_conv_transpose(c, true, {{"strides", Ints{2}}, {"output_shape", Ints{10}}});
  // SAME_UPPER: out = in*s = 8; total = 9-8 = 1 -> begin 0, end 1.
  TransposeCase same{{1, 2, 4}, {2, 3, 3}, {{2}, {1}, {0, 1}, 1}, {0}, {8}};
  expect_conv_transpose(same, false, {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}});
}

Result<Graph> conv_graph(Shape xs, const Ints& ws, const Attrs& attrs) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, std::move(xs));
  Value* w = g.add_initializer("w", Tensor::allocate(DataType::kFloat32, ws).value());
  Node* n = g.add_node("Conv", "conv", {x, w}, 1);
  for (const auto& [k, v] : attrs) n->set_attr(k, v);
  g.add_output(n->output(0));
  Status s = infer_shapes(g);
  if (!s.ok()) return s;
  return g;
}

TEST(NnConvShapes, SymbolicBatchAndSpatial) {
  auto g = conv_graph({Dim::symbol("N"), 3, 32, 31}, {8, 3, 3, 3}, {{"strides", Ints{2, 2}}, {"pads", Ints{1, 1, 1, 1}}});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(shape_to_string(g->outputs()[0]->shape()), "[N,8,16,16]");
  // Stride 1 keeps symbolic spatial dims exact.
  auto same = conv_graph({Dim::symbol("N"), 3, Dim::symbol("H"), Dim::symbol("W")}, {8, 3, 3, 3},
                         {{"auto_pad", std::string("SAME_UPPER")}});
  ASSERT_TRUE(same.ok()) << same.status().to_string();
  EXPECT_EQ(shape_to_string(same->outputs()[0]->shape()), "[N,8,H,W]");
  auto pad1 = conv_graph({1, 3, Dim::symbol("H"), 8}, {8, 3, 3, 3}, {{"pads", Ints{1, 0, 1, 0}}});
  ASSERT_TRUE(pad1.ok());
  const Shape& s = pad1->outputs()[0]->shape();
  EXPECT_EQ(s[2], Dim::symbol("H"));
  EXPECT_EQ(s[3], Dim(6));
  // Stride 2 on a symbolic dim: a fresh symbol.
  auto strided = conv_graph({1, 3, Dim::symbol("H"), 8}, {8, 3, 3, 3}, {{"strides", Ints{2, 2}}});
  ASSERT_TRUE(strided.ok());
  EXPECT_FALSE(strided->outputs()[0]->shape()[2].is_static());
}

TEST(NnConvShapes, ChannelMismatchIsAShapeError) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 4, 5, 5}, rng), w = random_tensor(DataType::kFloat32, {2, 3, 3, 3}, rng);
  auto r = run_single_op("Conv", {x, w}, {});
  EXPECT_EQ(r.status.code(), StatusCode::kShapeError);
  EXPECT_NE(r.status.message().find("channels"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("[2,3,3,3]"), std::string::npos) << r.status.message();
  auto bad_group = run_single_op("Conv", {random_tensor(DataType::kFloat32, {1, 6, 5, 5}, rng),
                                         random_tensor(DataType::kFloat32, {3, 3, 3, 3}, rng)},
                                 {{"group", int64_t{2}}});
  EXPECT_EQ(bad_group.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad_group.status.message().find("divisible"), std::string::npos) << bad_group.status.message();
  auto too_small = run_single_op("Conv", {random_tensor(DataType::kFloat32, {1, 1, 2, 2}, rng),
                                         random_tensor(DataType::kFloat32, {1, 1, 3, 3}, rng)},
                                 {});
  EXPECT_EQ(too_small.status.code(), StatusCode::kShapeError);
  auto bad_pad = run_single_op("Conv", {x, random_tensor(DataType::kFloat32, {2, 4, 3, 3}, rng)},
                               {{"auto_pad", std::string("SAME")}});
  EXPECT_EQ(bad_pad.status.code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace slimrt
