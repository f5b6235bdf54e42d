// GPU tests of the index and image kernel families (src/cuda/kernels/index*.cu, image*.cu):
// every op against the CPU reference on fresh random inputs, over float and integer dtypes,
// odd shapes, negative axes and indices, attribute variants and zero-size tensors.
#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gpu/gpu_test_util.h"

namespace slimrt {
namespace {

using testing::OpCheck;
using testing::expect_cuda_matches_cpu;
using testing::random_tensor;

constexpr DataType kFloatTypes[] = {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16};

Attribute attr(int64_t v) { return Attribute(v); }
Attribute attr(const char* s) { return Attribute(std::string(s)); }

Tensor i64(std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  return Tensor::from_vector(DataType::kInt64, std::move(shape), v);
}

// Indices in [-dim, dim) of the given dtype (negative ones count from the end).
Tensor random_indices(DataType t, const std::vector<int64_t>& shape, int64_t dim, std::mt19937_64& rng) {
  return random_tensor(t, shape, rng, static_cast<double>(-dim), static_cast<double>(dim));
}

// ---- Gather -------------------------------------------------------------------------------------

TEST(CudaIndex, GatherEmbeddingFp16) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType it : {DataType::kInt64, DataType::kInt32}) {
    OpCheck c{"Gather"};
    c.inputs = {random_tensor(DataType::kFloat16, {1000, 768}, rng),
                random_tensor(it, {2, 37}, rng, 0, 1000)};
    c.constant_inputs = {0};
    expect_cuda_matches_cpu(c);
  }
}

TEST(CudaIndex, GatherAxesAndDtypes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<int64_t> shape = {3, 5, 7};
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt64, DataType::kInt8,
                     DataType::kBool, DataType::kFloat64}) {
    for (int64_t axis : {0, 1, 2, -1, -3}) {
      const int64_t dim = shape[static_cast<size_t>(axis < 0 ? axis + 3 : axis)];
      OpCheck c{"Gather"};
      c.inputs = {random_tensor(t, shape, rng), random_indices(DataType::kInt64, {4, 3}, dim, rng)};
      c.attrs = {{"axis", attr(axis)}};
      expect_cuda_matches_cpu(c);
    }
  }
}

TEST(CudaIndex, GatherScalarIndexAndOddRows) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kFloatTypes) {
    OpCheck c{"Gather"};
    c.inputs = {random_tensor(t, {2, 9, 33}, rng), i64({}, {-2})};
    c.attrs = {{"axis", attr(1)}};
    expect_cuda_matches_cpu(c);
    OpCheck d{"Gather"};
    d.inputs = {random_tensor(t, {257, 65}, rng), random_indices(DataType::kInt32, {5, 7}, 257, rng)};
    expect_cuda_matches_cpu(d);
  }
}

TEST(CudaIndex, GatherZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  OpCheck c{"Gather"};
  c.inputs = {random_tensor(DataType::kFloat32, {4, 6}, rng), random_tensor(DataType::kInt64, {0}, rng, 0, 4)};
  expect_cuda_matches_cpu(c);
  OpCheck d{"Gather"};
  d.inputs = {random_tensor(DataType::kFloat16, {4, 0}, rng), random_tensor(DataType::kInt64, {3}, rng, 0, 4)};
  expect_cuda_matches_cpu(d);
}

TEST(CudaIndex, GatherElements) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<int64_t> data_shape = {4, 5, 6};
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32}) {
    for (int64_t axis : {0, 1, -1}) {
      const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
      std::vector<int64_t> ind_shape = {3, 4, 5};  // smaller than data off the axis
      ind_shape[a] = 7;                           // any length along the axis
      for (DataType it : {DataType::kInt64, DataType::kInt32}) {
        OpCheck c{"GatherElements"};
        c.inputs = {random_tensor(t, data_shape, rng), random_indices(it, ind_shape, data_shape[a], rng)};
        c.attrs = {{"axis", attr(axis)}};
        expect_cuda_matches_cpu(c);
      }
    }
  }
  OpCheck z{"GatherElements"};
  z.inputs = {random_tensor(DataType::kFloat32, {3, 4}, rng), random_tensor(DataType::kInt64, {0, 4}, rng, 0, 3)};
  expect_cuda_matches_cpu(z);
}

