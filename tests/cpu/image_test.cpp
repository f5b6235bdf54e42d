// Resize against classic interpolation formulas (and PyTorch's antialiased resampling, values
// computed once with torch 1.13 and embedded), plus Resize shape inference and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

Tensor make_f32(const Ints& shape, const std::vector<double>& v) {
  Tensor t = Tensor::allocate(DataType::kFloat32, shape).value();
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = static_cast<float>(v[i]);
  return t;
}

Tensor scales_of(const std::vector<float>& s) {
  return Tensor::from_vector<float>(DataType::kFloat32, {static_cast<int64_t>(s.size())}, s);
}
Tensor sizes_of(const Ints& s) { return Tensor::from_vector<int64_t>(DataType::kInt64, {static_cast<int64_t>(s.size())}, s); }

// One separable 1-D interpolation tap set: indices (already clamped) and weights.
struct Taps1 {
  std::vector<int64_t> idx;
  std::vector<double> w;
};

double cubic(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

// Classic linear / cubic taps around a source coordinate, indices clamped to the edge.
Taps1 taps_at(double src, int64_t in, bool is_cubic) {
  Taps1 t;
  const int64_t f = static_cast<int64_t>(std::floor(src));
  const double r = src - static_cast<double>(f);
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  if (is_cubic) {
    for (int64_t k = -1; k <= 2; ++k) {
      t.idx.push_back(clamp(f + k));
      t.w.push_back(cubic(static_cast<double>(k) - r, -0.75));
    }
  } else {
    t.idx = {clamp(f), clamp(f + 1)};
    t.w = {1 - r, r};
  }
  return t;
}

// 2-D separable resampling of the last two axes of x [N, C, H, W].
Tensor resample2d(const Tensor& x, int64_t oh, int64_t ow, const std::vector<Taps1>& th, const std::vector<Taps1>& tw) {
  const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
  std::vector<double> y;
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < oh; ++i) {
      for (int64_t j = 0; j < ow; ++j) {
        double acc = 0;
        for (size_t a = 0; a < th[static_cast<size_t>(i)].idx.size(); ++a)
          for (size_t b = 0; b < tw[static_cast<size_t>(j)].idx.size(); ++b)
            acc += th[static_cast<size_t>(i)].w[a] * tw[static_cast<size_t>(j)].w[b] *
                   x.get_as_double(p * h * w + th[static_cast<size_t>(i)].idx[a] * w + tw[static_cast<size_t>(j)].idx[b]);
        y.push_back(acc);
      }
    }
  }
  return make_f32({x.dim(0), x.dim(1), oh, ow}, y);
}

TEST(ImageResize, LinearAndCubicHalfPixelFromSizes) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 5, 7}, rng);
  for (const std::string mode : {"linear", "cubic"}) {
    auto r = run_single_op("Resize", {x, Tensor(), Tensor(), sizes_of({2, 3, 8, 3})}, {{"mode", mode}}, 1, {3});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    std::vector<Taps1> th, tw;
    for (int64_t i = 0; i < 8; ++i) th.push_back(taps_at((i + 0.5) * 5.0 / 8.0 - 0.5, 5, mode == "cubic"));
    for (int64_t j = 0; j < 3; ++j) tw.push_back(taps_at((j + 0.5) * 7.0 / 3.0 - 0.5, 7, mode == "cubic"));
    EXPECT_LT(rel_l2(r.outputs[0], resample2d(x, 8, 3, th, tw)), 1e-6) << mode;
  }
}

TEST(ImageResize, LinearAlignCornersAndAsymmetricFromScales) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 2, 4, 6}, rng);
  // scales 1.5 / 0.5: outputs floor(6) = 6 and floor(3) = 3.
  auto ac = run_single_op("Resize", {x, Tensor(), scales_of({1, 1, 1.5f, 0.5f})},
                          {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("align_corners")}},
                          1, {2});
  ASSERT_TRUE(ac.status.ok()) << ac.status.to_string();
  std::vector<Taps1> th, tw;
  for (int64_t i = 0; i < 6; ++i) th.push_back(taps_at(i * 3.0 / 5.0, 4, false));
  for (int64_t j = 0; j < 3; ++j) tw.push_back(taps_at(j * 5.0 / 2.0, 6, false));
  EXPECT_LT(rel_l2(ac.outputs[0], resample2d(x, 6, 3, th, tw)), 1e-6);
  auto as = run_single_op("Resize", {x, Tensor(), scales_of({1, 1, 1.5f, 0.5f})},
                          {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("asymmetric")}},
                          1, {2});
  ASSERT_TRUE(as.status.ok()) << as.status.to_string();
  th.clear();
  tw.clear();
  for (int64_t i = 0; i < 6; ++i) th.push_back(taps_at(i / 1.5, 4, false));
  for (int64_t j = 0; j < 3; ++j) tw.push_back(taps_at(j / 0.5, 6, false));
  EXPECT_LT(rel_l2(as.outputs[0], resample2d(x, 6, 3, th, tw)), 1e-6);
}

