// The CUDA tensor family (src/cuda/kernels/tensor*.cu) against the CPU reference: shape queries,
// views, Transpose (tiled, row-permute and generic paths), Concat, Split, Slice, Pad, Expand,
// Tile, DepthToSpace, SpaceToDepth and Trilu, over float and integer dtypes, odd sizes and
// zero-size tensors.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gpu/gpu_test_util.h"

namespace slimrt {
namespace {

using testing::expect_cuda_matches_cpu;
using testing::OpCheck;
using testing::random_tensor;

const std::vector<DataType> kFloats = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};
const std::vector<DataType> kMoved = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                                      DataType::kInt64,   DataType::kInt32,   DataType::kUInt8,
                                      DataType::kBool,    DataType::kFloat64};

Tensor ints(const std::vector<int64_t>& v) {
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v);
}

Tensor random_of(DataType t, const std::vector<int64_t>& shape, std::mt19937_64& rng) {
  if (dtype_is_integer(t)) return random_tensor(t, shape, rng, t == DataType::kUInt8 ? 0 : -100, 100);
  return random_tensor(t, shape, rng);
}

// A check of `type` on `inputs` (named fields: aggregate init would warn about the rest).
OpCheck op(std::string type, std::vector<Tensor> inputs = {}) {
  OpCheck c;
  c.op_type = std::move(type);
  c.inputs = std::move(inputs);
  return c;
}

Attribute ints_attr(std::vector<int64_t> v) { return Attribute(std::move(v)); }
Attribute int_attr(int64_t v) { return Attribute(v); }
Attribute str_attr(const char* s) { return Attribute(std::string(s)); }

// ---- shape queries and views ----------------------------------------------------------------

TEST(CudaTensor, ShapeAndSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const Tensor x = random_of(DataType::kFloat16, {2, 3, 5, 7}, rng);
  expect_cuda_matches_cpu(op("Shape", {x}));
  const std::vector<std::pair<int64_t, int64_t>> bounds = {{1, 3}, {-2, 4}, {0, -1}, {-10, 10}, {3, 1}};
  for (const auto& [start, end] : bounds) {
    OpCheck c = op("Shape", {x});
    c.attrs = {{"start", int_attr(start)}, {"end", int_attr(end)}};
    expect_cuda_matches_cpu(c);
  }
  expect_cuda_matches_cpu(op("Size", {x}));
  expect_cuda_matches_cpu(op("Size", {random_of(DataType::kFloat32, {3, 0, 5}, rng)}));
  expect_cuda_matches_cpu(op("Shape", {random_of(DataType::kFloat32, {3, 0, 5}, rng)}));
}

TEST(CudaTensor, Views) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kMoved) {
    const Tensor x = random_of(t, {3, 5, 7}, rng);
    OpCheck reshape = op("Reshape", {x, ints({5, -1})});
    reshape.constant_inputs = {1};
    expect_cuda_matches_cpu(reshape);
    OpCheck reshape0 = op("Reshape", {x, ints({0, 7, 5})});
    reshape0.constant_inputs = {1};
    expect_cuda_matches_cpu(reshape0);
    OpCheck flatten = op("Flatten", {x});
    flatten.attrs = {{"axis", int_attr(-1)}};
    expect_cuda_matches_cpu(flatten);
    OpCheck unsqueeze = op("Unsqueeze", {x, ints({0, -1})});
    unsqueeze.constant_inputs = {1};
    expect_cuda_matches_cpu(unsqueeze);
    expect_cuda_matches_cpu(op("Identity", {x}));
  }
  OpCheck squeeze = op("Squeeze", {random_of(DataType::kFloat16, {1, 257, 1}, rng), ints({-1})});
  squeeze.constant_inputs = {1};
  expect_cuda_matches_cpu(squeeze);
  expect_cuda_matches_cpu(op("Squeeze", {random_of(DataType::kBFloat16, {1, 33, 1, 2}, rng)}));
  OpCheck empty = op("Reshape", {random_of(DataType::kFloat32, {0, 6}, rng), ints({3, 0, 2})});
  empty.constant_inputs = {1};
  empty.attrs = {{"allowzero", int_attr(1)}};
  expect_cuda_matches_cpu(empty);
}

