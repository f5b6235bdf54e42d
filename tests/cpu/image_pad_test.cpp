// Pad, DepthToSpace and SpaceToDepth against per-axis reference loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/test_util.h"

namespace slimrt {
namespace {

using testing::make_rng;
using testing::max_abs_diff;
using testing::random_tensor;
using testing::run_single_op;
using Ints = std::vector<int64_t>;

struct Dense {
  Ints shape;
  std::vector<double> v;
};

Dense dense_of(const Tensor& t) {
  Dense d{t.shape(), {}};
  for (int64_t i = 0; i < t.numel(); ++i) d.v.push_back(t.get_as_double(i));
  return d;
}

// Pads (or crops, for negative amounts) one axis the way numpy.pad does after slicing.
Dense pad_axis(const Dense& in, size_t axis, int64_t pb, int64_t pe, const std::string& mode, double cval) {
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= in.shape[d];
  for (size_t d = axis + 1; d < in.shape.size(); ++d) inner *= in.shape[d];
  const int64_t n = in.shape[axis];
  const int64_t lo = pb < 0 ? -pb : 0, len = n - lo - (pe < 0 ? -pe : 0);
  const int64_t before = pb > 0 ? pb : 0, after = pe > 0 ? pe : 0;
  Dense out{in.shape, {}};
  out.shape[axis] = len + before + after;
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<std::vector<double>> rows;  // rows[k] = the slice at cropped index k
    for (int64_t k = 0; k < len; ++k) {
      std::vector<double> row;
      for (int64_t i = 0; i < inner; ++i) row.push_back(in.v[static_cast<size_t>((o * n + lo + k) * inner + i)]);
      rows.push_back(row);
    }
    auto pick = [&](int64_t j) -> std::vector<double> {
      if (j >= 0 && j < len) return rows[static_cast<size_t>(j)];
      if (mode == "constant") return std::vector<double>(static_cast<size_t>(inner), cval);
      if (mode == "edge") return rows[static_cast<size_t>(j < 0 ? 0 : len - 1)];
      if (mode == "wrap") return rows[static_cast<size_t>(((j % len) + len) % len)];
      return rows[static_cast<size_t>(j < 0 ? -j : 2 * (len - 1) - j)];  // reflect, |pad| < len
    };
    for (int64_t j = -before; j < len + after; ++j) {
      auto row = pick(j);
      out.v.insert(out.v.end(), row.begin(), row.end());
    }
  }
  return out;
}

Tensor to_tensor(DataType dt, const Dense& d) {
  Tensor t = Tensor::allocate(dt, d.shape).value();
  for (size_t i = 0; i < d.v.size(); ++i) {
    if (dt == DataType::kFloat32) t.data<float>()[i] = static_cast<float>(d.v[i]);
    else t.data<int64_t>()[i] = static_cast<int64_t>(d.v[i]);
  }
  return t;
}

Tensor ints(const Ints& v) { return Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(v.size())}, v); }

TEST(ImagePad, ConstantWithNegativePadsAxesAndValue) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 5}, rng);
  Tensor value = Tensor::from_vector<float>(DataType::kFloat32, {}, {2.5f});
  // axes {-1, 1}: last axis begin 2 / end -1, axis 1 begin -1 / end 3.
  auto r = run_single_op("Pad", {x, ints({2, -1, -1, 3}), value, ints({-1, 1})}, {}, 1, {1, 2, 3});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  Dense want = pad_axis(pad_axis(dense_of(x), 2, 2, -1, "constant", 2.5), 1, -1, 3, "constant", 2.5);
  EXPECT_EQ(r.outputs[0].shape(), (Ints{2, 5, 6}));
  EXPECT_EQ(max_abs_diff(r.outputs[0], to_tensor(DataType::kFloat32, want)), 0.0);
}

TEST(ImagePad, ReflectEdgeWrap) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {3, 4, 5}, rng);
  const Ints pads = {1, 3, -1, 2, 0, 2};  // begin 1,3,-1; end 2,0,2 (reflect needs |pad| < len)
  for (const std::string mode : {"reflect", "edge", "wrap"}) {
    auto r = run_single_op("Pad", {x, ints(pads)}, {{"mode", mode}}, 1, {1});
    ASSERT_TRUE(r.status.ok()) << mode << ": " << r.status.to_string();
    Dense want = dense_of(x);
    for (size_t d = 0; d < 3; ++d) want = pad_axis(want, d, pads[d], pads[d + 3], mode, 0);
    EXPECT_EQ(max_abs_diff(r.outputs[0], to_tensor(DataType::kFloat32, want)), 0.0) << mode;
  }
  // wrap and edge with pads longer than the axis.
  for (const std::string mode : {"edge", "wrap"}) {
    auto r = run_single_op("Pad", {x, ints({0, 9, 0, 0, 7, 0})}, {{"mode", mode}}, 1, {1});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    Dense want = pad_axis(dense_of(x), 1, 9, 7, mode, 0);
    EXPECT_EQ(max_abs_diff(r.outputs[0], to_tensor(DataType::kFloat32, want)), 0.0) << mode;
  }
}

