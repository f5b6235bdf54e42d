// GridSample against PyTorch's grid_sample (values computed once with torch 1.13 in float64 and
// embedded), plus shape inference and errors.
#include <gtest/gtest.h>

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

struct GridCase {
  const char* mode;
  const char* padding;
  int64_t align_corners;
  std::vector<float> want;  // [1, 2, 2, 3]
};

// x[i] = ((5 i) mod 13) / 4 - 1 on [1, 2, 3, 4]; the grid [1, 2, 3, 2] mixes inside and outside
// points. Bicubic is compared with zeros padding only: for points outside the image ONNX clips
// or reflects the coordinate before taking the taps, PyTorch does not.
const GridCase kCases[] = {
    {"bilinear", "zeros", 0, {0, 0.7475, 0, 1.0025, 0, 0.048125, 0, 0.56875, 0, 0.825, 0, 0.70875}},
    {"bilinear", "zeros", 1, {0.22, 1.4075, -0.28125, 0.960625, -0.1125, 0.494375, -0.11, 0.7425, 0.84375, 1.01875, 0.2, 0.755625}},
    {"bilinear", "border", 0, {0.225, 1.15, -0.5, 1.0025, -0.75, 0.06875, -0.05, 0.875, 1.5, 0.825, 1.25, 1.0125}},
    {"bilinear", "border", 1, {0.4, 1.4075, -0.5, 0.960625, -0.28125, 0.494375, -0.2, 0.7425, 1.5, 1.01875, 0.5, 0.755625}},
    {"bilinear", "reflection", 0, {0.35, 1.15, -0.5, 1.0025, -0.15, 0.06875, -0.0225, 0.875, 1.5, 0.825, 0.55, 1.0125}},
    {"bilinear", "reflection", 1, {0.9625, 1.4075, 0.303125, 0.960625, 0.61875, 0.494375, 0.07, 0.7425, 1.003125, 1.01875, 0.18125, 0.755625}},
    {"nearest", "zeros", 0, {0, 1.75, 0, 0, 0, -0.5, 0, 0.5, 0, 2, 0, 1.5}},
    {"nearest", "zeros", 1, {0.75, 1.75, -0.5, 0, 0, 1.25, -0.5, 0.5, 1.5, 2, 0, 0}},
    {"nearest", "border", 0, {0.75, 1.75, -0.5, 0, -0.75, -0.5, -0.5, 0.5, 1.5, 2, 1.25, 1.5}},
    {"nearest", "border", 1, {0.75, 1.75, -0.5, 0, -0.75, 1.25, -0.5, 0.5, 1.5, 2, 1.25, 0}},
    {"nearest", "reflection", 0, {0.75, 1.75, -0.5, 0, -0.75, -0.5, -0.5, 0.5, 1.5, 2, 1.25, 1.5}},
    {"nearest", "reflection", 1, {0.75, 1.75, -0.5, 0, 0.75, 1.25, -0.5, 0.5, 1.5, 2, -0.5, 0}},
    {"bicubic", "zeros", 0, {-0.0230774063, 1.00458869, 0, 1.17479478, 0.081, -0.0731117375, 0.0138016406, 0.656632006, 0,
                             1.11198759, -0.135, 0.827797175}},
    {"bicubic", "zeros", 1, {0.181897375, 1.61452447, -0.585001373, 1.02260653, -0.315459961, 0.624499042, -0.307523563,
                             0.842306344, 1.08684311, 1.44774512, 0.282201172, 0.781786327}},
};

TEST(ImageGridSample, MatchesPyTorch) {
  std::vector<float> xv;
  for (int i = 0; i < 24; ++i) xv.push_back(static_cast<float>((i * 5) % 13) / 4.0f - 1.0f);
  Tensor x = Tensor::from_vector<float>(DataType::kFloat32, {1, 2, 3, 4}, xv);
  Tensor grid = Tensor::from_vector<float>(DataType::kFloat32, {1, 2, 3, 2},
                                           {-1.3f, -0.2f, 0.4f, 0.9f, 1.25f, -1.1f, 0.05f, 0.3f, -0.75f, 1.6f, 0.9f, -0.45f});
  for (const GridCase& c : kCases) {
    // Opset 20 renamed bilinear / bicubic to linear / cubic; both spellings are accepted.
    const std::string old_name = c.mode;
    const std::string new_name = old_name == "bilinear" ? "linear" : old_name == "bicubic" ? "cubic" : old_name;
    for (const std::string& mode : {old_name, new_name}) {
      auto r = run_single_op("GridSample", {x, grid},
                             {{"mode", mode}, {"padding_mode", std::string(c.padding)}, {"align_corners", c.align_corners}});
      ASSERT_TRUE(r.status.ok()) << r.status.to_string();
      Tensor want = Tensor::from_vector<float>(DataType::kFloat32, {1, 2, 2, 3}, c.want);
      EXPECT_LT(max_abs_diff(r.outputs[0], want), 2e-6) << mode << " " << c.padding << " align " << c.align_corners;
    }
  }
}

TEST(ImageGridSample, IdentityGrid3d) {
  // align_corners=1 with grid points on the voxel centres reproduces X exactly.
  auto rng = make_rng();
  Tensor x = random_tensor(DataType::kFloat32, {2, 3, 2, 3, 4}, rng);
  std::vector<float> g;
  for (int n = 0; n < 2; ++n)
    for (int d = 0; d < 2; ++d)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 4; ++w) {
          g.push_back(static_cast<float>(w) / 3.0f * 2 - 1);
          g.push_back(static_cast<float>(h) / 2.0f * 2 - 1);
          g.push_back(static_cast<float>(d) * 2 - 1);
        }
  Tensor grid = Tensor::from_vector<float>(DataType::kFloat32, {2, 2, 3, 4, 3}, g);
  for (const std::string mode : {"linear", "nearest", "cubic"}) {
    auto r = run_single_op("GridSample", {x, grid}, {{"mode", mode}, {"align_corners", int64_t{1}}});
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_LT(max_abs_diff(r.outputs[0], x), 1e-6) << mode;
  }
}

TEST(ImageGridSample, ShapesAndErrors) {
  Graph g;
  Value* x = g.add_input("x", DataType::kFloat32, Shape{Dim::symbol("N"), 3, 8, 8});
  Value* grid = g.add_input("grid", DataType::kFloat32, Shape{Dim::symbol("N"), 5, 7, 2});
  Node* n = g.add_node("GridSample", "gs", {x, grid}, 1);
  g.add_output(n->output(0));
  ASSERT_TRUE(infer_shapes(g).ok());
  EXPECT_EQ(shape_to_string(g.outputs()[0]->shape()), "[N,3,5,7]");
  auto rng = make_rng();
  Tensor t = random_tensor(DataType::kFloat32, {1, 1, 4, 4}, rng);
  auto bad_last = run_single_op("GridSample", {t, random_tensor(DataType::kFloat32, {1, 2, 2, 3}, rng)}, {});
  EXPECT_EQ(bad_last.status.code(), StatusCode::kShapeError);
  EXPECT_NE(bad_last.status.message().find("last dim"), std::string::npos) << bad_last.status.message();
  auto bad_pad = run_single_op("GridSample", {t, random_tensor(DataType::kFloat32, {1, 2, 2, 2}, rng)},
                               {{"padding_mode", std::string("wrap")}});
  EXPECT_EQ(bad_pad.status.code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace slimrt