// ---- Transpose ------------------------------------------------------------------------------

TEST(CudaTensor, TransposeLastTwo) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<std::vector<int64_t>> shapes = {{3, 5, 7}, {2, 3, 33, 65}, {4, 64, 129}, {1, 257}};
  for (DataType t : kMoved) {
    for (const auto& s : shapes) {
      std::vector<int64_t> perm;
      for (size_t k = 0; k < s.size(); ++k) perm.push_back(static_cast<int64_t>(k));
      std::swap(perm[s.size() - 1], perm[s.size() - 2]);
      OpCheck c = op("Transpose", {random_of(t, s, rng)});
      c.attrs = {{"perm", ints_attr(perm)}};
      expect_cuda_matches_cpu(c);
    }
  }
  // No perm: all axes reversed.
  expect_cuda_matches_cpu(op("Transpose", {random_of(DataType::kFloat16, {9, 40, 37}, rng)}));
}

TEST(CudaTensor, TransposeAttentionLayouts) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  // [B,S,H,D] -> [B,H,S,D], its inverse, and K^T ([B,S,H,D] -> [B,H,D,S]).
  const std::vector<std::vector<int64_t>> perms = {{0, 2, 1, 3}, {0, 2, 3, 1}, {0, 1, 3, 2}};
  const std::vector<std::vector<int64_t>> shapes = {{2, 197, 12, 64}, {2, 11, 3, 5}, {1, 33, 4, 24}};
  for (DataType t : kFloats) {
    for (const auto& s : shapes) {
      for (const auto& p : perms) {
        OpCheck c = op("Transpose", {random_of(t, s, rng)});
        c.attrs = {{"perm", ints_attr(p)}};
        expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaTensor, TransposeGeneric) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{2, 3, 4, 5}, {3, 1, 0, 2}},          {{2, 16, 9, 10}, {0, 2, 3, 1}},  // NCHW -> NHWC
      {{2, 9, 10, 16}, {0, 3, 1, 2}},        {{3, 5, 7, 2, 3}, {4, 2, 0, 3, 1}},
      {{2, 1, 3, 1, 5, 1, 7}, {6, 5, 4, 3, 2, 1, 0}}, {{5, 1, 9}, {1, 0, 2}},
  };
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kInt64, DataType::kUInt8}) {
    for (const auto& [s, p] : cases) {
      OpCheck c = op("Transpose", {random_of(t, s, rng)});
      c.attrs = {{"perm", ints_attr(p)}};
      expect_cuda_matches_cpu(c);
    }
  }
  OpCheck empty = op("Transpose", {random_of(DataType::kFloat32, {0, 3, 5}, rng)});
  empty.attrs = {{"perm", ints_attr({2, 0, 1})}};
  expect_cuda_matches_cpu(empty);
}

// ---- Concat / Split -------------------------------------------------------------------------

TEST(CudaTensor, Concat) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kMoved) {
    for (int64_t axis : {0, 1, 2, -1}) {
      OpCheck c = op("Concat");
      for (int64_t n : {3, 1, 5, 0, 8}) {
        std::vector<int64_t> s = {2, 5, 7};
        s[static_cast<size_t>(axis < 0 ? axis + 3 : axis)] = n;
        c.inputs.push_back(random_of(t, s, rng));
      }
      c.attrs = {{"axis", int_attr(axis)}};
      expect_cuda_matches_cpu(c);
    }
  }
  // The ViT class token: [B,1,D] ++ [B,196,D] along axis 1.
  OpCheck vit = op("Concat", {random_of(DataType::kFloat16, {2, 1, 768}, rng), random_of(DataType::kFloat16, {2, 196, 768}, rng)});
  vit.attrs = {{"axis", int_attr(1)}};
  expect_cuda_matches_cpu(vit);
}