// Seeded sweep: random up/down sizes, linear and cubic, four coordinate transforms.
TEST(ImageResize, RandomizedSweep) {
  auto rng = make_rng();
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const std::string ctms[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"};
  for (int iter = 0; iter < 40; ++iter) {
    const int64_t ih = pick(1, 7), iw = pick(1, 7), oh = pick(1, 9), ow = pick(1, 9);
    const std::string mode = pick(0, 1) ? "cubic" : "linear";
    const std::string ctm = ctms[pick(0, 3)];
    Tensor x = random_tensor(DataType::kFloat32, {1, 2, ih, iw}, rng);
    auto r = run_single_op("Resize", {x, Tensor(), Tensor(), sizes_of({1, 2, oh, ow})},
                           {{"mode", mode}, {"coordinate_transformation_mode", ctm}}, 1, {3});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    auto src = [&](int64_t o, int64_t in, int64_t out) {
      const double scale = static_cast<double>(out) / static_cast<double>(in);
      if (ctm == "align_corners") return out == 1 ? 0.0 : static_cast<double>(o) * static_cast<double>(in - 1) / static_cast<double>(out - 1);
      if (ctm == "asymmetric") return static_cast<double>(o) / scale;
      if (ctm == "pytorch_half_pixel" && out == 1) return -0.5;
      return (static_cast<double>(o) + 0.5) / scale - 0.5;
    };
    std::vector<Taps1> th, tw;
    for (int64_t i = 0; i < oh; ++i) th.push_back(taps_at(src(i, ih, oh), ih, mode == "cubic"));
    for (int64_t j = 0; j < ow; ++j) tw.push_back(taps_at(src(j, iw, ow), iw, mode == "cubic"));
    EXPECT_LT(rel_l2(r.outputs[0], resample2d(x, oh, ow, th, tw)), 1e-6)
        << mode << " " << ctm << " [" << ih << "," << iw << "] -> [" << oh << "," << ow << "]";
  }
}

TEST(ImageResize, NearestModes) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 1, 3, 4}, rng);
  struct Case {
    std::string mode;
    double (*pick)(double);
  };
  const Case cases[] = {
      {"floor", [](double v) { return std::floor(v); }},
      {"ceil", [](double v) { return std::ceil(v); }},
      {"round_prefer_floor", [](double v) { return v - std::floor(v) == 0.5 ? std::floor(v) : std::round(v); }},
      {"round_prefer_ceil", [](double v) { return v - std::floor(v) == 0.5 ? std::ceil(v) : std::round(v); }},
  };
  for (const Case& c : cases) {
    // Upsample 2.5x (asymmetric: src = o / 2.5) and 0.75x on the width (floor(3) = 3).
    auto r = run_single_op("Resize", {x, Tensor(), scales_of({1, 1, 2.5f, 0.75f})},
                           {{"nearest_mode", c.mode}, {"coordinate_transformation_mode", std::string("asymmetric")}}, 1, {2});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    std::vector<Taps1> th, tw;
    for (int64_t i = 0; i < 7; ++i)
      th.push_back({{std::min<int64_t>(static_cast<int64_t>(c.pick(i / 2.5)), 2)}, {1.0}});
    for (int64_t j = 0; j < 3; ++j)
      tw.push_back({{std::min<int64_t>(static_cast<int64_t>(c.pick(j / static_cast<double>(0.75f))), 3)}, {1.0}});
    EXPECT_EQ(max_abs_diff(r.outputs[0], resample2d(x, 7, 3, th, tw)), 0.0) << c.mode;
  }
}

TEST(ImageResize, NearestOnIntegers) {
  Tensor x = Tensor::from_vector<uint8_t>(DataType::kUInt8, {1, 1, 2, 2}, {10, 20, 30, 40});
  auto r = run_single_op("Resize", {x, Tensor(), scales_of({1, 1, 2, 2})}, {}, 1, {2});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kUInt8);
  const std::vector<int64_t> want = {10, 10, 20, 20, 10, 10, 20, 20, 30, 30, 40, 40, 30, 30, 40, 40};
  std::vector<int64_t> got;
  for (int64_t i = 0; i < 16; ++i) got.push_back(r.outputs[0].get_as_int64(i));
  EXPECT_EQ(got, want);
}