TEST(CudaIndex, GatherND) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt64}) {
    // batch_dims 0, tuples of 1 and 2 of data [5, 6, 7].
    OpCheck c1{"GatherND"};
    c1.inputs = {random_tensor(t, {5, 6, 7}, rng), random_indices(DataType::kInt64, {3, 4, 1}, 5, rng)};
    expect_cuda_matches_cpu(c1);
    OpCheck c2{"GatherND"};
    c2.inputs = {random_tensor(t, {5, 6, 7}, rng), random_tensor(DataType::kInt64, {9, 2}, rng, -5, 5)};
    expect_cuda_matches_cpu(c2);
    OpCheck c3{"GatherND"};
    c3.inputs = {random_tensor(t, {5, 6, 7}, rng), random_tensor(DataType::kInt32, {2, 3}, rng, 0, 5)};
    expect_cuda_matches_cpu(c3);
    // batch_dims 1: data [3, 6, 7], indices [3, 4, 1].
    OpCheck c4{"GatherND"};
    c4.inputs = {random_tensor(t, {3, 6, 7}, rng), random_indices(DataType::kInt64, {3, 4, 1}, 6, rng)};
    c4.attrs = {{"batch_dims", attr(1)}};
    expect_cuda_matches_cpu(c4);
  }
}

// ---- Scatter ------------------------------------------------------------------------------------

// Indices for ScatterElements along `axis` without duplicates in any line along the axis (so
// reduction "none" has one answer), half of them negative.
Tensor unique_axis_indices(const std::vector<int64_t>& ind_shape, size_t axis, int64_t dim, std::mt19937_64& rng) {
  std::vector<int64_t> v(static_cast<size_t>(std::accumulate(ind_shape.begin(), ind_shape.end(), int64_t{1},
                                                             std::multiplies<int64_t>())));
  int64_t inner = 1;
  for (size_t d = axis + 1; d < ind_shape.size(); ++d) inner *= ind_shape[d];
  const int64_t n = ind_shape[axis];
  const int64_t outer = static_cast<int64_t>(v.size()) / std::max<int64_t>(1, n * inner);
  std::vector<int64_t> perm(static_cast<size_t>(dim));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      for (int64_t j = 0; j < n; ++j) {
        int64_t x = perm[static_cast<size_t>(j)];
        if (rng() % 2) x -= dim;
        v[static_cast<size_t>((o * n + j) * inner + i)] = x;
      }
    }
  }
  return i64(ind_shape, v);
}

TEST(CudaIndex, ScatterElements) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  const std::vector<int64_t> data_shape = {5, 6, 7};
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt32, DataType::kInt8}) {
    for (int64_t axis : {0, 2, -2}) {
      const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
      std::vector<int64_t> ind_shape = {4, 5, 6};
      ind_shape[a] = 3;
      for (const char* red : {"none", "add", "mul", "max", "min"}) {
        OpCheck c{"ScatterElements"};
        const bool none = std::string(red) == "none";
        const bool is_int = !dtype_is_float(t);
        c.inputs = {random_tensor(t, data_shape, rng, is_int ? -5 : -1, is_int ? 5 : 1),
                    none ? unique_axis_indices(ind_shape, a, data_shape[a], rng)
                         : random_indices(DataType::kInt64, ind_shape, data_shape[a], rng),
                    random_tensor(t, ind_shape, rng, is_int ? -3 : -1, is_int ? 3 : 1)};
        c.attrs = {{"axis", attr(axis)}, {"reduction", attr(red)}};
        expect_cuda_matches_cpu(c);
      }
    }
  }
}

TEST(CudaIndex, ScatterElementsInt32IndicesAndZeroSize) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  OpCheck c{"ScatterElements"};
  c.inputs = {random_tensor(DataType::kFloat32, {1, 257}, rng), random_tensor(DataType::kInt32, {1, 300}, rng, -257, 257),
              random_tensor(DataType::kFloat32, {1, 300}, rng)};
  c.attrs = {{"axis", attr(1)}, {"reduction", attr("add")}};
  expect_cuda_matches_cpu(c);
  OpCheck z{"ScatterElements"};
  z.inputs = {random_tensor(DataType::kFloat16, {3, 4}, rng), random_tensor(DataType::kInt64, {0, 4}, rng, 0, 3),
              random_tensor(DataType::kFloat16, {0, 4}, rng)};
  expect_cuda_matches_cpu(z);
}