TEST(CudaTensor, Split) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kMoved) {
    OpCheck c = op("Split", {random_of(t, {3, 10, 7}, rng), ints({2, 0, 5, 3})});
    c.attrs = {{"axis", int_attr(1)}};
    c.constant_inputs = {1};
    c.num_outputs = 4;
    expect_cuda_matches_cpu(c);
  }
  for (DataType t : kFloats) {
    OpCheck c = op("Split", {random_of(t, {2, 5, 2304}, rng)});  // BERT's fused QKV
    c.attrs = {{"axis", int_attr(-1)}, {"num_outputs", int_attr(3)}};
    c.num_outputs = 3;
    expect_cuda_matches_cpu(c);
    OpCheck uneven = op("Split", {random_of(t, {7, 3}, rng)});
    uneven.attrs = {{"axis", int_attr(0)}, {"num_outputs", int_attr(3)}};
    uneven.num_outputs = 3;
    expect_cuda_matches_cpu(uneven);
  }
}

// ---- Slice ----------------------------------------------------------------------------------

TEST(CudaTensor, Slice) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const int64_t big = INT64_MAX;
  const std::vector<Case> cases = {
      {{1, 0}, {3, 5}, {0, 1}, {1, 1}},
      {{0}, {big}, {-1}, {2}},
      {{-1}, {-big}, {2}, {-1}},                  // reversed last axis
      {{4, -2}, {0, -100}, {1, 0}, {-2, -1}},     // negative steps on two axes
      {{-100, 2}, {100, 4}, {0, 2}, {1, 1}},      // clamping
      {{1, 1, 1}, {2, 4, 6}, {0, 1, 2}, {1, 3, 2}},
      {{3}, {3}, {1}, {1}},                       // empty result
  };
  for (DataType t : kMoved) {
    for (const Case& k : cases) {
      OpCheck c = op("Slice", {random_of(t, {3, 5, 7}, rng), ints(k.starts), ints(k.ends), ints(k.axes), ints(k.steps)});
      c.constant_inputs = {1, 2, 3, 4};
      expect_cuda_matches_cpu(c);
    }
  }
  // Omitted axes and steps; a contiguous row block (one memcpy) and a column block (vectorised).
  OpCheck rows = op("Slice", {random_of(DataType::kFloat16, {16, 64}, rng), ints({3}), ints({11})});
  rows.constant_inputs = {1, 2};
  expect_cuda_matches_cpu(rows);
  OpCheck cols = op("Slice", {random_of(DataType::kFloat16, {16, 64}, rng), ints({0, 8}), ints({16, 40})});
  cols.constant_inputs = {1, 2};
  expect_cuda_matches_cpu(cols);
}

// ---- Pad ------------------------------------------------------------------------------------