TEST(ImageResize, AntialiasExcludeOutsideMatchesPyTorch) {
  // x[i] = ((7 i) mod 11) / 4 on [1, 1, 6, 8] resized to [4, 3] through axes {-2, -1}; with
  // exclude_outside the ONNX filter equals PyTorch's antialias=True (cubic there uses a = -0.5).
  std::vector<double> xv;
  for (int64_t i = 0; i < 48; ++i) xv.push_back(static_cast<double>((i * 7) % 11) / 4.0);
  Tensor x = make_f32({1, 1, 6, 8}, xv);
  const std::vector<double> bilinear = {1.078125,   1.31622024, 1.58059211, 1.29312865, 1.09126984, 1.20760234,
                                        1.29239766, 1.40873016, 1.20687135, 0.919407895, 1.18377976, 1.421875};
  const std::vector<double> bicubic = {1.01470018, 1.34757828, 1.59800635, 1.29812259, 1.03129268, 1.21450994,
                                       1.28549006, 1.46870732, 1.20187741, 0.901993647, 1.15242172, 1.48529982};
  for (const std::string mode : {"linear", "cubic"}) {
    auto r = run_single_op("Resize", {x, Tensor(), Tensor(), sizes_of({4, 3})},
                           {{"mode", mode}, {"antialias", int64_t{1}}, {"exclude_outside", int64_t{1}},
                            {"cubic_coeff_a", -0.5f}, {"axes", Ints{-2, -1}}},
                           1, {3});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_LT(max_abs_diff(r.outputs[0], make_f32({1, 1, 4, 3}, mode == "linear" ? bilinear : bicubic)), 1e-6) << mode;
  }
}

TEST(ImageResize, TfCropAndResizeWithExtrapolation) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 2, 5, 6}, rng);
  Tensor roi = Tensor::from_vector<float>(DataType::kFloat32, {4}, {0.2f, -0.3f, 0.9f, 0.8f});
  auto r = run_single_op("Resize", {x, roi, Tensor(), sizes_of({4, 5})},
                         {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                          {"extrapolation_value", 7.0f}, {"axes", Ints{2, 3}}},
                         1, {1, 3});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  std::vector<double> want;
  for (int64_t p = 0; p < 2; ++p) {
    for (int64_t i = 0; i < 4; ++i) {
      for (int64_t j = 0; j < 5; ++j) {
        const double sh = 0.2f * 4.0 + i * (static_cast<double>(0.9f) - static_cast<double>(0.2f)) * 4.0 / 3.0;
        const double sw = -0.3f * 5.0 + j * (static_cast<double>(0.8f) - static_cast<double>(-0.3f)) * 5.0 / 4.0;
        if (sh < 0 || sh > 4 || sw < 0 || sw > 5) {
          want.push_back(7.0);
          continue;
        }
        const Taps1 th = taps_at(sh, 5, false), tw = taps_at(sw, 6, false);
        double acc = 0;
        for (size_t a = 0; a < 2; ++a)
          for (size_t b = 0; b < 2; ++b) acc += th.w[a] * tw.w[b] * x.get_as_double(p * 30 + th.idx[a] * 6 + tw.idx[b]);
        want.push_back(acc);
      }
    }
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32({1, 2, 4, 5}, want)), 1e-6);
}

TEST(ImageResize, HalfPixelSymmetric) {
  // in 4, scale 0.6: output floor(2.4) = 2; offset = 2 * (1 - 2 / 2.4); src = offset + (o + 0.5) / 0.6 - 0.5.
  Tensor x = make_f32({4}, {1, 2, 4, 8});
  auto r = run_single_op("Resize", {x, Tensor(), scales_of({0.6f})},
                         {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("half_pixel_symmetric")}},
                         1, {2});
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  const double s = static_cast<double>(0.6f), width = static_cast<double>(0.6f * 4.0f);
  const double offset = 2 * (1 - 2 / width);
  std::vector<double> want;
  for (int64_t o = 0; o < 2; ++o) {
    const Taps1 t = taps_at(offset + (o + 0.5) / s - 0.5, 4, false);
    want.push_back(t.w[0] * x.get_as_double(t.idx[0]) + t.w[1] * x.get_as_double(t.idx[1]));
  }
  EXPECT_LT(rel_l2(r.outputs[0], make_f32({2}, want)), 1e-7);
}