TEST(CudaIndex, ScatterND) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kInt64, DataType::kUInt8}) {
    const bool is_int = !dtype_is_float(t);
    for (const char* red : {"none", "add", "mul", "max", "min"}) {
      // Unique tuples of 2 into data [6, 5, 7]; half of them written as negative indices.
      std::vector<int64_t> flat(30);
      std::iota(flat.begin(), flat.end(), 0);
      std::shuffle(flat.begin(), flat.end(), rng);
      std::vector<int64_t> tuples;
      for (int i = 0; i < 8; ++i) {
        const int64_t r = flat[static_cast<size_t>(i)] / 5, q = flat[static_cast<size_t>(i)] % 5;
        tuples.push_back(i % 2 ? r - 6 : r);
        tuples.push_back(q);
      }
      OpCheck c{"ScatterND"};
      c.inputs = {random_tensor(t, {6, 5, 7}, rng, is_int ? 0 : -1, is_int ? 6 : 1), i64({2, 4, 2}, tuples),
                  random_tensor(t, {2, 4, 7}, rng, is_int ? 0 : -1, is_int ? 4 : 1)};
      c.attrs = {{"reduction", attr(red)}};
      expect_cuda_matches_cpu(c);
      if (std::string(red) != "none") {
        // Duplicate tuples of 1 combine.
        OpCheck d{"ScatterND"};
        d.inputs = {random_tensor(t, {6, 5, 7}, rng, is_int ? 0 : -1, is_int ? 6 : 1),
                    random_tensor(DataType::kInt32, {9, 1}, rng, -6, 6),
                    random_tensor(t, {9, 5, 7}, rng, is_int ? 0 : -1, is_int ? 3 : 1)};
        d.attrs = {{"reduction", attr(red)}};
        expect_cuda_matches_cpu(d);
      }
    }
  }
}

// ---- Generators ---------------------------------------------------------------------------------

TEST(CudaIndex, Range) {
  SLIMRT_SKIP_WITHOUT_GPU();
  {
    OpCheck c{"Range"};
    c.inputs = {Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{-1.5f}),
                Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{40.0f}),
                Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.37f})};
    c.constant_inputs = {0, 1, 2};
    expect_cuda_matches_cpu(c);
  }
  {
    OpCheck c{"Range"};
    c.inputs = {i64({}, {7}), i64({}, {-300}), i64({}, {-3})};
    c.constant_inputs = {0, 1, 2};
    expect_cuda_matches_cpu(c);
  }
  {
    OpCheck c{"Range"};
    c.inputs = {Tensor::from_vector(DataType::kInt32, {}, std::vector<int32_t>{5}),
                Tensor::from_vector(DataType::kInt32, {}, std::vector<int32_t>{5}),
                Tensor::from_vector(DataType::kInt32, {}, std::vector<int32_t>{1})};
    c.constant_inputs = {0, 1, 2};
    expect_cuda_matches_cpu(c);  // empty
  }
}

TEST(CudaIndex, ConstantOfShape) {
  SLIMRT_SKIP_WITHOUT_GPU();
  {
    OpCheck c{"ConstantOfShape"};
    c.inputs = {i64({3}, {3, 5, 7})};
    c.constant_inputs = {0};
    expect_cuda_matches_cpu(c);
  }
  {
    OpCheck c{"ConstantOfShape"};
    c.inputs = {i64({2}, {1, 257})};
    c.constant_inputs = {0};
    c.attrs = {{"value", Attribute(Tensor::from_vector(DataType::kFloat16, {1}, std::vector<uint16_t>{float_to_half(2.5f)}))}};
    expect_cuda_matches_cpu(c);
  }
  {
    OpCheck c{"ConstantOfShape"};
    c.inputs = {i64({2}, {4, 9})};
    c.constant_inputs = {0};
    c.attrs = {{"value", Attribute(Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{-7}))}};
    expect_cuda_matches_cpu(c);
  }
  {
    OpCheck c{"ConstantOfShape"};
    c.inputs = {i64({2}, {0, 9})};
    c.constant_inputs = {0};
    c.attrs = {{"value", Attribute(Tensor::from_vector(DataType::kFloat32, {1}, std::vector<float>{1.0f}))}};
    expect_cuda_matches_cpu(c);
  }
}