TEST(CudaTensor, PadModes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<std::vector<int64_t>> pads = {{1, 2, 0, 3, 1, 2}, {0, 0, 2, 0, 0, 3}, {2, -1, 1, -2, 3, 0}};
  for (const char* mode : {"constant", "reflect", "edge", "wrap"}) {
    for (DataType t : kMoved) {
      for (const auto& p : pads) {
        OpCheck c = op("Pad", {random_of(t, {3, 5, 7}, rng), ints(p)});
        c.constant_inputs = {1};
        c.attrs = {{"mode", str_attr(mode)}};
        expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaTensor, PadConstantValueAndAxes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kMoved) {
    const Tensor value = random_of(t, {}, rng);
    OpCheck c = op("Pad", {random_of(t, {2, 3, 33, 65}, rng), ints({1, 2, 3, 0}), value, ints({-1, 2})});
    c.constant_inputs = {1, 2, 3};
    expect_cuda_matches_cpu(c);
  }
  // A zero-size input padded with the constant: every output element is the fill.
  OpCheck empty = op("Pad", {random_of(DataType::kFloat32, {0, 3}, rng), ints({1, 0, 1, 0}),
                        Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{2.5f})});
  empty.constant_inputs = {1, 2};
  expect_cuda_matches_cpu(empty);
  OpCheck reflect = op("Pad", {random_of(DataType::kFloat16, {1, 1, 1, 9}, rng), ints({0, 0, 0, 20, 0, 0, 0, 20})});
  reflect.constant_inputs = {1};
  reflect.attrs = {{"mode", str_attr("reflect")}};
  expect_cuda_matches_cpu(reflect);
}

// ---- Expand / Tile --------------------------------------------------------------------------

TEST(CudaTensor, Expand) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{3, 1, 5}, {2, 3, 4, 5}}, {{1, 257}, {6, 257}}, {{7, 1}, {1, 7, 9}},
      {{3, 5}, {1, 1}},          {{1}, {2, 3, 33}},     {{2, 1, 64}, {2, 12, 64}},
  };
  for (DataType t : kMoved) {
    for (const auto& [in, shape] : cases) {
      OpCheck c = op("Expand", {random_of(t, in, rng), ints(shape)});
      c.constant_inputs = {1};
      expect_cuda_matches_cpu(c);
    }
  }
  OpCheck empty = op("Expand", {random_of(DataType::kFloat16, {3, 1}, rng), ints({0, 3, 4})});
  empty.constant_inputs = {1};
  expect_cuda_matches_cpu(empty);
}

TEST(CudaTensor, Tile) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{3, 5, 7}, {2, 1, 3}}, {{1, 257}, {4, 1}}, {{5, 8}, {1, 3}}, {{2, 3}, {0, 2}}, {{4}, {1}},
  };
  for (DataType t : kMoved) {
    for (const auto& [in, reps] : cases) {
      OpCheck c = op("Tile", {random_of(t, in, rng), ints(reps)});
      c.constant_inputs = {1};
      expect_cuda_matches_cpu(c);
    }
  }
}

// ---- DepthToSpace / SpaceToDepth ------------------------------------------------------------

TEST(CudaTensor, DepthSpace) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt64}) {
    for (const char* mode : {"DCR", "CRD"}) {
      for (int64_t b : {2, 3}) {
        OpCheck c = op("DepthToSpace", {random_of(t, {2, 2 * b * b, 3, 5}, rng)});
        c.attrs = {{"blocksize", int_attr(b)}, {"mode", str_attr(mode)}};
        expect_cuda_matches_cpu(c);
      }
    }
    for (int64_t b : {2, 3}) {
      OpCheck c = op("SpaceToDepth", {random_of(t, {2, 3, 3 * b, 4 * b}, rng)});
      c.attrs = {{"blocksize", int_attr(b)}};
      expect_cuda_matches_cpu(c);
    }
  }
}

// ---- Trilu ----------------------------------------------------------------------------------

TEST(CudaTensor, Trilu) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kMoved) {
    for (int64_t upper : {0, 1}) {
      for (int64_t k : {0, -1, 2, 100, -100}) {
        OpCheck c = op("Trilu", {random_of(t, {2, 5, 7}, rng), Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{k})});
        c.attrs = {{"upper", int_attr(upper)}};
        c.constant_inputs = {1};
        expect_cuda_matches_cpu(c);
      }
      OpCheck no_k = op("Trilu", {random_of(t, {33, 65}, rng)});
      no_k.attrs = {{"upper", int_attr(upper)}};
      expect_cuda_matches_cpu(no_k);
    }
  }
  expect_cuda_matches_cpu(op("Trilu", {random_of(DataType::kFloat32, {3, 0, 4}, rng)}));
}

}  // namespace
}  // namespace slimrt