TEST(ImagePad, IntegerDataDefaultsToZero) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kInt64, {2, 3}, rng, -50, 50);
  auto r = run_single_op("Pad", {x, ints({1, 0, 0, 2})}, {}, 1, {1});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  Dense want = pad_axis(pad_axis(dense_of(x), 0, 1, 0, "constant", 0), 1, 0, 2, "constant", 0);
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kInt64);
  EXPECT_EQ(max_abs_diff(r.outputs[0], to_tensor(DataType::kInt64, want)), 0.0);
}

TEST(ImagePadShapes, SymbolicDimsAndErrors) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("N"), 5});
  Node* n = g.add_node("Pad", "pad", {x, g.add_initializer("pads", ints({0, 1, 0, 2}))}, 1);
  g.add_output(n->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  EXPECT_EQ(shape_to_string(g.outputs()[0]->shape()), "[N,8]");
  auto rng = make_rng();
  Tensor t = random_tensor(DataType::kFloat32, {2, 3}, rng);
  auto bad_len = run_single_op("Pad", {t, ints({1, 1, 1})}, {}, 1, {1});
  EXPECT_EQ(bad_len.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad_len.status.message().find("pads has 3 entries"), std::string::npos) << bad_len.status.message();
  auto too_much = run_single_op("Pad", {t, ints({0, -2, 0, -2})}, {}, 1, {1});
  EXPECT_EQ(too_much.status.code(), StatusCode::kShapeError);
  auto bad_mode = run_single_op("Pad", {t, ints({0, 0, 0, 0})}, {{"mode", std::string("symmetric")}}, 1, {1});
  EXPECT_EQ(bad_mode.status.code(), StatusCode::kUnsupported);
}

TEST(ImageDepthSpace, DcrCrdAndSpaceToDepth) {
  auto rng = make_rng();
  const int64_t n = 2, c = 3, b = 2, h = 3, w = 4;
  Tensor x = random_tensor(DataType::kFloat32, {n, c * b * b, h, w}, rng);
  for (const std::string mode : {"DCR", "CRD"}) {
    auto r = run_single_op("DepthToSpace", {x}, {{"blocksize", b}, {"mode", mode}});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    ASSERT_EQ(r.outputs[0].shape(), (Ints{n, c, h * b, w * b}));
    double worst = 0;
    for (int64_t in = 0; in < n; ++in)
      for (int64_t ic = 0; ic < c; ++ic)
        for (int64_t ih = 0; ih < h * b; ++ih)
          for (int64_t iw = 0; iw < w * b; ++iw) {
            const int64_t i = ih % b, j = iw % b;
            const int64_t src_c = mode == "DCR" ? (i * b + j) * c + ic : ic * b * b + i * b + j;
            const double want = x.get_as_double(((in * c * b * b + src_c) * h + ih / b) * w + iw / b);
            const double got = r.outputs[0].get_as_double(((in * c + ic) * h * b + ih) * w * b + iw);
            worst = std::max(worst, std::fabs(want - got));
          }
    EXPECT_EQ(worst, 0.0) << mode;
  }
  // SpaceToDepth inverts DCR DepthToSpace.
  auto d2s = run_single_op("DepthToSpace", {x}, {{"blocksize", b}});
  auto s2d = run_single_op("SpaceToDepth", {d2s.outputs[0]}, {{"blocksize", b}});
  ASSERT_TRUE(s2d.status.ok()) << s2d.status.to_string();
  EXPECT_EQ(max_abs_diff(s2d.outputs[0], x), 0.0);
  // Byte-moving ops keep float16 as is.
  Tensor half = random_tensor(DataType::kFloat16, {1, 4, 2, 2}, rng);
  auto h2 = run_single_op("DepthToSpace", {half}, {{"blocksize", int64_t{2}}});
  ASSERT_TRUE(h2.status.ok());
  EXPECT_EQ(h2.outputs[0].dtype(), DataType::kFloat16);
}

TEST(ImageDepthSpace, Errors) {
  auto rng = make_rng();
  auto bad_c = run_single_op("DepthToSpace", {random_tensor(DataType::kFloat32, {1, 6, 2, 2}, rng)}, {{"blocksize", int64_t{2}}});
  EXPECT_EQ(bad_c.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad_c.status.message().find("not divisible by 4"), std::string::npos) << bad_c.status.message();
  auto bad_hw = run_single_op("SpaceToDepth", {random_tensor(DataType::kFloat32, {1, 1, 3, 4}, rng)}, {{"blocksize", int64_t{2}}});
  EXPECT_EQ(bad_hw.status.code(), StatusCode::kShapeError);
  auto bad_rank = run_single_op("SpaceToDepth", {random_tensor(DataType::kFloat32, {1, 4, 4}, rng)}, {{"blocksize", int64_t{2}}});
  EXPECT_EQ(bad_rank.status.code(), StatusCode::kShapeError);
}

}  // namespace
}  // namespace slimrt