TEST(CudaIndex, EyeLike) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (int64_t k : {0, 2, -3, 9}) {
    OpCheck c{"EyeLike"};
    c.inputs = {random_tensor(DataType::kFloat32, {5, 7}, rng)};
    c.attrs = {{"k", attr(k)}};
    expect_cuda_matches_cpu(c);
  }
  for (DataType t : {DataType::kFloat16, DataType::kBFloat16, DataType::kInt32, DataType::kInt64, DataType::kBool}) {
    OpCheck c{"EyeLike"};
    c.inputs = {random_tensor(DataType::kFloat32, {33, 17}, rng)};
    c.attrs = {{"dtype", attr(static_cast<int64_t>(t))}, {"k", attr(int64_t{-1})}};
    expect_cuda_matches_cpu(c);
  }
}

TEST(CudaIndex, OneHot) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (int64_t axis : {-1, 0, 1}) {
    for (DataType it : {DataType::kInt64, DataType::kInt32, DataType::kFloat32}) {
      OpCheck c{"OneHot"};
      // Some indices fall outside [-depth, depth): their rows stay `off`.
      c.inputs = {random_tensor(it, {3, 5}, rng, -12, 12), i64({}, {10}),
                  Tensor::from_vector(DataType::kFloat32, {2}, std::vector<float>{-0.5f, 3.0f})};
      c.constant_inputs = {1};
      c.attrs = {{"axis", attr(axis)}};
      expect_cuda_matches_cpu(c);
    }
  }
  OpCheck c{"OneHot"};
  c.inputs = {random_tensor(DataType::kInt64, {7}, rng, 0, 9), i64({1}, {9}), i64({2}, {0, 1})};
  c.constant_inputs = {1, 2};
  expect_cuda_matches_cpu(c);
}

// ---- Resize -------------------------------------------------------------------------------------

Tensor f32(std::vector<int64_t> shape, const std::vector<float>& v) {
  return Tensor::from_vector(DataType::kFloat32, std::move(shape), v);
}

// Resize of x with scales (or sizes when `sizes` is non-empty) and the given attributes.
void check_resize(const Tensor& x, const std::vector<float>& scales, const std::vector<int64_t>& sizes,
                  std::vector<std::pair<std::string, Attribute>> attrs, const std::vector<float>& roi = {}) {
  OpCheck c{"Resize"};
  c.inputs = {x, roi.empty() ? Tensor() : f32({static_cast<int64_t>(roi.size())}, roi),
              scales.empty() ? Tensor() : f32({static_cast<int64_t>(scales.size())}, scales),
              sizes.empty() ? Tensor() : i64({static_cast<int64_t>(sizes.size())}, sizes)};
  if (!roi.empty()) c.constant_inputs.push_back(1);
  if (!scales.empty()) c.constant_inputs.push_back(2);
  if (!sizes.empty()) c.constant_inputs.push_back(3);
  c.attrs = std::move(attrs);
  expect_cuda_matches_cpu(c);
}

TEST(CudaIndex, ResizeNearestModes) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kFloatTypes) {
    const Tensor x = random_tensor(t, {2, 3, 13, 17}, rng);
    for (const char* nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      for (const char* ctm : {"half_pixel", "asymmetric", "align_corners", "tf_half_pixel_for_nn", "pytorch_half_pixel"}) {
        check_resize(x, {1, 1, 2.0f, 1.5f}, {}, {{"mode", attr("nearest")}, {"nearest_mode", attr(nm)},
                                                 {"coordinate_transformation_mode", attr(ctm)}});
      }
    }
    check_resize(x, {}, {2, 3, 7, 30}, {{"mode", attr("nearest")}});
  }
  // Integers move exactly.
  check_resize(random_tensor(DataType::kUInt8, {1, 3, 9, 11}, rng, 0, 255), {1, 1, 3.0f, 0.5f}, {},
               {{"mode", attr("nearest")}});
}