TEST(ImageResize, KeepAspectRatioPolicies) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 1, 4, 6}, rng);
  auto smaller = run_single_op("Resize", {x, Tensor(), Tensor(), sizes_of({6, 6})},
                               {{"keep_aspect_ratio_policy", std::string("not_smaller")}, {"axes", Ints{2, 3}}}, 1, {3});
  ASSERT_TRUE(smaller.status.ok()) << smaller.status.to_string();
  EXPECT_EQ(smaller.outputs[0].shape(), (Ints{1, 1, 6, 9}));
  // Common scale 1.5 on both axes, nearest half_pixel round_prefer_floor.
  std::vector<Taps1> th, tw;
  auto near = [](double v, int64_t in) {
    const double f = std::floor(v);
    int64_t i = static_cast<int64_t>(v - f <= 0.5 ? f : f + 1);
    return Taps1{{std::min<int64_t>(std::max<int64_t>(i, 0), in - 1)}, {1.0}};
  };
  for (int64_t i = 0; i < 6; ++i) th.push_back(near((i + 0.5) / 1.5 - 0.5, 4));
  for (int64_t j = 0; j < 9; ++j) tw.push_back(near((j + 0.5) / 1.5 - 0.5, 6));
  EXPECT_EQ(max_abs_diff(smaller.outputs[0], resample2d(x, 6, 9, th, tw)), 0.0);
  auto larger = run_single_op("Resize", {x, Tensor(), Tensor(), sizes_of({6, 6})},
                              {{"keep_aspect_ratio_policy", std::string("not_larger")}, {"axes", Ints{2, 3}}}, 1, {3});
  ASSERT_TRUE(larger.status.ok()) << larger.status.to_string();
  EXPECT_EQ(larger.outputs[0].shape(), (Ints{1, 1, 4, 6}));
  EXPECT_EQ(max_abs_diff(larger.outputs[0], x), 0.0);
}

Result<Shape> resize_shape(Shape xs, const Tensor& scales, const Tensor& sizes) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, std::move(xs));
  Value* sc = scales.defined() ? g.add_initializer("scales", scales) : nullptr;
  Value* sz = sizes.defined() ? g.add_initializer("sizes", sizes) : nullptr;
  Node* n = g.add_node("Resize", "resize", {x, nullptr, sc, sz}, 1);
  g.add_output(n->output(0));
  Status s = infer_shapes(g);
  if (!s.ok()) return s;
  return g.outputs()[0]->shape();
}

TEST(ImageResizeShapes, SymbolicBatchAndStaticSpatial) {
  auto a = resize_shape({Dim::symbol("N"), 3, 4, 5}, scales_of({1, 1, 2, 1.5f}), Tensor());
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(shape_to_string(*a), "[N,3,8,7]");
  auto b = resize_shape({Dim::symbol("N"), 3, Dim::symbol("H"), 5}, scales_of({1, 1, 2, 1}), Tensor());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0], Dim::symbol("N"));
  // An integer scale keeps the size an expression of the symbol (an engine plans it from the
  // profile); a fractional one depends on floor() and becomes a fresh symbol.
  EXPECT_EQ((*b)[2], Dim::symbol("H") * Dim(2));
  EXPECT_EQ((*b)[3], Dim(5));
  auto half = resize_shape({1, 3, Dim::symbol("H"), 5}, scales_of({1, 1, 0.5f, 1}), Tensor());
  ASSERT_TRUE(half.ok());
  EXPECT_FALSE((*half)[2].is_static());
  EXPECT_TRUE((*half)[2].as_symbol().has_value());
  EXPECT_NE((*half)[2], Dim::symbol("H"));
  auto c = resize_shape({Dim::symbol("N"), 3, Dim::symbol("H"), 5}, Tensor(), sizes_of({1, 3, 10, 20}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(shape_to_string(*c), "[1,3,10,20]");
}

TEST(ImageResizeShapes, Errors) {
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {1, 1, 2, 2}, rng);
  auto both = run_single_op("Resize", {x, Tensor(), scales_of({1, 1, 2, 2}), sizes_of({1, 1, 4, 4})}, {}, 1, {2, 3});
  EXPECT_EQ(both.status.code(), StatusCode::kShapeError);
  EXPECT_NE(both.status.message().find("exactly one of scales and sizes"), std::string::npos);
  auto wrong_len = run_single_op("Resize", {x, Tensor(), scales_of({2, 2})}, {}, 1, {2});
  EXPECT_EQ(wrong_len.status.code(), StatusCode::kShapeError);
  auto bad_mode = run_single_op("Resize", {x, Tensor(), scales_of({1, 1, 2, 2})}, {{"mode", std::string("area")}}, 1, {2});
  EXPECT_EQ(bad_mode.status.code(), StatusCode::kUnsupported);
  EXPECT_NE(bad_mode.status.message().find("area"), std::string::npos);
}

}  // namespace
}  // namespace slimrt