TEST(CudaIndex, ResizeLinearAndCubic) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kFloatTypes) {
    const Tensor x = random_tensor(t, {2, 3, 12, 9}, rng);
    for (const char* mode : {"linear", "cubic"}) {
      for (const char* ctm : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric"}) {
        check_resize(x, {1, 1, 1.75f, 0.6f}, {}, {{"mode", attr(mode)}, {"coordinate_transformation_mode", attr(ctm)}});
      }
      check_resize(x, {}, {2, 3, 25, 4}, {{"mode", attr(mode)}});
    }
    check_resize(x, {1, 1, 2.0f, 2.0f}, {}, {{"mode", attr("cubic")}, {"cubic_coeff_a", Attribute(-0.5f)},
                                             {"exclude_outside", attr(int64_t{1})}});
  }
  // fp64 and integer data accumulate in double like the CPU reference.
  check_resize(random_tensor(DataType::kFloat64, {1, 2, 7, 5}, rng), {1, 1, 1.5f, 2.5f}, {}, {{"mode", attr("linear")}});
  check_resize(random_tensor(DataType::kInt32, {1, 2, 7, 5}, rng, -1000, 1000), {1, 1, 2.0f, 2.0f}, {},
               {{"mode", attr("linear")}, {"coordinate_transformation_mode", attr("align_corners")}});
}

TEST(CudaIndex, ResizeAntialiasAxesPolicyCrop) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : {DataType::kFloat32, DataType::kFloat16}) {
    const Tensor x = random_tensor(t, {1, 3, 33, 65}, rng);
    for (const char* mode : {"linear", "cubic"}) {
      check_resize(x, {1, 1, 0.3f, 0.45f}, {}, {{"mode", attr(mode)}, {"antialias", attr(int64_t{1})}});
    }
    // axes: only H and W listed (negative), sizes with aspect-ratio policies.
    for (const char* policy : {"stretch", "not_larger", "not_smaller"}) {
      check_resize(x, {}, {20, 30}, {{"mode", attr("linear")}, {"axes", Attribute(std::vector<int64_t>{-2, -1})},
                                     {"keep_aspect_ratio_policy", attr(policy)}});
    }
    check_resize(x, {}, {1, 3, 10, 14},
                 {{"mode", attr("linear")}, {"coordinate_transformation_mode", attr("tf_crop_and_resize")},
                  {"extrapolation_value", Attribute(-2.0f)}},
                 {0, 0, -0.2f, 0.1f, 1, 1, 0.8f, 1.3f});
  }
  // 3-D input, every axis resized; a zero-size output.
  check_resize(random_tensor(DataType::kFloat32, {5, 7, 9}, rng), {1.4f, 0.5f, 2.0f}, {}, {{"mode", attr("linear")}});
  check_resize(random_tensor(DataType::kFloat32, {1, 2, 4, 4}, rng), {}, {1, 2, 0, 4}, {{"mode", attr("nearest")}});
}

// ---- GridSample ---------------------------------------------------------------------------------

TEST(CudaIndex, GridSample) {
  SLIMRT_SKIP_WITHOUT_GPU();
  auto rng = testing::make_rng();
  for (DataType t : kFloatTypes) {
    const Tensor x = random_tensor(t, {2, 3, 11, 13}, rng);
    // The grid reaches past [-1, 1] so every padding mode matters.
    const Tensor grid = random_tensor(DataType::kFloat32, {2, 7, 9, 2}, rng, -1.3, 1.3);
    for (const char* mode : {"linear", "nearest", "cubic"}) {
      for (const char* pad : {"zeros", "border", "reflection"}) {
        for (int64_t align : {0, 1}) {
          OpCheck c{"GridSample"};
          c.inputs = {x, grid};
          c.attrs = {{"mode", attr(mode)}, {"padding_mode", attr(pad)}, {"align_corners", attr(align)}};
          expect_cuda_matches_cpu(c);
        }
      }
    }
  }
  OpCheck c{"GridSample"};
  c.inputs = {random_tensor(DataType::kFloat32, {1, 2, 5, 5}, rng), random_tensor(DataType::kFloat32, {1, 0, 3, 2}, rng)};
  expect_cuda_matches_cpu(c);
}

}  // namespace
}  // namespace slimrt
